import { performance } from 'node:perf_hooks';
import type { Pool, PoolConnection } from 'mysql2/promise';
import { Counter } from 'prom-client';
import { ErrorCode, PandoraError, type Registry } from '../core/index.js';
import { inTransaction, type LeaseSql } from './lease-sql.js';
import type { HaConfig } from './settings.js';

/**
 * Fencing (ha.md §2.9.3), two guards that keep a former master from acting:
 * - locally, a deadline on the monotonic clock: we stop believing we are master *before* the
 *   lease can have expired for others (`createFence`);
 * - in the database, every master-only transaction re-checks the lease at our epoch under a
 *   share lock held to commit (`createFencedRunner`).
 */

export interface FencedContext {
  readonly conn: PoolConnection;
  readonly epoch: number;
}

export interface Fence {
  /** Extends the local belief after a successful acquire/renew whose request left at `sentAt`. */
  arm(sentAt: number): void;
  /** Forgets the belief (we are standby). */
  clear(): void;
  /** The deadline has not passed. */
  isHeld(): boolean;
}

/** `onExpired` runs when the deadline passes without a renewal re-arming it. */
export function createFence(
  config: Pick<HaConfig, 'leaseTtlMs' | 'fenceMarginMs'>,
  onExpired: () => void,
): Fence {
  let deadline = 0;
  let timer: NodeJS.Timeout | undefined;

  function scheduleCheck(): void {
    if (timer) clearTimeout(timer);
    // Timers may fire a fraction of a millisecond before the monotonic deadline: re-arm then.
    timer = setTimeout(
      () => {
        if (performance.now() >= deadline) onExpired();
        else scheduleCheck();
      },
      Math.max(0, deadline - performance.now()) + 1,
    );
    timer.unref();
  }

  return {
    arm(sentAt) {
      // The DB computed expiry as NOW(3) + ttl at some instant after `sentAt`; stepping down at
      // sentAt + ttl − margin is therefore always before any peer can see the lease expired.
      deadline = Math.max(deadline, sentAt + config.leaseTtlMs - config.fenceMarginMs);
      scheduleCheck();
    },
    clear() {
      deadline = 0;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
    isHeld: () => performance.now() < deadline,
  };
}

export type FencedRunner = <T>(
  action: string,
  work: (ctx: FencedContext) => Promise<T>,
  detail?: string,
) => Promise<T>;

/**
 * Runs `work` in a transaction that commits only if we still hold the lease at our epoch, and
 * audits it in the same transaction.
 */
export function createFencedRunner(deps: {
  pool: Pool;
  lease: LeaseSql;
  registry: Registry;
  isMaster: () => boolean;
  epoch: () => number;
}): FencedRunner {
  const { pool, lease } = deps;
  const fencedRejections = new Counter({
    name: 'pandora_ha_fenced_rejections_total',
    help: 'Master-only transactions refused because the lease was lost',
    registers: [deps.registry],
  });

  return async function runFenced<T>(
    action: string,
    work: (ctx: FencedContext) => Promise<T>,
    detail = '',
  ): Promise<T> {
    if (!deps.isMaster()) {
      fencedRejections.inc();
      throw new PandoraError(ErrorCode.HaFenced, `${action}: not master`);
    }
    const epoch = deps.epoch();
    return inTransaction(pool, async (conn) => {
      const began = await lease.lockIfHeld(conn, epoch);
      if (began === undefined) {
        fencedRejections.inc();
        throw new PandoraError(ErrorCode.HaFenced, `${action}: lease lost (epoch ${epoch})`);
      }
      const result = await work({ conn, epoch });
      await lease.audit(conn, { epoch, action, began, detail });
      return result;
    });
  };
}
