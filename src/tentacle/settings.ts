import {
  type ConfEntries,
  resolveSettings,
  type Settings,
  type SettingsTable,
} from '../core/index.js';
import { MAX_LINE_BYTES } from './parser.js';

/**
 * The Tentacle server's settings: the Perl server's options and config keys (spec §9.1) with
 * their defaults, plus a few extensions. One table drives the config file (`-F`), the long
 * command-line flags and `--help`; `options.ts` turns the resolved values into the
 * configuration the server runs on.
 */

export const DEFAULT_PORT = 41121;
export const DEFAULT_MAX_SIZE_BYTES = 2_000_000;
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;
export const DEFAULT_FILE_MODE = 0o640;
/**
 * Accepted connections that may wait for a slot. A waiting connection is a paused socket (one
 * descriptor, no buffer, no timer), so a burst of agents waits instead of failing.
 */
export const DEFAULT_MAX_WAITING = 1024;
/** The balancer writes the PROXY header as soon as it connects: a late one is not coming. */
export const DEFAULT_PROXY_PROTOCOL_TIMEOUT_SEC = 3;
/**
 * Sessions served at once. The reference's 10 is its thread count; a session here is one socket
 * and one small object (measured in docs/tentacle-server.md#connection-limit-timeouts-and-memory),
 * so the limit is set by what a hostile crowd may hold in memory, not by threads.
 */
export const DEFAULT_MAX_CONNECTIONS = 2048;
/** One address may hold this many connections (served or waiting); 0 = no cap. */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 64;
/** Seconds from accept to the first byte, and from a command line's first byte to its LF. */
export const DEFAULT_FIRST_BYTE_TIMEOUT_SEC = 3;
export const DEFAULT_COMMAND_TIMEOUT_SEC = 3;
/** Longest delay before the password of an address that keeps failing is checked. */
export const DEFAULT_PASS_DELAY_MAX_SEC = 10;
/** The reference's 15 forbidden file-name bytes (§4.1), as the body of a regex class. */
export const DEFAULT_INVALID_CHARS = "?\\[\\]/\\\\=+<>:;',*~";

