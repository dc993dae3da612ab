/**
 * Configuration keys of the alert module (spec alerts.md §6), in the declarative settings-table
 * form of src/core/settings.ts. Spread into DATASERVER_SETTINGS (src/dataserver/config.ts), so
 * `serve --help` lists them and pandora_server.conf sets them; `alertConfigFrom` turns the values
 * into the AlertConfig the engine takes. `warmup_event_interval`, `event_storm_protection`
 * (conf) and `graph_precision` live in DATASERVER_SETTINGS itself.
 */
import type { ConfEntries } from '../../core/index.js';
import { ConfigError } from '../../core/index.js';
import { resolveSettings, type Settings, type SettingSources } from '../../core/index.js';

export const ALERT_SETTINGS = {
  alertserver: {
    kind: 'int',
    default: 0,
    help: 'accepted for compatibility; alerts are always queued for a Pandora Alert Server (1 is logged as delegated)',
  },
  alertserver_queue: {
    kind: 'int',
    default: 0,
    help: 'accepted for compatibility; no effect (alerts are always queued)',
  },
  alertserver_threads: {
    kind: 'int',
    default: 1,
    help: 'accepted for compatibility; ignored (we run no Alert Server; use 1 on the Perl one)',
  },
  alertserver_warn: {
    kind: 'int',
    default: 180,
    min: 0,
    help: 'seconds a queued alert may wait before the missing-executor warning (0 = off)',
  },
  warmup_alert_interval: {
    kind: 'int',
    default: 0,
    min: 0,
    help: 'seconds after start without alert evaluation; alias of warmup_event_interval (either sets both)',
  },
  event_inhibit_alerts: {
    kind: 'int',
    default: 0,
    help: 'execution side only (Alert Server); accepted, unused here',
  },
  alert_execution: {
    kind: 'string',
    default: 'queue',
    extension: true,
    help: "'queue': rows for Pandora's Alert Server; 'events': write the alert events ourselves, run no command",
  },
  alert_config_refresh: {
    kind: 'int',
    default: 10,
    min: 0,
    extension: true,
    help: 'seconds alert definitions are cached (0 = read them for every datum)',
  },
  alert_time_source: {
    kind: 'string',
    default: 'now',
    extension: true,
    help: "clock compared with last_reference + time_threshold: 'now' (server) or 'data' (the reference's)",
  },
} as const;

export type AlertSettings = Settings<typeof ALERT_SETTINGS>;

export interface AlertConfig {
  readonly execution: 'queue' | 'events';
  readonly configRefreshSeconds: number;
  readonly timeSource: 'now' | 'data';
  readonly warnSeconds: number;
  /** max(warmup_alert_interval, warmup_event_interval): either key sets both (§6). */
  readonly warmupSeconds: number;
  /** True when `alertserver 1`: logged as "execution is delegated to a Pandora Alert Server". */
  readonly delegatedToAlertServer: boolean;
}

export const DEFAULT_ALERT_CONFIG: AlertConfig = {
  execution: 'queue',
  configRefreshSeconds: 10,
  timeSource: 'now',
  warnSeconds: 180,
  warmupSeconds: 0,
  delegatedToAlertServer: false,
};

function oneOf<T extends string>(key: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new ConfigError(`${key} must be one of ${allowed.join(', ')}, got "${value}"`);
}

/** Settings → engine config; `warmupEventInterval` is DATASERVER_SETTINGS' value. */
export function alertConfigFrom(s: AlertSettings, warmupEventInterval = 0): AlertConfig {
  return {
    execution: oneOf('alert_execution', s.alert_execution, ['queue', 'events']),
    configRefreshSeconds: s.alert_config_refresh,
    timeSource: oneOf('alert_time_source', s.alert_time_source, ['now', 'data']),
    warnSeconds: s.alertserver_warn,
    warmupSeconds: Math.max(s.warmup_alert_interval, warmupEventInterval),
    delegatedToAlertServer: s.alertserver === 1,
  };
}

export function resolveAlertConfig(
  sources: SettingSources & { file?: ConfEntries },
  warmupEventInterval = 0,
): AlertConfig {
  return alertConfigFrom(resolveSettings(ALERT_SETTINGS, sources).values, warmupEventInterval);
}
