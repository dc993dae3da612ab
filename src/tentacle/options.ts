import { createHash } from 'node:crypto';
import { accessSync, constants as fsConstants, readFileSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import tls from 'node:tls';
import {
  type ConfEntries,
  ConfigError,
  resolveSettings,
  type Settings,
  type SettingsTable,
} from '../core/index.js';
import { MAX_LINE_BYTES } from './parser.js';
import { compileTrustedSources, type ProxyProtocolConfig } from './proxy-accept.js';

/**
 * The Tentacle server's settings: the Perl server's options and config keys (spec §9.1) with
 * their defaults, plus a few extensions. One table drives the config file (`-F`), the long
 * command-line flags and `--help`; `resolveTentacleConfig()` validates a typed options object
 * into the frozen, precompiled configuration the server runs on (filters compiled, TLS context
 * built, password digest computed), failing fast with a ConfigError.
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

export type SyncPolicy = 'always' | 'none';
const SYNC_POLICIES: readonly string[] = ['always', 'none'];

export interface TentacleTlsOptions {
  /** Certificate file (PEM). */
  readonly cert: string;
  /** Private key file (PEM); defaults to the key inside `cert`. */
  readonly key?: string | undefined;
  /** CA file (PEM): when set, clients must present a certificate signed by it. */
  readonly ca?: string | undefined;
  /** Perl SSL_version syntax: `TLSv1_3`, `TLSv1_2:TLSv1_3`, `SSLv23:!TLSv1`, ... */
  readonly version?: string | undefined;
  /** OpenSSL cipher list. */
  readonly ciphers?: string | undefined;
  readonly passphrase?: string | undefined;
}

/** What `createTentacleServer` accepts; everything but `directory` has the reference default. */
export interface TentacleServerOptions {
  /** Storage folder. Required unless `proxy` is set. */
  readonly directory?: string | undefined;
  readonly addresses?: string | readonly string[] | undefined;
  /** 0 picks a free port (tests). */
  readonly port?: number | undefined;
  readonly maxConnections?: number | undefined;
  /** Accepted connections that may wait (unread) for a free slot; default 1024. */
  readonly maxWaitingConnections?: number | undefined;
  readonly maxSize?: number | undefined;
  readonly overwrite?: boolean | undefined;
  readonly timeoutSec?: number | undefined;
  readonly retries?: number | undefined;
  readonly password?: string | undefined;
  readonly tls?: TentacleTlsOptions | undefined;
  readonly filters?: string | undefined;
  readonly insecure?: boolean | undefined;
  readonly invalidChars?: string | undefined;
  readonly maxLineBytes?: number | undefined;
  readonly sync?: SyncPolicy | undefined;
  readonly transferTimeoutSec?: number | undefined;
  readonly maxDecompressedSize?: number | undefined;
  readonly fileMode?: number | undefined;
  readonly closeTimeoutSec?: number | undefined;
  /** Connections one client address may hold (served or waiting); 0 = no cap. */
  readonly maxConnectionsPerAddress?: number | undefined;
  readonly firstByteTimeoutSec?: number | undefined;
  readonly commandTimeoutSec?: number | undefined;
  readonly passDelayMaxSec?: number | undefined;
  /** RECV/ZRECV serve files outside the filter folders too (the reference's behaviour). */
  readonly recvAnyFile?: boolean | undefined;
  readonly proxy?: { readonly host: string; readonly port?: number | undefined } | undefined;
  /** Read a PROXY protocol header from the `proxyProtocolFrom` sources (required when on). */
  readonly proxyProtocol?: boolean | undefined;
  /** Addresses and CIDR blocks, comma-separated or a list. */
  readonly proxyProtocolFrom?: string | readonly string[] | undefined;
  readonly proxyProtocolTimeoutSec?: number | undefined;
}

export interface CompiledFilter {
  readonly source: string;
  readonly regex: RegExp;
  /** Subdirectory relative to the storage folder, without a trailing slash. */
  readonly dir: string;
}

