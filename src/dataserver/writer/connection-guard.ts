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
  return new PoolConnectionGuard(pool, batchTimeoutMs, log);
}

class PoolConnectionGuard implements ConnectionGuard {
  readonly #pool: DbPool;
  readonly #batchTimeoutMs: number;
  readonly #log: Logger;
  /** How to drop the connection of each running batch (abortAll). */
  readonly #running = new Set<() => void>();
  /**
   * Server sessions of dropped connections. In a partition the server never sees the socket
   * go, and the session keeps its row and named locks (until wait_timeout or keepalive, hours):
   * each is killed before the next batch, once the database answers again.
   */
  readonly #zombies = new Set<number>();
  /** abortAll() was called (shutdown): no batch starts any more. */
  aborted = false;

  constructor(pool: DbPool, batchTimeoutMs: number, log: Logger) {
    this.#pool = pool;
    this.#batchTimeoutMs = batchTimeoutMs;
    this.#log = log;
  }

  async acquire(files: number): Promise<GuardedConnection> {
    this.#refuseAfterAbort();
    const conn = await this.#pool.getConnection();
    try {
      this.#refuseAfterAbort();
      if (this.#zombies.size > 0) await this.#killZombies(conn);
    } catch (err) {
      conn.release();
      throw err;
    }
    return new BatchConnection(conn, {
      guard: this,
      files,
      batchTimeoutMs: this.#batchTimeoutMs,
      log: this.#log,
    });
  }

  abortAll(): void {
    this.aborted = true;
    for (const drop of this.#running) drop();
  }

  /** A batch's connection is running: `drop` ends it on abortAll. */
  track(drop: () => void): void {
    this.#running.add(drop);
  }

  untrack(drop: () => void): void {
    this.#running.delete(drop);
  }

  /** The server session of a dropped connection, to KILL before the next batch. */
  addZombie(threadId: number): void {
    this.#zombies.add(threadId);
  }

  #refuseAfterAbort(): void {
    if (this.aborted) throw new BatchTimeoutError('shutting down: batch not started');
  }

  async #killZombies(conn: PoolConnection): Promise<void> {
    for (const id of [...this.#zombies]) {
      try {
        await conn.query(`KILL ${String(id)}`);
        this.#log.info({ threadId: id }, 'ended the server session of a dropped batch connection');
      } catch (err) {
        // ER_NO_SUCH_THREAD: it ended by itself. Anything else: try again next batch.
        if ((err as { code?: unknown }).code !== 'ER_NO_SUCH_THREAD') throw err;
      }
      this.#zombies.delete(id);
    }
  }
}

/** One batch's connection under its deadline. */
class BatchConnection implements GuardedConnection {
  readonly conn: PoolConnection;
  readonly #guard: PoolConnectionGuard;
  readonly #batchTimeoutMs: number;
  readonly #deadline: NodeJS.Timeout | undefined;
  readonly #drop = () => {
    this.#dropped = true;
    const { threadId } = this.conn.connection as unknown as { threadId?: number | null };
    if (typeof threadId === 'number') this.#guard.addZombie(threadId);
    dropConnection(this.conn);
  };
  #namedLocks = false;
  #broken = false;
  /** Set from the deadline or abortAll, read in fail(). */
  #dropped = false;

  constructor(
    conn: PoolConnection,
    options: { guard: PoolConnectionGuard; files: number; batchTimeoutMs: number; log: Logger },
  ) {
    const { guard, files, batchTimeoutMs, log } = options;
    this.conn = conn;
    this.#guard = guard;
    this.#batchTimeoutMs = batchTimeoutMs;
    guard.track(this.#drop);
    this.#deadline =
      batchTimeoutMs > 0
        ? setTimeout(() => {
            log.warn(
              { files, timeoutMs: batchTimeoutMs },
              'batch transaction got no answer in time; dropping its connection to retry',
            );
            this.#drop();
          }, batchTimeoutMs).unref()
        : undefined;
  }

  holdsNamedLocks(): void {
    this.#namedLocks = true;
  }

  async fail(err: unknown): Promise<unknown> {
    if (this.#dropped) {
      // Rolled back by the server when it sees the connection gone, if it ever got the batch.
      this.#broken = true;
      return new BatchTimeoutError(
        this.#guard.aborted
          ? 'shutting down: batch connection dropped'
          : `batch transaction still running after ${String(this.#batchTimeoutMs)} ms; connection dropped`,
      );
    }
    if (isTransientDbError(err)) this.#broken = true;
    await this.conn.query('ROLLBACK').catch(() => {
      this.#broken = true;
    });
    return err;
  }

  async close(): Promise<void> {
    // Still under the deadline: a database that stops answering here would hold us too.
    if (this.#namedLocks && !this.#broken)
      await this.conn.query('SELECT RELEASE_ALL_LOCKS()').catch(() => {
        this.#broken = true;
      });
    clearTimeout(this.#deadline);
    this.#guard.untrack(this.#drop);
    // A connection that failed mid-batch may be half-dead: never hand it back to the pool.
    if (this.#broken) this.conn.destroy();
    else this.conn.release();
  }
}
