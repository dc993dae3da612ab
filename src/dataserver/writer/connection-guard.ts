import type { PoolConnection } from 'mysql2/promise';
import type { Logger } from '../../core/index.js';
import type { DbPool } from '../../db/index.js';
import { isTransientDbError } from '../../db/index.js';
import { BatchTimeoutError } from './jobs.js';

/**
 * The connection of one batch, guarded: a deadline that drops it when the database stops
 * answering, the `KILL` of the server sessions such drops leave behind, and shutdown's abortAll.
 */
export interface GuardedConnection {
  readonly conn: PoolConnection;
  /** Named locks were taken: RELEASE_ALL_LOCKS before the connection goes back to the pool. */
  holdsNamedLocks(): void;
  /** After a failed batch: rolls back and returns the error to throw (a dropped batch's is a BatchTimeoutError). */
  fail(err: unknown): Promise<unknown>;
  /** Ends the batch: the connection goes back to the pool, or is destroyed if it may be half-dead. */
  close(): Promise<void>;
}

export interface ConnectionGuard {
  /** A pooled connection for a batch of `files`, its deadline running. */
  acquire(files: number): Promise<GuardedConnection>;
  /** Shutdown: drops the connection of every batch running now and refuses new batches. */
  abortAll(): void;
}

/**
 * Ends a connection the way a network reset would (mysql2's own destroy() only half-closes the
 * socket, which a partitioned peer never answers): the statement waiting on it fails at once.
 */
function dropConnection(conn: PoolConnection): void {
  const { stream } = conn.connection as unknown as { stream?: { destroy(err?: Error): void } };
  stream?.destroy(
    Object.assign(new Error('connection dropped by the dataserver'), { code: 'ETIMEDOUT' }),
  );
}

export function createConnectionGuard(
  pool: DbPool,
  batchTimeoutMs: number,
  log: Logger,
): ConnectionGuard {
  /** How to drop the connection of each running batch (abortAll). */
  const running = new Set<() => void>();
  /** abortAll() was called (shutdown): no batch starts any more. */
  let aborted = false;
  /**
   * Server sessions of dropped connections. In a partition the server never sees the socket
   * go, and the session keeps its row and named locks (until wait_timeout or keepalive, hours):
   * each is killed before the next batch, once the database answers again.
   */
  const zombies = new Set<number>();

  async function killZombies(conn: PoolConnection): Promise<void> {
    for (const id of [...zombies]) {
      try {
        await conn.query(`KILL ${String(id)}`);
        log.info({ threadId: id }, 'ended the server session of a dropped batch connection');
      } catch (err) {
        // ER_NO_SUCH_THREAD: it ended by itself. Anything else: try again next batch.
        if ((err as { code?: unknown }).code !== 'ER_NO_SUCH_THREAD') throw err;
      }
      zombies.delete(id);
    }
  }

  function refuseAfterAbort(): void {
    if (aborted) throw new BatchTimeoutError('shutting down: batch not started');
  }

  async function acquire(files: number): Promise<GuardedConnection> {
    refuseAfterAbort();
    const conn = await pool.getConnection();
    try {
      refuseAfterAbort();
      if (zombies.size > 0) await killZombies(conn);
    } catch (err) {
      conn.release();
      throw err;
    }
    let namedLocks = false;
    let broken = false;
    let dropped = false; // set from the timer, read in fail()
    const drop = () => {
      dropped = true;
      const { threadId } = conn.connection as unknown as { threadId?: number | null };
      if (typeof threadId === 'number') zombies.add(threadId);
      dropConnection(conn);
    };
    running.add(drop);
    const deadline =
      batchTimeoutMs > 0
        ? setTimeout(() => {
            log.warn(
              { files, timeoutMs: batchTimeoutMs },
              'batch transaction got no answer in time; dropping its connection to retry',
            );
            drop();
          }, batchTimeoutMs).unref()
        : undefined;

    return {
      conn,
      holdsNamedLocks() {
        namedLocks = true;
      },
      async fail(err) {
        if (dropped) {
          // Rolled back by the server when it sees the connection gone, if it ever got the batch.
          broken = true;
          return new BatchTimeoutError(
            aborted
              ? 'shutting down: batch connection dropped'
              : `batch transaction still running after ${String(batchTimeoutMs)} ms; connection dropped`,
          );
        }
        if (isTransientDbError(err)) broken = true;
        await conn.query('ROLLBACK').catch(() => {
          broken = true;
        });
        return err;
      },
      async close() {
        // Still under the deadline: a database that stops answering here would hold us too.
        if (namedLocks && !broken)
          await conn.query('SELECT RELEASE_ALL_LOCKS()').catch(() => {
            broken = true;
          });
        clearTimeout(deadline);
        running.delete(drop);
        // A connection that failed mid-batch may be half-dead: never hand it back to the pool.
        if (broken) conn.destroy();
        else conn.release();
      },
    };
  }

  return {
    acquire,
    abortAll() {
      aborted = true;
      for (const drop of running) drop();
    },
  };
}
