import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ConfEntries,
  ConfigError,
  ignoredKeysMessage,
  resolveSettings,
  reviewConfKeys,
  type SettingsTable,
  unknownKeyMessage,
} from '../core/index.js';
import {
  ClientUsageError,
  ioTimeoutMs,
  type ClientTlsOptions,
  parseClientCommandLine,
  type ParsedCommandLine,
  type PerlClientOptions,
} from '../tentacle/index.js';

/**
 * The agent keys of ha.md §1.1 that drive delivery, with the unix agent's defaults, plus our
 * extensions. `pandora_agent.conf` < `--long-flags` < the reference's short options.
 */
export const DELIVERY_SETTINGS = {
  server_ip: { kind: 'string', default: 'localhost', help: 'Primary server (h1[:port],h2…)' },
  server_port: { kind: 'int', default: 41121, min: 1, max: 65535, help: 'Primary port' },
  server_pwd: { kind: 'string', secret: true, help: 'Primary Tentacle password' },
  server_ssl: { kind: 'string', default: '0', help: 'Primary over TLS: 1 or yes' },
  server_opts: { kind: 'string', help: 'Extra tentacle_client options for the primary' },
  transfer_mode: { kind: 'string', default: 'tentacle', help: 'Only tentacle is supported' },
  transfer_timeout: {
    kind: 'int',
    default: 30,
    min: 1,
    help: 'Seconds for one whole transfer, connect included; aborted for real',
  },
  temporal: { kind: 'string', default: '/var/spool/pandora', help: 'Buffer folder' },
  xml_buffer: { kind: 'bool', default: false, help: 'Keep undelivered data files and resend' },
  temporal_min_size: { kind: 'int', default: 1024, min: 0, help: 'MB free disk to buffer' },
  temporal_max_files: { kind: 'int', default: 1024, min: 0, help: 'Max buffered files (0 = ∞)' },
  temporal_max_size: { kind: 'int', default: 1024, min: 0, help: 'Max buffered MB (0 = ∞)' },
  xml_buffer_overflow: {
    kind: 'string',
    default: 'drop_newest',
    help: 'drop_newest (reference) or drop_oldest',
    extension: true,
  },
  secondary_mode: { kind: 'string', default: 'never', help: 'never, on_error or always' },
  secondary_server_ip: { kind: 'string', default: 'localhost', help: 'Secondary server' },
  secondary_server_port: { kind: 'int', default: 41121, min: 1, max: 65535, help: 'Port' },
  secondary_server_pwd: { kind: 'string', secret: true, help: 'Secondary password' },
  secondary_server_ssl: { kind: 'string', default: '0', help: 'Secondary over TLS: 1 or yes' },
  secondary_server_opts: { kind: 'string', help: 'Extra tentacle_client options' },
  secondary_transfer_mode: { kind: 'string', default: 'tentacle', help: 'Only tentacle' },
  secondary_transfer_timeout: { kind: 'int', default: 30, min: 1, help: 'Seconds' },
  // Accepted so that real agent files load; they do not apply to Tentacle delivery.
  server_path: { kind: 'string', help: 'ssh/ftp/local modes only (ignored)' },
  server_user: { kind: 'string', help: 'ftp only (ignored)' },
  secondary_server_path: { kind: 'string', help: 'ignored' },
  secondary_server_user: { kind: 'string', help: 'ignored' },
  watch: { kind: 'string', help: 'Ship every file that appears in this folder', extension: true },
  watch_rescan_ms: {
    kind: 'int',
    default: 1000,
    min: 10,
    help: 'Shipper: full rescan period',
    extension: true,
  },
  watch_settle_ms: {
    kind: 'int',
    default: 200,
    min: 0,
    help: 'Shipper: leave files younger than this alone (still being written)',
    extension: true,
  },
  once: { kind: 'bool', default: false, help: 'Shipper: one pass, then exit', extension: true },
  interval: { kind: 'int', default: 300, min: 1, help: 'Agent cycle (s): caps failover_backoff' },
  failover_backoff: {
    kind: 'int',
    default: 0,
    min: 0,
    help: 'Seconds to skip a target after it failed, doubling up to interval (0 = reference: try every run)',
    extension: true,
  },
} as const satisfies SettingsTable;

const AGENT_JOB =
  "the agent's own work (identity, modules, collection): tentacle-client only delivers";

/** Keys of the shipped pandora_agent.conf that delivery does not use (module_* keys as well). */
export const AGENT_IGNORED_KEYS: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(
    [
      ...['logfile', 'include', 'broker_agent', 'debug', 'udp_server', 'udp_server_port'],
      ...['udp_server_auth_address', 'process_xeyes_start', 'process_xeyes_stop', 'agent_name'],
      ...['agent_name_cmd', 'parent_agent_name', 'agent_alias', 'agent_alias_cmd', 'group'],
      ...['group_password', 'address', 'autotime', 'timezone_offset', 'gis_exec', 'latitude'],
      ...['longitude', 'altitude', 'position_description', 'encoding', 'transfer_mode_user'],
      ...['delayed_startup', 'pandora_nice', 'cron_mode', 'remote_config', 'standby'],
      ...['proxy_mode', 'proxy_max_connection', 'proxy_timeout', 'proxy_address', 'proxy_port'],
      ...['agent_threads', 'pandora_user', 'agent_mode', 'ehorus_conf', 'secondary_groups'],
    ].map((key) => [key, AGENT_JOB]),
  ),
);

