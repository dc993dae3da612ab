import type { TentacleConfig } from './options.js';

/**
 * What a running listener can take from a new configuration (SIGHUP) and what only a restart
 * applies. Limits, timeouts, filters, the password and the TLS certificate apply to connections
 * accepted from then on (a session keeps the configuration it started with). Where and how it
 * listens and stores (addresses, port, folder, sync, file mode, overwrite, proxying, TLS on or
 * off) stays as started: changing those under live sessions is a restart's job.
 */

type Field = keyof TentacleConfig;

/** Kept from the running configuration; a different new value is reported as needing a restart. */
const RESTART_FIELDS: readonly Field[] = [
  'directory',
  'listen',
  'port',
  'sync',
  'fileMode',
  'overwrite',
  'proxy',
  'proxyProtocol',
  'passDelayMaxMs',
];

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.from(a).equals(b);
  if (a instanceof RegExp && b instanceof RegExp) return a.source === b.source;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => same(x, b[i]));
  }
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((k) =>
      same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
    );
  }
  return false;
}

export interface Reconfiguration {
  /** The configuration to run on: the new one, with the restart-only fields kept. */
  readonly config: TentacleConfig;
  /** Fields whose new value is now in effect (for new connections). */
  readonly applied: readonly string[];
  /** Fields whose new value waits for a restart. */
  readonly restartNeeded: readonly string[];
}

/**
 * Merges a freshly resolved configuration into the running one. The TLS context is always
 * taken anew when TLS stays on with the same client-certificate rule (a renewed certificate
 * under the same file name is the usual reason for a SIGHUP).
 */
export function reconfigure(running: TentacleConfig, next: TentacleConfig): Reconfiguration {
  const merged: Record<string, unknown> = { ...next };
  const applied: string[] = [];
  const restartNeeded: string[] = [];
  for (const field of Object.keys(next) as Field[]) {
    if (field === 'tls') continue;
    if (same(running[field], next[field])) continue;
    if (RESTART_FIELDS.includes(field)) {
      merged[field] = running[field];
      restartNeeded.push(field);
    } else {
      applied.push(field);
    }
  }
  const tlsModeKept =
    (running.tls === undefined) === (next.tls === undefined) &&
    running.tls?.requireClientCert === next.tls?.requireClientCert;
  if (!tlsModeKept) {
    merged['tls'] = running.tls;
    restartNeeded.push('tls');
  } else if (next.tls !== undefined) {
    applied.push('tls');
  }
  return { config: Object.freeze(merged) as unknown as TentacleConfig, applied, restartNeeded };
}
