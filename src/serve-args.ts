/**
 * `tentacle-ingest`'s settings and command line: every key `serve` knows (its own, the
 * dataserver's, HA's, scale-out's, the log file's), `--help` grouped by them, and the built-in
 * listener's options derived from them. The composition root (main.ts) runs what this describes.
 */
import {
  type ConfEntries,
  LOG_FILE_SETTINGS,
  type Logger,
  readConfFile,
  resolveSettings,
  type SettingsTable,
} from './core/index.js';
import { ingestUsage, parseIngestArgs, type IngestArgs } from './cli/index.js';
import { DATASERVER_SETTINGS, QUEUE_WORKER_SETTINGS } from './dataserver/index.js';
import {
  listenerFilters,
  resolveTentacleSettings,
  serverOptionsFromSettings,
  type TentacleServerOptions,
} from './tentacle/index.js';
import { HA_SETTINGS } from './ha/index.js';
import { listenerFileWarnings, serveFileWarnings } from './serve/index.js';
import { QUEUE_SETTINGS } from './queue/index.js';

export const VERSION = '0.1.0';
/**
 * Loopback unless configured: the standalone tentacle-server keeps the reference's all-interfaces
 * default for drop-in use, but `serve` on embedded defaults should not open a port to the network
 * by surprise. Set `tentacle_address 0.0.0.0` (the Docker image does) for agents on the network.
 */
const DEFAULT_TENTACLE_ADDRESS = '127.0.0.1';
/** fsync under sync 'always' runs on libuv's pool; 4 threads would serialise concurrent agents
 * (under sync none the default 4 measured better on 2 cores, as in the tentacle-server CLI). */
export const FSYNC_THREADPOOL_SIZE = '16';
/** The listener stores bodies up to 64 KiB inline, the only stores that take spare files. */
export const SPARE_MAX_BYTES = 64 * 1024;

export const SERVE_SETTINGS = {
  ...QUEUE_SETTINGS,
  ...QUEUE_WORKER_SETTINGS,
  ...HA_SETTINGS,
  ...DATASERVER_SETTINGS,
  dataserver: {
    kind: 'bool',
    default: true,
    help: "0 = this server only accepts packets (listener only: into the spool, or the queue when queue_url is set); Pandora's key",
  },
  tentacle: {
    kind: 'bool',
    default: true,
    extension: true,
    help: 'run the Tentacle listener (--no-tentacle when a separate server fills the spool)',
  },
  dbengine: { kind: 'string', default: 'mysql', values: ['mysql'], help: 'database engine' },
  tentacle_config: {
    kind: 'string',
    extension: true,
    help: 'a tentacle_server.conf (TLS, filters, overwrite, sync, limits) for the built-in listener; the tentacle_* keys here win over it',
  },
  tentacle_address: {
    kind: 'string',
    extension: true,
    help: `Tentacle listen addresses, comma-separated (0.0.0.0 = all; default ${DEFAULT_TENTACLE_ADDRESS}, or tentacle_config's)`,
  },
  tentacle_port: {
    kind: 'int',
    min: 0,
    max: 65535,
    extension: true,
    help: "Tentacle port (default 41121, or tentacle_config's)",
  },
  tentacle_password: { kind: 'string', secret: true, extension: true, help: 'Tentacle password' },
  tentacle_max_size: {
    kind: 'int',
    min: 1,
    extension: true,
    help: "largest file Tentacle accepts in bytes (default 2000000, or tentacle_config's)",
  },
  tentacle_max_connections: {
    kind: 'int',
    min: 1,
    extension: true,
    help: "Tentacle sessions served at once (default 2048, or tentacle_config's)",
  },
  tentacle_max_connections_per_address: {
    kind: 'int',
    min: 0,
    extension: true,
    help: "Tentacle connections one client address may hold (default 64, or tentacle_config's; 0 = no cap, for a balancer without PROXY)",
  },
  tentacle_filters: {
    kind: 'string',
    extension: true,
    help: "regex:dir;... routing of the built-in listener (default: Pandora's remote-configuration folders conf, md5, collections, trans, commands, or tentacle_config's filters; none = no routing)",
  },
  tentacle_recv_any_file: {
    kind: 'bool',
    extension: true,
    help: "RECV/ZRECV may serve queued data files too, as the reference (default 0, or tentacle_config's)",
  },
  tentacle_proxy_protocol: {
    kind: 'bool',
    extension: true,
    help: "read a PROXY protocol header (HAProxy send-proxy) from tentacle_proxy_protocol_from (default off, or tentacle_config's)",
  },
  tentacle_proxy_protocol_from: {
    kind: 'string',
    extension: true,
    help: "balancer addresses/CIDRs, comma-separated, that must send the PROXY header (or tentacle_config's proxy_protocol_from)",
  },
  verbosity: { kind: 'int', default: 3, min: 0, max: 10, help: 'log detail (0 errors … 10 debug)' },
  ...LOG_FILE_SETTINGS,
  shutdown_timeout: {
    kind: 'int',
    default: 60,
    min: 1,
    extension: true,
    help: 'seconds a graceful shutdown may take before exit(1)',
  },
} as const satisfies SettingsTable;