export const TENTACLE_SETTINGS = {
  addresses: {
    kind: 'string',
    default: '0,0.0.0.0',
    help: 'comma-separated listen addresses; 0 = all (IPv6 dual-stack)',
  },
  port: { kind: 'int', default: DEFAULT_PORT, min: 0, max: 65535, help: 'listen port' },
  directory: { kind: 'string', help: 'storage (incoming) folder; required unless proxying' },
  max_connections: {
    kind: 'int',
    default: DEFAULT_MAX_CONNECTIONS,
    min: 1,
    help: 'connections served at once; extra ones wait unserved (the reference: 10)',
  },
  max_size: {
    kind: 'int',
    default: DEFAULT_MAX_SIZE_BYTES,
    min: 1,
    help: 'largest SEND/ZSEND size in bytes',
  },
  overwrite: { kind: 'bool', default: false, help: 'allow overwriting existing files' },
  timeout: {
    kind: 'int',
    default: 1,
    min: 1,
    help: 'seconds per wait; idle limit = timeout x (retries+1)',
  },
  retries: { kind: 'int', default: 3, min: 1, help: 'extra waits before an idle peer is dropped' },
  password: { kind: 'string', secret: true, help: 'password (PASS, double MD5); empty = none' },
  ssl_cert: { kind: 'string', help: 'TLS certificate (PEM); turns implicit TLS on' },
  ssl_key: { kind: 'string', help: 'TLS private key (PEM); default: read it from ssl_cert' },
  ssl_ca: { kind: 'string', help: 'CA (PEM); client certificates signed by it are required' },
  ssl_password: { kind: 'bool', default: false, help: 'ask for the key passphrase at startup' },
  ssl_version: { kind: 'string', help: 'allowed TLS version(s), e.g. TLSv1_3 or TLSv1_2:TLSv1_3' },
  ssl_cipher: { kind: 'string', help: 'OpenSSL cipher list (TLS 1.2 and below)' },
  filters: { kind: 'string', help: 'regex:dir;regex:dir... (unanchored, first match wins)' },
  insecure: { kind: 'bool', default: false, help: 'enable LS and MV' },
  proxy_ip: { kind: 'string', help: 'proxy mode: relay every session to this server' },
  proxy_port: {
    kind: 'int',
    default: DEFAULT_PORT,
    min: 1,
    max: 65535,
    help: 'proxy upstream port',
  },
  daemon: { kind: 'bool', default: false, help: 'run in the background' },
  log_file: { kind: 'string', help: 'append logs to this file (SIGHUP reopens it)' },
  quiet: { kind: 'bool', default: false, help: 'log nothing but fatal errors' },
  verbose: { kind: 'int', default: 0, min: 0, max: 2, help: 'log detail: 0, 1 (-v) or 2 (-V)' },
  use_libwrap: { kind: 'bool', default: false, help: 'TCP wrappers (not supported)' },
  block_size: {
    kind: 'int',
    default: MAX_LINE_BYTES,
    min: 64,
    max: 65536,
    help: 'longest command line in bytes, LF included',
  },
  invalid_chars: { kind: 'string', help: 'regex class body of forbidden file-name characters' },
  sync: {
    kind: 'string',
    default: 'always',
    values: ['always', 'none'],
    extension: true,
    help: 'durability before the final OK: always (fsync file+folder) or none',
  },
  transfer_timeout: {
    kind: 'int',
    default: 120,
    min: 1,
    extension: true,
    help: 'seconds a command may take from its first byte to its last reply',
  },
  max_decompressed_size: {
    kind: 'int',
    default: DEFAULT_MAX_DECOMPRESSED_BYTES,
    min: 1,
    extension: true,
    help: 'largest ZSEND file after decompression, in bytes',
  },
  file_mode: {
    kind: 'string',
    default: '0640',
    extension: true,
    help: 'permissions of stored files (octal)',
  },
  max_waiting_connections: {
    kind: 'int',
    default: DEFAULT_MAX_WAITING,
    min: 0,
    extension: true,
    help: 'accepted connections that may wait for a slot; more are closed at once',
  },
  max_connections_per_address: {
    kind: 'int',
    default: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    min: 0,
    extension: true,
    help: 'connections one client address may hold, served or waiting; more are closed at once; 0 = no cap (behind a balancer without PROXY)',
  },
  first_byte_timeout: {
    kind: 'int',
    default: DEFAULT_FIRST_BYTE_TIMEOUT_SEC,
    min: 1,
    extension: true,
    help: 'seconds a new connection may take to send its first byte',
  },
  command_timeout: {
    kind: 'int',
    default: DEFAULT_COMMAND_TIMEOUT_SEC,
    min: 1,
    extension: true,
    help: 'seconds a command line may take from its first byte to its end (bodies: transfer_timeout)',
  },
  pass_delay_max: {
    kind: 'int',
    default: DEFAULT_PASS_DELAY_MAX_SEC,
    min: 1,
    extension: true,
    help: 'longest delay, in seconds, before a PASS from an address with failed attempts is checked (0.1 s, doubling per failure)',
  },
  recv_any_file: {
    kind: 'bool',
    default: false,
    extension: true,
    help: 'RECV/ZRECV may serve any file, queued data files included (the reference); default: only files in filter folders',
  },
  close_timeout: {
    kind: 'int',
    default: 10,
    min: 0,
    extension: true,
    help: 'seconds in-flight transfers get to finish on shutdown',
  },
  proxy_protocol: {
    kind: 'bool',
    default: false,
    extension: true,
    help: 'read a PROXY protocol header (v1/v2, HAProxy send-proxy) from proxy_protocol_from',
  },
  proxy_protocol_from: {
    kind: 'string',
    extension: true,
    help: 'balancer addresses/CIDRs that must send a PROXY header; others are direct clients',
  },
  proxy_protocol_timeout: {
    kind: 'int',
    default: DEFAULT_PROXY_PROTOCOL_TIMEOUT_SEC,
    min: 1,
    extension: true,
    help: "seconds the PROXY header (or a direct client's first bytes) may take",
  },
} as const satisfies SettingsTable;

export type TentacleSettings = Settings<typeof TENTACLE_SETTINGS>;

/** Resolves the settings table from a config file and flags (command line over file). */
export function resolveTentacleSettings(sources: {
  file?: ConfEntries;
  flags?: ReadonlyMap<string, string>;
}): { values: TentacleSettings; unknownFileKeys: string[]; warnings: string[] } {
  return resolveSettings(TENTACLE_SETTINGS, sources);
}
