import { readFileSync } from 'node:fs';
import type { Logger } from '../core/index.js';

/**
 * The process's open-file limit (soft RLIMIT_NOFILE; Node raises it to the hard limit at
 * start), read from /proc on Linux; undefined where it cannot be read.
 */
export function openFileLimit(): number | undefined {
  try {
    const limits = readFileSync('/proc/self/limits', 'latin1');
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
    if (!m?.[1] || m[1] === 'unlimited') return undefined;
    return Number(m[1]);
  } catch {
    return undefined;
  }
}

/**
 * Descriptors the listener may need at its limits: one per served connection plus one for the
 * temp file of its upload, one per waiting connection, and a margin for the rest of the process.
 */
export function descriptorsNeeded(maxConnections: number, maxWaiting: number): number {
  return 2 * maxConnections + maxWaiting + 256;
}

/** At the connection limits, accept() would fail with EMFILE: say so at start. */
export function warnIfFewDescriptors(
  limits: { readonly maxConnections: number; readonly maxWaitingConnections: number },
  log: Logger,
): void {
  const limit = openFileLimit();
  const { maxConnections, maxWaitingConnections } = limits;
  const needed = descriptorsNeeded(maxConnections, maxWaitingConnections);
  if (limit !== undefined && limit < needed) {
    log.warn(
      {
        event: 'fd_limit_low',
        openFileLimit: limit,
        needed,
        maxConnections,
        maxWaitingConnections,
      },
      'the open-file limit is below what max_connections and max_waiting_connections may use; raise it (ulimit -n, LimitNOFILE) or lower them',
    );
  }
}