export const USAGE = ingestUsage(SERVE_SETTINGS, [
  { title: 'built-in Tentacle listener', owns: (key) => key.startsWith('tentacle') },
  { title: 'dataserver and database', owns: (key) => key in DATASERVER_SETTINGS },
  { title: 'scale-out (shared Redis queue)', owns: (key) => key.startsWith('queue_') },
  { title: 'high availability and HTTP', owns: (key) => key in HA_SETTINGS },
  { title: 'process', owns: () => true },
]);

export function logLevel(verbosity: number): string {
  if (verbosity <= 0) return 'error';
  if (verbosity <= 2) return 'warn';
  if (verbosity <= 5) return 'info';
  return 'debug';
}

export interface Loaded extends Omit<IngestArgs, 'flags'> {
  /** The command line, read again on SIGHUP. */
  readonly argv: readonly string[];
  readonly settings: ReturnType<typeof resolveSettings<typeof SERVE_SETTINGS>>;
  /** Ignored and unknown keys of the configuration file, one line each. */
  readonly fileWarnings: string[];
}

export function loadArgs(argv: readonly string[]): Loaded {
  const { flags, ...args } = parseIngestArgs(argv, SERVE_SETTINGS);
  const { command, confPath } = args;
  const file: ConfEntries | undefined =
    confPath === undefined || command === 'help' || command === 'version'
      ? undefined
      : readConfFile(confPath);
  const settings = resolveSettings(SERVE_SETTINGS, {
    ...(file ? { file } : {}),
    env: process.env,
    flags,
  });
  return { ...args, argv, settings, fileWarnings: serveFileWarnings(file, SERVE_SETTINGS) };
}

export type ServeValues = Loaded['settings']['values'];

/**
 * The built-in listener's options: a tentacle_server.conf (`tentacle_config`) when given, under
 * the serve keys that were set, with the dataserver's incomingdir as the storage folder (one
 * source of truth for the spool).
 */
export function tentacleOptions(
  s: ServeValues,
  incomingDir: string,
  logger: Logger | undefined,
): TentacleServerOptions {
  const file = s.tentacle_config === undefined ? undefined : readConfFile(s.tentacle_config);
  const resolved = resolveTentacleSettings(file ? { file } : {});
  for (const w of [...resolved.warnings, ...listenerFileWarnings(file)]) logger?.warn(w);
  const fromFile = serverOptionsFromSettings(resolved.values);
  const fileHas = (key: string): boolean => file?.has(key) === true;
  return {
    ...fromFile,
    directory: incomingDir,
    addresses:
      s.tentacle_address ?? (fileHas('addresses') ? fromFile.addresses : DEFAULT_TENTACLE_ADDRESS),
    port: s.tentacle_port ?? fromFile.port,
    maxSize: s.tentacle_max_size ?? fromFile.maxSize,
    maxConnections: s.tentacle_max_connections ?? fromFile.maxConnections,
    maxConnectionsPerAddress:
      s.tentacle_max_connections_per_address ?? fromFile.maxConnectionsPerAddress,
    recvAnyFile: s.tentacle_recv_any_file ?? fromFile.recvAnyFile,
    password: s.tentacle_password ?? fromFile.password,
    proxyProtocol: s.tentacle_proxy_protocol ?? fromFile.proxyProtocol,
    proxyProtocolFrom: s.tentacle_proxy_protocol_from ?? fromFile.proxyProtocolFrom,
    filters: listenerFilters(
      s.tentacle_filters,
      file?.has('filters') ? fromFile.filters : undefined,
    ).spec,
    proxy: undefined,
  };
}
