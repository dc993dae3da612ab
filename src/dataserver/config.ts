import { hostname } from 'node:os';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import {
  type ConfEntries,
  ConfigError,
  isPathSegment,
  resolveSettings,
  type Settings,
  type SettingsTable,
} from '../core/index.js';
import { ALERT_SETTINGS, alertConfigFrom, type AlertConfig } from './alerts/index.js';
import { DB_TLS_SETTINGS, dbTlsFromSettings, type DbTls } from '../db/index.js';
import type { LogicConfig, ParseOptions } from './types.js';
import { DEFAULT_XML_LIMITS } from './xml/limits.js';

/**
 * The dataserver's keys of `pandora_server.conf` (spec §7) plus the database keys, with the
 * shipped configuration's values as defaults where the code default would not run out of the
 * box (autocreate_group 10). Keys marked `extension` do not exist in the Perl server.
 */
export const DATASERVER_SETTINGS = {
  incomingdir: { kind: 'string', default: './data_in', help: 'spool folder scanned for *.data' },
  servername: { kind: 'string', help: 'this server name (tserver.name); default: host name' },
  dbhost: { kind: 'string', default: '127.0.0.1', help: 'MariaDB/MySQL host' },
  dbport: { kind: 'int', default: 3306, min: 1, max: 65535, help: 'MariaDB/MySQL port' },
  dbname: { kind: 'string', default: 'pandora', help: 'database name' },
  dbuser: { kind: 'string', default: 'root', help: 'database user' },
  dbpass: { kind: 'string', default: '', secret: true, help: 'database password' },
  ...DB_TLS_SETTINGS,
  dataserver_threads: {
    kind: 'int',
    default: 2,
    min: 0,
    max: 64,
    help: 'XML parse worker threads (0 = parse on the main thread)',
  },
  max_queue_files: {
    kind: 'int',
    default: 5000,
    min: 1,
    help: 'spool files held in the queue at once (the rest wait on disk)',
  },
  server_threshold: { kind: 'int', default: 5, min: 1, help: 'seconds between full spool rescans' },
  dataserver_lifo: { kind: 'bool', default: false, help: 'newest file of an agent first' },
  too_many_xml: {
    kind: 'int',
    default: 10,
    min: 0,
    help: 'backlog event when an agent has more files queued (0 = off)',
  },
  use_xml_timestamp: { kind: 'bool', default: true, help: '0 = data time is the file mtime' },
  use_module_timestamp: {
    kind: 'bool',
    default: false,
    extension: true,
    help: 'honour <timestamp> of single-datum modules (D-4)',
  },
  max_xml_size: {
    kind: 'int',
    default: 16 * 1024 * 1024,
    min: 1,
    extension: true,
    help: 'bigger files go to _BADXML unparsed (bytes); serve refuses to start if a packet at this size and the max_* limits cannot fit its heap',
  },
  xml_parser: {
    kind: 'string',
    default: 'builtin',
    values: ['builtin', 'fast-xml-parser'],
    extension: true,
    help: 'tree builder after the validating scan: builtin (3-6x faster on agent files) or fast-xml-parser',
  },
  max_xml_depth: {
    kind: 'int',
    default: 32,
    min: 4,
    extension: true,
    help: 'deeper XML nesting goes to _BADXML',
  },
  max_modules_per_packet: {
    kind: 'int',
    default: DEFAULT_XML_LIMITS.maxModules,
    min: 1,
    extension: true,
    help: 'a packet with more <module> elements goes to _BADXML with an event naming this key',
  },
  max_datalist_values: {
    kind: 'int',
    default: DEFAULT_XML_LIMITS.maxDatalistValues,
    min: 1,
    extension: true,
    help: 'a module with more <datalist> <data> items sends its packet to _BADXML with an event naming this key',
  },
  max_xml_elements: {
    kind: 'int',
    default: DEFAULT_XML_LIMITS.maxElements,
    min: 16,
    extension: true,
    help: 'a packet with more XML elements and attributes in all goes to _BADXML with an event naming this key',
  },
  autocreate: { kind: 'bool', default: true, help: 'create unknown agents' },
  autocreate_group: { kind: 'int', default: 10, help: 'group id for new agents (<= 0: none)' },
  autocreate_group_name: { kind: 'string', default: '', help: 'group name for new agents' },
  autocreate_group_force: {
    kind: 'bool',
    default: false,
    help: '1 = autocreate group wins over the agent group',
  },
  update_parent: { kind: 'bool', default: true, help: 'let parent_agent_name move agents' },
  event_auto_validation: {
    kind: 'bool',
    default: true,
    help: 'validate older events of a module on a new one',
  },
  unknown_events: { kind: 'bool', default: true, help: 'events for changes from/to UNKNOWN' },
  warmup_event_interval: {
    kind: 'int',
    default: 0,
    min: 0,
    help: 'seconds after start without status events',
  },
  event_storm_protection: { kind: 'bool', default: false, help: 'no status events at all' },
  graph_precision: { kind: 'int', default: 1, min: 0, max: 10, help: 'decimals in event data' },
  text_going_down_normal: {
    kind: 'string',
    default: "Module '_module_' is going to NORMAL (_data_)",
    help: 'event text',
  },
  text_going_up_critical: {
    kind: 'string',
    default: "Module '_module_' is going to CRITICAL (_data_)",
    help: 'event text',
  },
  text_going_up_warning: {
    kind: 'string',
    default: "Module '_module_' is going to WARNING (_data_)",
    help: 'event text',
  },
  text_going_down_warning: {
    kind: 'string',
    default: "Module '_module_' is going to WARNING (_data_)",
    help: 'event text',
  },
  dataserver_batch_files: {
    kind: 'int',
    default: 200,
    min: 1,
    max: 5000,
    extension: true,
    help: 'packets written per database transaction at most',
  },
  dataserver_cache_modules: {
    kind: 'int',
    default: 150_000,
    min: 0,
    extension: true,
    help: 'modules whose state stays cached (about 0.75 KB each; least recently written agents go first, then reload on their next packet)',
  },
  spool_spare_files: {
    kind: 'int',
    default: 1024,
    min: 0,
    extension: true,
    help: 'finished spool files kept for the built-in listener (sync always) to write new uploads into, instead of deleting and creating files (0 = off)',
  },
  spool_min_free: {
    kind: 'int',
    default: 5,
    min: 0,
    max: 90,
    extension: true,
    help: 'percent of the spool filesystem (blocks and inodes) kept free of spare files: below it the spares are removed and finished files are deleted, not kept (0 = no floor; a full disk releases them anyway)',
  },
  dataserver_stall_timeout: {
    kind: 'int',
    default: 60,
    min: 0,
    extension: true,
    help: 'seconds without a finished file while files wait before the pipeline reports a stall (0 = off)',
  },
  dataserver_batch_timeout: {
    kind: 'int',
    default: 60,
    min: 0,
    extension: true,
    help: 'seconds one batch transaction may take; past it the connection is dropped and the batch retried (a database that stops answering without closing the connection, as in a network partition; 0 = no limit)',
  },
  dataserver_agent_lock_timeout: {
    kind: 'int',
    default: 30,
    min: 1,
    extension: true,
    help: 'seconds a batch waits for the named lock that serialises creating a new agent across servers; not granted: the batch is retried',
  },
  dataserver_poison_deaths: {
    kind: 'int',
    default: 2,
    min: 0,
    extension: true,
    help: 'abnormal process deaths (SIGKILL, out of memory, a crash) a file may be in flight for: at the next start it is set aside as <name>_FAILED with an error event (0 = never)',
  },
  dataserver_shutdown_grace: {
    kind: 'int',
    default: 10,
    min: 0,
    extension: true,
    help: 'seconds a shutdown lets files in flight finish; then batches still running are dropped and their files stay claimed for the next start',
  },
  dataserver_batch_wait_ms: {
    kind: 'int',
    default: 20,
    min: 0,
    extension: true,
    help: 'how long a partial batch waits for more packets',
  },
  dataserver_db_connections: {
    kind: 'int',
    default: 3,
    min: 2,
    max: 64,
    extension: true,
    help: 'database connections; batches in flight = this - 1 (at most 3)',
  },
  ledger_retention: {
    kind: 'int',
    default: 2 * 86400,
    min: 3600,
    extension: true,
    help: 'seconds processed-file records are kept',
  },
  // Module alerts (alerts.md §6): evaluated in the batch, executed by Pandora's Alert Server.
  ...ALERT_SETTINGS,
} as const satisfies SettingsTable;