export interface TentacleTlsConfig {
  /** Context options, already checked by building a context once at startup. */
  readonly contextOptions: tls.SecureContextOptions;
  /** Mutual TLS: a client certificate signed by `ca` is required. */
  readonly requireClientCert: boolean;
}

/** The validated, frozen configuration a server runs on. */
export interface TentacleConfig {
  readonly directory: string;
  readonly listen: readonly string[];
  readonly port: number;
  readonly maxConnections: number;
  readonly maxWaitingConnections: number;
  readonly maxSize: number;
  readonly overwrite: boolean;
  readonly idleTimeoutMs: number;
  readonly transferTimeoutMs: number;
  readonly closeTimeoutMs: number;
  /** 0 = no cap. */
  readonly maxConnectionsPerAddress: number;
  /** From the start of a session to its first byte. */
  readonly firstByteTimeoutMs: number;
  /** From a line's first byte to its LF (command lines, PASS, confirmations). */
  readonly commandTimeoutMs: number;
  readonly passDelayMaxMs: number;
  readonly recvAnyFile: boolean;
  /** The exact `PASS <digest>` line, or undefined when no password is set. */
  readonly passLine: Buffer | undefined;
  readonly tls: TentacleTlsConfig | undefined;
  readonly filters: readonly CompiledFilter[];
  readonly insecure: boolean;
  /** 256 entries: 1 for a forbidden byte. */
  readonly forbiddenBytes: Uint8Array;
  readonly maxLineBytes: number;
  readonly sync: SyncPolicy;
  readonly maxDecompressedSize: number;
  readonly fileMode: number;
  readonly proxy: { readonly host: string; readonly port: number } | undefined;
  /** PROXY protocol on: whom to read the header from; undefined = every peer is direct. */
  readonly proxyProtocol: ProxyProtocolConfig | undefined;
}