/** One warning for the agent keys delivery ignores, one per unknown key (with a suggestion). */
export function deliveryFileWarnings(file: ConfEntries): string[] {
  const modules = [...file.keys()].filter((key) => key.startsWith('module_'));
  const ignored = {
    ...AGENT_IGNORED_KEYS,
    ...Object.fromEntries(modules.map((k) => [k, AGENT_JOB])),
  };
  const review = reviewConfKeys(file, new Set(Object.keys(DELIVERY_SETTINGS)), ignored);
  const summary = ignoredKeysMessage(review.ignored);
  return [
    ...(summary === undefined ? [] : [`pandora_agent.conf: ${summary}`]),
    ...review.unknown.map(unknownKeyMessage),
  ];
}

export type SecondaryMode = 'never' | 'on_error' | 'always';
export type OverflowPolicy = 'drop_newest' | 'drop_oldest';
export type TargetRole = 'primary' | 'secondary';

export interface Address {
  readonly host: string;
  readonly port: number;
}

export interface TargetConfig {
  readonly role: TargetRole;
  /** Tried in order within one transfer budget (ha.md §1.7 extension); one is the reference. */
  readonly addresses: readonly Address[];
  readonly password?: string;
  readonly tls?: ClientTlsOptions;
  readonly transferTimeoutMs: number;
  readonly ioTimeoutMs: number;
  readonly compress: boolean;
}

export interface BufferLimits {
  readonly enabled: boolean;
  readonly minFreeMb: number;
  readonly maxFiles: number;
  readonly maxSizeMb: number;
  readonly overflow: OverflowPolicy;
}

export interface DeliveryConfig {
  readonly mode: SecondaryMode;
  readonly primary: TargetConfig;
  readonly secondary?: TargetConfig;
  readonly temporal: string;
  /** `always`: `<temporal>/pandorafms.secondary`; otherwise the same folder as `temporal`. */
  readonly secondaryTemporal: string;
  readonly buffer: BufferLimits;
  readonly watch?: { dir: string; rescanMs: number; settleMs: number; once: boolean };
  /** Health memory across runs (ha.md §1.8): skip a failed target this long, doubling. */
  readonly failoverBackoff: { readonly initialMs: number; readonly maxMs: number };
}

const SECONDARY_MODES: readonly SecondaryMode[] = ['never', 'on_error', 'always'];
const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ['drop_newest', 'drop_oldest'];

/** `h1[:port],h2[:port]`; a bare IPv6 literal has no port, `[v6]:port` has one. */
export function parseAddressList(raw: string, defaultPort: number, source: string): Address[] {
  const addresses = raw
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(part);
      const hostPort = /^([^:]+):(\d+)$/.exec(part);
      const match = bracketed ?? hostPort;
      const host = match ? (match[1] ?? '') : part;
      const port = match?.[2] === undefined ? defaultPort : Number(match[2]);
      if (port < 1 || port > 65535) throw new ConfigError(`${source}: port ${port} is not valid`);
      return { host, port };
    });
  if (addresses.length === 0) throw new ConfigError(`${source}: no server address`);
  return addresses;
}

function isOn(raw: string): boolean {
  return raw === '1' || raw.toLowerCase() === 'yes';
}

function readPem(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

function tlsFrom(options: PerlClientOptions): ClientTlsOptions | undefined {
  if (!options.ssl) return undefined;
  return {
    ...(options.cert === undefined ? {} : { cert: readPem(options.cert) }),
    ...(options.key === undefined ? {} : { key: readPem(options.key) }),
    ...(options.ca === undefined ? {} : { ca: readPem(options.ca) }),
  };
}

/** `server_opts` holds tentacle_client options; they are parsed with the same rules. */
function parseServerOpts(raw: string | undefined, source: string): ParsedCommandLine | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  try {
    const parsed = parseClientCommandLine(raw.trim().split(/\s+/));
    if (parsed.files.length > 0 || parsed.longOptions.length > 0) {
      throw new ClientUsageError(`unexpected argument ${parsed.files[0] ?? '--'}`);
    }
    return parsed;
  } catch (err) {
    throw new ConfigError(`${source}: ${(err as Error).message}`, { cause: err });
  }
}

interface TargetKeys {
  readonly ip: string;
  readonly port: number;
  readonly pwd: string | undefined;
  readonly ssl: string;
  readonly opts: string | undefined;
  readonly timeoutSec: number;
  readonly mode: string;
}

