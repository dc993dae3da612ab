import { hostname } from 'node:os';
import { ConfigError, type Settings, type SettingsTable } from '../core/index.js';

/**
 * HA settings. `servername`, `master`, `server_keepalive` and `server_threshold` are Pandora's
 * keys (same meaning); the `ha_*` keys and `http_port` are extensions. Millisecond keys exist so
 * tests (and impatient operators) can run sub-second ticks; unset, they derive from the Pandora
 * keys as ha.md §7 proposes.
 */
export const HA_SETTINGS = {
  servername: {
    kind: 'string',
    help: 'Unique name of this server in tserver (default: host name without spaces)',
  },
  master: {
    kind: 'int',
    default: 1,
    min: 0,
    max: 7,
    help: 'Master priority: 0 never master, the highest live 1..7 wins',
  },
  server_keepalive: {
    kind: 'int',
    default: 45,
    min: 1,
    help: 'Seconds; a server whose heartbeat is older than 2x this is dead',
  },
  server_threshold: {
    kind: 'int',
    default: 5,
    min: 1,
    help: 'Seconds between heartbeat/election ticks (unless ha_tick_ms)',
  },
  http_port: {
    kind: 'int',
    min: 0,
    max: 65535,
    help: 'Port of the HTTP side (/livez /readyz /drain /status /metrics /); unset: off',
    extension: true,
  },
  http_address: {
    kind: 'string',
    default: '127.0.0.1',
    help: 'Address the HTTP side listens on',
    extension: true,
  },
  http_drain_token: {
    kind: 'string',
    help: 'Bearer token POST /drain requires; unset: /drain works only on a loopback http_address',
    secret: true,
    extension: true,
  },
  ha_preempt: {
    kind: 'bool',
    default: true,
    help: '1: a returning higher-priority server takes mastership back (orderly); 0: sticky',
    extension: true,
  },
  ha_tick_ms: {
    kind: 'int',
    min: 50,
    help: 'Election tick in ms (default server_threshold x 1000)',
    extension: true,
  },
  ha_lease_ttl_ms: {
    kind: 'int',
    min: 150,
    help: 'Master lease duration in ms, DB clock (default 2 x server_keepalive)',
    extension: true,
  },
  ha_member_dead_after_ms: {
    kind: 'int',
    min: 100,
    help: 'A member not seen for this long is dead (default 2 x server_keepalive)',
    extension: true,
  },
  ha_preempt_delay_ms: {
    kind: 'int',
    min: 0,
    help: 'A higher-priority member must be live this long before the holder yields (default 2 ticks)',
    extension: true,
  },
  ha_unknown_check_ms: {
    kind: 'int',
    default: 30_000,
    min: 100,
    help: 'Period of the master-only unknown-module detection (reference: ~30 s)',
    extension: true,
  },
  ha_drain_delay_ms: {
    kind: 'int',
    default: 5000,
    min: 0,
    help: 'POST /drain: stay accepting this long after readiness turns 503, so the balancer moves away first',
    extension: true,
  },
  ha_adopt_peer_folders: {
    kind: 'bool',
    default: false,
    help: "Master re-queues a dead peer's incoming files here (incoming folders on shared storage)",
    extension: true,
  },
  ha_startup_grace_ms: {
    kind: 'int',
    min: 0,
    help: 'Wait after registering before competing for the lease (default 2 ticks)',
    extension: true,
  },
} as const satisfies SettingsTable;

export type HaSettings = Settings<typeof HA_SETTINGS>;

/** Resolved HA timings, all in milliseconds of the DB clock except `tickMs` (local timer). */
export interface HaConfig {
  readonly serverName: string;
  readonly priority: number;
  readonly keepaliveSec: number;
  readonly tickMs: number;
  readonly leaseTtlMs: number;
  readonly memberDeadAfterMs: number;
  readonly preempt: boolean;
  readonly preemptDelayMs: number;
  readonly startupGraceMs: number;
  /** Self-fence this long before the lease could expire for others (one tick, ha.md §2.9.3). */
  readonly fenceMarginMs: number;
  readonly version: string;
}

const SERVER_NAME_MAX_CHARS = 100;

/** Turns resolved settings into an `HaConfig`, rejecting timings that cannot be safe. */
export function haConfigFrom(values: HaSettings, version: string): HaConfig {
  const serverName = values.servername ?? hostname().replaceAll(/\s/g, '');
  if (serverName === '' || serverName.length > SERVER_NAME_MAX_CHARS) {
    throw new ConfigError(`servername must be 1..${SERVER_NAME_MAX_CHARS} characters`);
  }
  const keepaliveMs = values.server_keepalive * 1000;
  const tickMs = values.ha_tick_ms ?? values.server_threshold * 1000;
  const leaseTtlMs = values.ha_lease_ttl_ms ?? 2 * keepaliveMs;
  if (tickMs * 3 > leaseTtlMs) {
    // Renewals every tick must fit at least three times into a lease, or one slow tick
    // would hand the lease to a peer while we still believe we hold it (ha.md §2.9.3).
    throw new ConfigError(
      `election tick (${tickMs} ms) must be at most a third of the lease (${leaseTtlMs} ms); ` +
        'lower server_threshold/ha_tick_ms or raise server_keepalive/ha_lease_ttl_ms',
    );
  }
  return {
    serverName,
    priority: values.master,
    keepaliveSec: values.server_keepalive,
    tickMs,
    leaseTtlMs,
    memberDeadAfterMs: values.ha_member_dead_after_ms ?? 2 * keepaliveMs,
    preempt: values.ha_preempt,
    preemptDelayMs: values.ha_preempt_delay_ms ?? 2 * tickMs,
    startupGraceMs: values.ha_startup_grace_ms ?? 2 * tickMs,
    fenceMarginMs: tickMs,
    version,
  };
}