/** `md5hex(md5raw(password))`, the token the PASS line carries (spec §2). */
export function passDigest(password: string | Buffer): string {
  const inner = createHash('md5').update(password).digest();
  return createHash('md5').update(inner).digest('hex');
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The reference's address rule (§9.1), plus digits and hyphens in host names. */
export function isValidAddress(address: string): boolean {
  if (address === '0') return true;
  const v4 = IPV4.exec(address);
  if (v4) return v4.slice(1).every((octet) => Number(octet) <= 255);
  if (/^[0-9a-fA-F:]+$/.test(address) && address.includes(':')) return true;
  return /^[A-Za-z][A-Za-z0-9.-]*$/.test(address);
}

function listOfAddresses(input: string | readonly string[]): string[] {
  const list = typeof input === 'string' ? input.split(',') : [...input];
  const out = list.map((a) => a.trim()).filter((a) => a !== '');
  if (out.length === 0) throw new ConfigError('no listen address given');
  for (const a of out) if (!isValidAddress(a)) throw new ConfigError(`Address ${a} is not valid.`);
  return out;
}

/**
 * Filter spec `regex:dir;regex:dir` (§4.3): split on `;`, then on `:`; items without `:` are
 * skipped; one trailing `/` is removed from `dir`. Regexes run unanchored on the name decoded as
 * latin1 (one byte = one character), with `s` so `.` matches every byte but LF, as in Perl.
 */
export function compileFilters(spec: string | undefined): CompiledFilter[] {
  if (spec === undefined || spec === '') return [];
  const filters: CompiledFilter[] = [];
  for (const item of spec.split(';')) {
    const fields = item.split(':');
    if (fields.length < 2) continue;
    const source = fields[0] ?? '';
    const dir = (fields[1] ?? '').replace(/\/$/, '');
    if (source === '') throw new ConfigError(`filter "${item}" has an empty regex`);
    if (dir.split('/').includes('..')) {
      throw new ConfigError(`filter "${item}": the folder may not contain ".."`);
    }
    let regex: RegExp;
    try {
      regex = new RegExp(source, 's');
    } catch (err) {
      throw new ConfigError(`filter "${item}": invalid regex: ${(err as Error).message}`, {
        cause: err,
      });
    }
    filters.push({ source, regex, dir });
  }
  return filters;
}

/** The forbidden-byte table for an `invalid_chars` class body (raw regex text, §9.1). */
export function compileInvalidChars(classBody: string | undefined): Uint8Array {
  const body = classBody ?? DEFAULT_INVALID_CHARS;
  let regex: RegExp;
  try {
    regex = new RegExp(`[${body}]`);
  } catch (err) {
    throw new ConfigError(`invalid_chars: invalid character class: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const table = new Uint8Array(256);
  for (let b = 0; b < 256; b++) table[b] = regex.test(String.fromCharCode(b)) ? 1 : 0;
  return table;
}

const TLS_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;

function tlsVersionToken(token: string): readonly tls.SecureVersion[] | undefined {
  const t = token.toLowerCase().replace(/[._]/g, '');
  switch (t) {
    case 'sslv23':
    case 'tls':
    case 'all':
      return TLS_VERSIONS;
    case 'sslv2':
    case 'sslv3':
      return [];
    case 'tlsv1':
    case 'tlsv10':
      return ['TLSv1'];
    case 'tlsv11':
      return ['TLSv1.1'];
    case 'tlsv12':
      return ['TLSv1.2'];
    case 'tlsv13':
      return ['TLSv1.3'];
    default:
      return undefined;
  }
}

/** Maps Perl's SSL_version (`-z`) to Node's minVersion/maxVersion. */
export function tlsVersionRange(
  spec: string | undefined,
): { minVersion: tls.SecureVersion; maxVersion: tls.SecureVersion } | undefined {
  if (spec === undefined || spec.trim() === '') return undefined;
  const allowed = new Set<tls.SecureVersion>();
  const denied = new Set<tls.SecureVersion>();
  let anyPositive = false;
  for (const raw of spec.split(':')) {
    const token = raw.trim();
    if (token === '') continue;
    const negative = token.startsWith('!');
    const versions = tlsVersionToken(negative ? token.slice(1) : token);
    if (!versions) throw new ConfigError(`ssl_version: unknown SSL/TLS version "${token}"`);
    for (const v of versions) (negative ? denied : allowed).add(v);
    if (!negative) anyPositive = true;
  }
  const base = anyPositive ? allowed : new Set(TLS_VERSIONS);
  const usable = TLS_VERSIONS.filter((v) => base.has(v) && !denied.has(v));
  const minVersion = usable[0];
  const maxVersion = usable[usable.length - 1];
  if (minVersion === undefined || maxVersion === undefined) {
    throw new ConfigError(`ssl_version "${spec}" leaves no usable TLS version`);
  }
  return { minVersion, maxVersion };
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

function buildTls(options: TentacleTlsOptions): TentacleTlsConfig {
  const cert = readPem(options.cert, 'ssl_cert');
  // Without -k the key must sit in the certificate's PEM, as with the reference.
  const key = options.key !== undefined ? readPem(options.key, 'ssl_key') : cert;
  const ca = options.ca !== undefined ? readPem(options.ca, 'ssl_ca') : undefined;
  const range = tlsVersionRange(options.version);
  const contextOptions: tls.SecureContextOptions = {
    cert,
    key,
    ...(ca ? { ca } : {}),
    ...(range ?? {}),
    ...(options.ciphers !== undefined && options.ciphers !== ''
      ? { ciphers: options.ciphers }
      : {}),
    ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
  };
  try {
    // Fail fast on a missing key, a wrong passphrase or an unknown cipher list.
    tls.createSecureContext(contextOptions);
    return { contextOptions, requireClientCert: ca !== undefined };
  } catch (err) {
    throw new ConfigError(`TLS setup failed: ${(err as Error).message}`, { cause: err });
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (err) {
    throw new ConfigError(`Directory ${path} does not exist.`, { cause: err });
  }
}

function checkDirectory(directory: string): void {
  if (!isDirectory(directory)) throw new ConfigError(`${directory} is not a directory.`);
  try {
    accessSync(directory, fsConstants.W_OK | fsConstants.X_OK);
  } catch (err) {
    throw new ConfigError(`Directory ${directory} is not writable.`, { cause: err });
  }
}

function intAtLeast(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(`${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

/** A duration in whole seconds (>= 1), as milliseconds. */
function secondsAtLeast1(name: string, seconds: number): number {
  return intAtLeast(name, seconds, 1) * 1000;
}

/** Validates options and precomputes everything the hot path needs. Throws ConfigError. */
export function resolveTentacleConfig(options: TentacleServerOptions): TentacleConfig {
  const proxy =
    options.proxy !== undefined
      ? { host: options.proxy.host, port: options.proxy.port ?? DEFAULT_PORT }
      : undefined;
  if (proxy && !isValidAddress(proxy.host)) {
    throw new ConfigError(`Address ${proxy.host} is not valid.`);
  }
  let directory = options.directory ?? '';
  if (directory === '') {
    if (!proxy) throw new ConfigError('a storage directory (-s) is required');
  } else {
    // One trailing slash removed, as the reference does; absolute so a daemon's chdir is harmless.
    directory = resolvePath(directory.replace(/(.)\/$/, '$1'));
    if (!proxy) checkDirectory(directory);
  }
  const port = options.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`port must be 0..65535, got ${port}`);
  }
  const timeoutSec = intAtLeast('timeout', options.timeoutSec ?? 1, 1);
  const retries = intAtLeast('retries', options.retries ?? 3, 1);
  const sync = options.sync ?? 'always';
  if (!SYNC_POLICIES.includes(sync)) {
    throw new ConfigError(`sync must be "always" or "none", got "${sync}"`);
  }
  const fileMode = options.fileMode ?? DEFAULT_FILE_MODE;
  if (!Number.isInteger(fileMode) || fileMode < 0 || fileMode > 0o777) {
    throw new ConfigError(`file_mode must be an octal mode 0..0777, got ${fileMode}`);
  }
  const password = options.password ?? '';
  const config: TentacleConfig = {
    directory,
    listen: listOfAddresses(options.addresses ?? TENTACLE_SETTINGS.addresses.default),
    port,
    maxConnections: intAtLeast(
      'max_connections',
      options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      1,
    ),
    maxConnectionsPerAddress: intAtLeast(
      'max_connections_per_address',
      options.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
      0,
    ),
    maxWaitingConnections: intAtLeast(
      'max_waiting_connections',
      options.maxWaitingConnections ?? DEFAULT_MAX_WAITING,
      0,
    ),
    maxSize: intAtLeast('max_size', options.maxSize ?? DEFAULT_MAX_SIZE_BYTES, 1),
    overwrite: options.overwrite ?? false,
    idleTimeoutMs: timeoutSec * (retries + 1) * 1000,
    transferTimeoutMs: intAtLeast('transfer_timeout', options.transferTimeoutSec ?? 120, 1) * 1000,
    closeTimeoutMs: intAtLeast('close_timeout', options.closeTimeoutSec ?? 10, 0) * 1000,
    firstByteTimeoutMs: secondsAtLeast1(
      'first_byte_timeout',
      options.firstByteTimeoutSec ?? DEFAULT_FIRST_BYTE_TIMEOUT_SEC,
    ),
    commandTimeoutMs: secondsAtLeast1(
      'command_timeout',
      options.commandTimeoutSec ?? DEFAULT_COMMAND_TIMEOUT_SEC,
    ),
    passDelayMaxMs: secondsAtLeast1(
      'pass_delay_max',
      options.passDelayMaxSec ?? DEFAULT_PASS_DELAY_MAX_SEC,
    ),
    recvAnyFile: options.recvAnyFile ?? false,
    passLine: password === '' ? undefined : Buffer.from(`PASS ${passDigest(password)}`, 'latin1'),
    tls: options.tls ? buildTls(options.tls) : undefined,
    filters: compileFilters(options.filters),
    insecure: options.insecure ?? false,
    forbiddenBytes: compileInvalidChars(options.invalidChars),
    maxLineBytes: intAtLeast('block_size', options.maxLineBytes ?? MAX_LINE_BYTES, 64),
    sync,
    maxDecompressedSize: intAtLeast(
      'max_decompressed_size',
      options.maxDecompressedSize ?? DEFAULT_MAX_DECOMPRESSED_BYTES,
      1,
    ),
    fileMode,
    proxy,
    proxyProtocol: resolveProxyProtocol(options),
  };
  return Object.freeze(config);
}

function resolveProxyProtocol(options: TentacleServerOptions): ProxyProtocolConfig | undefined {
  if (options.proxyProtocol !== true) return undefined;
  const { trusted, from } = compileTrustedSources(options.proxyProtocolFrom ?? '');
  if (from.length === 0) {
    throw new ConfigError('proxy_protocol 1 needs proxy_protocol_from (the balancer addresses)');
  }
  const timeoutSec = intAtLeast(
    'proxy_protocol_timeout',
    options.proxyProtocolTimeoutSec ?? DEFAULT_PROXY_PROTOCOL_TIMEOUT_SEC,
    1,
  );
  return { trusted, from, timeoutMs: timeoutSec * 1000 };
}

function parseFileMode(text: string): number {
  if (!/^0?[0-7]{1,3}$/.test(text)) {
    throw new ConfigError(`file_mode must be octal like 0640, got "${text}"`);
  }
  return parseInt(text, 8);
}

/** Typed server options from resolved settings (config file and flags). */
export function serverOptionsFromSettings(
  s: TentacleSettings,
  extra: { passphrase?: string } = {},
): TentacleServerOptions {
  const sync = s.sync;
  if (sync !== 'always' && sync !== 'none') {
    throw new ConfigError(`sync must be "always" or "none", got "${sync}"`);
  }
  return {
    directory: s.directory,
    addresses: s.addresses,
    port: s.port,
    maxConnections: s.max_connections,
    maxWaitingConnections: s.max_waiting_connections,
    maxSize: s.max_size,
    overwrite: s.overwrite,
    timeoutSec: s.timeout,
    retries: s.retries,
    password: s.password,
    tls:
      s.ssl_cert !== undefined
        ? {
            cert: s.ssl_cert,
            key: s.ssl_key,
            ca: s.ssl_ca,
            version: s.ssl_version,
            ciphers: s.ssl_cipher,
            passphrase: extra.passphrase,
          }
        : undefined,
    filters: s.filters,
    insecure: s.insecure,
    invalidChars: s.invalid_chars,
    maxLineBytes: s.block_size,
    sync,
    transferTimeoutSec: s.transfer_timeout,
    maxDecompressedSize: s.max_decompressed_size,
    fileMode: parseFileMode(s.file_mode),
    closeTimeoutSec: s.close_timeout,
    maxConnectionsPerAddress: s.max_connections_per_address,
    firstByteTimeoutSec: s.first_byte_timeout,
    commandTimeoutSec: s.command_timeout,
    passDelayMaxSec: s.pass_delay_max,
    recvAnyFile: s.recv_any_file,
    proxy: s.proxy_ip !== undefined ? { host: s.proxy_ip, port: s.proxy_port } : undefined,
    proxyProtocol: s.proxy_protocol,
    proxyProtocolFrom: s.proxy_protocol_from,
    proxyProtocolTimeoutSec: s.proxy_protocol_timeout,
  };
}

/** Resolves the settings table from a config file and flags (command line over file). */
export function resolveTentacleSettings(sources: {
  file?: ConfEntries;
  flags?: ReadonlyMap<string, string>;
}): { values: TentacleSettings; unknownFileKeys: string[]; warnings: string[] } {
  return resolveSettings(TENTACLE_SETTINGS, sources);
}
