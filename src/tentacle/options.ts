import { createHash } from 'node:crypto';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import type tls from 'node:tls';
import { ConfigError } from '../core/index.js';
import { MAX_LINE_BYTES } from './parser.js';
import { compileTrustedSources, type ProxyProtocolConfig } from './proxy-accept.js';
import {
  DEFAULT_COMMAND_TIMEOUT_SEC,
  DEFAULT_FILE_MODE,
  DEFAULT_FIRST_BYTE_TIMEOUT_SEC,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  DEFAULT_MAX_SIZE_BYTES,
  DEFAULT_MAX_WAITING,
  DEFAULT_PASS_DELAY_MAX_SEC,
  DEFAULT_PORT,
  DEFAULT_PROXY_PROTOCOL_TIMEOUT_SEC,
  TENTACLE_SETTINGS,
  type TentacleSettings,
} from './settings.js';
import { type CompiledFilter, compileFilters, compileInvalidChars } from './name-rules.js';
import { buildTls } from './tls-config.js';

/**
 * How the Tentacle server's options become its configuration: `resolveTentacleConfig()` validates
 * a typed options object into the frozen, precompiled configuration the server runs on (filters
 * compiled, TLS context built, password digest computed), failing fast with a ConfigError.
 * The settings table itself (defaults, config keys, flags) is in `settings.ts`.
 */

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
  const password = options.password ?? '';
  const config: TentacleConfig = {
    ...resolveEndpoints(options),
    ...resolveConnectionLimits(options),
    ...resolveTimeouts(options),
    ...resolveStorage(options),
    passLine: password === '' ? undefined : Buffer.from(`PASS ${passDigest(password)}`, 'latin1'),
    tls: options.tls ? buildTls(options.tls) : undefined,
    filters: compileFilters(options.filters),
    insecure: options.insecure ?? false,
    forbiddenBytes: compileInvalidChars(options.invalidChars),
    recvAnyFile: options.recvAnyFile ?? false,
    proxyProtocol: resolveProxyProtocol(options),
  };
  return Object.freeze(config);
}

/** Where the server listens, where it stores, or where it relays to (proxy mode). */
function resolveEndpoints(
  options: TentacleServerOptions,
): Pick<TentacleConfig, 'directory' | 'listen' | 'port' | 'proxy'> {
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
  const listen = listOfAddresses(options.addresses ?? TENTACLE_SETTINGS.addresses.default);
  return { directory, listen, port, proxy };
}

/** How many sessions are served, wait, or come from one address; the size caps of a session. */
function resolveConnectionLimits(
  options: TentacleServerOptions,
): Pick<
  TentacleConfig,
  | 'maxConnections'
  | 'maxConnectionsPerAddress'
  | 'maxWaitingConnections'
  | 'maxSize'
  | 'maxLineBytes'
  | 'maxDecompressedSize'
> {
  return {
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
    maxLineBytes: intAtLeast('block_size', options.maxLineBytes ?? MAX_LINE_BYTES, 64),
    maxDecompressedSize: intAtLeast(
      'max_decompressed_size',
      options.maxDecompressedSize ?? DEFAULT_MAX_DECOMPRESSED_BYTES,
      1,
    ),
  };
}

/** Every deadline of a session, in milliseconds. */
function resolveTimeouts(
  options: TentacleServerOptions,
): Pick<
  TentacleConfig,
  | 'idleTimeoutMs'
  | 'transferTimeoutMs'
  | 'closeTimeoutMs'
  | 'firstByteTimeoutMs'
  | 'commandTimeoutMs'
  | 'passDelayMaxMs'
> {
  const timeoutSec = intAtLeast('timeout', options.timeoutSec ?? 1, 1);
  const retries = intAtLeast('retries', options.retries ?? 3, 1);
  return {
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
  };
}

/** How a received file is written: overwrite, fsync policy, mode. */
function resolveStorage(
  options: TentacleServerOptions,
): Pick<TentacleConfig, 'overwrite' | 'sync' | 'fileMode'> {
  const sync = options.sync ?? 'always';
  if (!SYNC_POLICIES.includes(sync)) {
    throw new ConfigError(`sync must be "always" or "none", got "${sync}"`);
  }
  const fileMode = options.fileMode ?? DEFAULT_FILE_MODE;
  if (!Number.isInteger(fileMode) || fileMode < 0 || fileMode > 0o777) {
    throw new ConfigError(`file_mode must be an octal mode 0..0777, got ${fileMode}`);
  }
  return { overwrite: options.overwrite ?? false, sync, fileMode };
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