export type DataserverSettings = Settings<typeof DATASERVER_SETTINGS>;

/** The typed, validated configuration the pipeline runs on. */
export interface DataserverConfig {
  readonly incomingDir: string;
  readonly serverName: string;
  readonly db: {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly password: string;
    readonly database: string;
    readonly connections: number;
    /** dbssl and friends; undefined = plain TCP. */
    readonly tls?: DbTls | undefined;
  };
  readonly parseThreads: number;
  readonly maxQueueFiles: number;
  readonly rescanIntervalMs: number;
  readonly lifo: boolean;
  readonly tooManyXml: number;
  readonly batchFiles: number;
  readonly batchWaitMs: number;
  /** A batch transaction running longer loses its connection and is retried (0 = no limit). */
  readonly batchTimeoutMs: number;
  /** Wait for the named lock that serialises creating one agent across servers. */
  readonly agentLockTimeoutSec: number;
  /** Abnormal deaths with a file in flight before the next start sets it aside (0 = never). */
  readonly poisonDeaths: number;
  /** How long close() lets files in flight finish before it drops their batches. */
  readonly shutdownGraceMs: number;
  /** Cached module states at most (whole agents are evicted, least recently written first). */
  readonly cacheModules: number;
  /** Finished files kept for the built-in listener to reuse (0 = off; core/spare-files.ts). */
  readonly spareFiles: number;
  /** Free share of the spool filesystem (0..1) below which spares are released, not kept. */
  readonly spoolMinFreeRatio: number;
  /** No file finished for this long while files wait: log the pipeline state (0 = off). */
  readonly stallTimeoutMs: number;
  readonly ledgerRetentionSec: number;
  readonly parse: ParseOptions;
  readonly logic: LogicConfig;
  readonly alerts: AlertConfig;
}