function buildTarget(
  role: TargetRole,
  keys: TargetKeys,
  perl: PerlClientOptions | undefined,
  given: ReadonlySet<string>,
): TargetConfig {
  const prefix = role === 'primary' ? '' : 'secondary_';
  if (keys.mode !== 'tentacle') {
    throw new ConfigError(
      `${prefix}transfer_mode ${keys.mode} is not supported (only tentacle delivers here)`,
    );
  }
  const extra = parseServerOpts(keys.opts, `${prefix}server_opts`);
  // Short options on our own command line apply to the primary only, and win.
  const own = role === 'primary' ? perl : undefined;
  const pick = <K extends keyof PerlClientOptions>(letter: string, key: K) =>
    own && given.has(letter) ? own[key] : extra?.given.has(letter) ? extra.options[key] : undefined;
  const address = pick('a', 'address');
  const port = pick('p', 'port') ?? keys.port;
  const addresses =
    address !== undefined
      ? [{ host: address, port }]
      : parseAddressList(keys.ip, port, `${prefix}server_ip`);
  const password = pick('x', 'password') ?? keys.pwd;
  const sslFromFlags = own && (given.has('c') || given.has('e')) ? own : undefined;
  const tlsSource = sslFromFlags ?? (extra?.options.ssl ? extra.options : undefined);
  const tls = tlsSource ? tlsFrom(tlsSource) : isOn(keys.ssl) ? {} : undefined;
  const timing = own && (given.has('t') || given.has('r')) ? own : (extra?.options ?? own);
  return {
    role,
    addresses,
    ...(password === undefined || password === '' ? {} : { password }),
    ...(tls === undefined ? {} : { tls }),
    transferTimeoutMs: keys.timeoutSec * 1000,
    ioTimeoutMs: timing ? ioTimeoutMs(timing) : 4000,
    compress: Boolean(pick('z', 'compress')),
  };
}

export interface DeliveryConfigSources {
  readonly file?: ConfEntries;
  /** Long options, snake_case keys. */
  readonly flags?: ReadonlyMap<string, string>;
  /** The reference client's options from our command line, and which letters were given. */
  readonly perl?: PerlClientOptions;
  readonly given?: ReadonlySet<string>;
}

export function loadDeliveryConfig(sources: DeliveryConfigSources): DeliveryConfig {
  const { values } = resolveSettings(DELIVERY_SETTINGS, {
    ...(sources.file === undefined ? {} : { file: sources.file }),
    ...(sources.flags === undefined ? {} : { flags: sources.flags }),
  });
  const mode = values.secondary_mode as SecondaryMode;
  if (!SECONDARY_MODES.includes(mode)) {
    throw new ConfigError(
      `secondary_mode "${values.secondary_mode}" is not valid; use never, on_error or always`,
    );
  }
  const overflow = values.xml_buffer_overflow as OverflowPolicy;
  if (!OVERFLOW_POLICIES.includes(overflow)) {
    throw new ConfigError(
      `xml_buffer_overflow "${values.xml_buffer_overflow}" is not valid; use drop_newest or drop_oldest`,
    );
  }
  const given = sources.given ?? new Set<string>();
  const primary = buildTarget(
    'primary',
    {
      ip: values.server_ip,
      port: values.server_port,
      pwd: values.server_pwd,
      ssl: values.server_ssl,
      opts: values.server_opts,
      timeoutSec: values.transfer_timeout,
      mode: values.transfer_mode,
    },
    sources.perl,
    given,
  );
  const secondary =
    mode === 'never'
      ? undefined
      : buildTarget(
          'secondary',
          {
            ip: values.secondary_server_ip,
            port: values.secondary_server_port,
            pwd: values.secondary_server_pwd,
            ssl: values.secondary_server_ssl,
            opts: values.secondary_server_opts,
            timeoutSec: values.secondary_transfer_timeout,
            mode: values.secondary_transfer_mode,
          },
          sources.perl,
          given,
        );
  const temporal = values.temporal;
  return {
    mode,
    primary,
    ...(secondary === undefined ? {} : { secondary }),
    temporal,
    secondaryTemporal: mode === 'always' ? join(temporal, 'pandorafms.secondary') : temporal,
    failoverBackoff: {
      initialMs: values.failover_backoff * 1000,
      maxMs: Math.max(values.failover_backoff, values.interval) * 1000,
    },
    buffer: {
      enabled: values.xml_buffer,
      minFreeMb: values.temporal_min_size,
      maxFiles: values.temporal_max_files,
      maxSizeMb: values.temporal_max_size,
      overflow,
    },
    ...(values.watch === undefined
      ? {}
      : {
          watch: {
            dir: values.watch,
            rescanMs: values.watch_rescan_ms,
            settleMs: values.watch_settle_ms,
            once: values.once,
          },
        }),
  };
}