/** Absolute path; the reference resolves a relative incomingdir against its base path (cwd here). */
function absolute(path: string, baseDir: string): string {
  return isAbsolute(path) ? path : resolvePath(baseDir, path);
}

function xmlParserOf(name: string): 'builtin' | 'fast-xml-parser' {
  if (name === 'builtin' || name === 'fast-xml-parser') return name;
  throw new ConfigError(`xml_parser must be "builtin" or "fast-xml-parser", got "${name}"`);
}

export function toDataserverConfig(
  s: DataserverSettings,
  baseDir = process.cwd(),
): DataserverConfig {
  const serverName = s.servername ?? hostname();
  if (serverName.length > 100 || !isPathSegment(serverName)) {
    throw new ConfigError(
      `servername "${serverName}" must be 1..100 characters without / or \\, and not . or ..`,
    );
  }
  return {
    incomingDir: absolute(s.incomingdir, baseDir),
    serverName,
    db: {
      host: s.dbhost,
      port: s.dbport,
      user: s.dbuser,
      password: s.dbpass,
      database: s.dbname,
      connections: s.dataserver_db_connections,
      tls: dbTlsFromSettings(s),
    },
    parseThreads: s.dataserver_threads,
    maxQueueFiles: s.max_queue_files,
    rescanIntervalMs: s.server_threshold * 1000,
    lifo: s.dataserver_lifo,
    tooManyXml: s.too_many_xml,
    batchFiles: s.dataserver_batch_files,
    batchWaitMs: s.dataserver_batch_wait_ms,
    batchTimeoutMs: s.dataserver_batch_timeout * 1000,
    shutdownGraceMs: s.dataserver_shutdown_grace * 1000,
    poisonDeaths: s.dataserver_poison_deaths,
    agentLockTimeoutSec: s.dataserver_agent_lock_timeout,
    cacheModules: s.dataserver_cache_modules,
    spareFiles: s.spool_spare_files,
    spoolMinFreeRatio: s.spool_min_free / 100,
    stallTimeoutMs: s.dataserver_stall_timeout * 1000,
    ledgerRetentionSec: s.ledger_retention,
    parse: {
      maxXmlSize: s.max_xml_size,
      useXmlTimestamp: s.use_xml_timestamp,
      useModuleTimestamp: s.use_module_timestamp,
      maxDepth: s.max_xml_depth,
      limits: {
        maxModules: s.max_modules_per_packet,
        maxDatalistValues: s.max_datalist_values,
        maxElements: s.max_xml_elements,
      },
      xmlParser: xmlParserOf(s.xml_parser),
    },
    logic: {
      autocreate: s.autocreate,
      autocreateGroup: s.autocreate_group,
      autocreateGroupName: s.autocreate_group_name,
      autocreateGroupForce: s.autocreate_group_force,
      updateParent: s.update_parent,
      dataserverLifo: s.dataserver_lifo,
      eventAutoValidation: s.event_auto_validation,
      unknownEvents: s.unknown_events,
      // warmup_alert_interval is its alias: either sets both (alerts.md §6).
      warmupEventInterval: Math.max(s.warmup_event_interval, s.warmup_alert_interval),
      eventStormProtection: s.event_storm_protection,
      graphPrecision: s.graph_precision,
      textGoingDownNormal: s.text_going_down_normal,
      textGoingUpCritical: s.text_going_up_critical,
      textGoingUpWarning: s.text_going_up_warning,
      textGoingDownWarning: s.text_going_down_warning,
    },
    alerts: alertConfigFrom(s, s.warmup_event_interval),
  };
}

/** Resolves the table from file/env/flags and converts it (tests pass overrides as flags). */
export function loadDataserverConfig(sources: {
  file?: ConfEntries;
  env?: Readonly<Record<string, string | undefined>>;
  flags?: ReadonlyMap<string, string>;
}): DataserverConfig {
  return toDataserverConfig(resolveSettings(DATASERVER_SETTINGS, sources).values);
}
