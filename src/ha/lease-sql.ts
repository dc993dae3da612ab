import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { HaConfig } from './settings.js';
import { DB_CLOCK, eventInsertSql, eventRow, eventText } from '../db/index.js';

/**
 * Every statement on the master lease row (`tha_lease`) and the audit of fenced transactions.
 * Every comparison of time happens here, in SQL on the DB clock (ha.md §2.9.3); the election
 * loop (coordinator.ts) and the local fence (fencing.ts) only decide when to call them.
 */

/** The callback face of a new pool connection, as mysql2 hands it to 'connection' listeners. */
interface SessionConnection {
  query(sql: string, callback: (err: unknown) => void): void;
}

/**
 * Critical (4): unknown detection and the other master duties stop until a server qualifies.
 * Stamped on the database clock, like every lease comparison.
 */
const NO_MASTER_EVENT = eventInsertSql(
  eventRow({
    evento: eventText('No master-eligible server is running; master duties are suspended'),
    event_type: 'system',
    criticity: 4,
    at: DB_CLOCK,
    // NULL (the table's default), as this notice has always been stored.
    critical_instructions: null,
    warning_instructions: null,
    unknown_instructions: null,
  }),
);
/**
 * The election order: higher `master` priority first; among equal priorities the lower
 * servername (byte order, not the column's case-insensitive collation). Parameters: our
 * priority twice, our name.
 */
const OUTRANKS_ME =
  '(priority > ? OR (priority = ? AND CAST(server_name AS BINARY) < CAST(? AS BINARY)))';

export interface LeaseRow {
  /** Name of the holder ('' when the row is missing). */
  readonly holder: string;
  readonly instance: string;
  readonly epoch: number;
  /** Not expired by the DB clock. */
  readonly isValid: boolean;
}

export interface LeaseSql {
  read(): Promise<LeaseRow>;
  /**
   * Takes the lease if it is free and no live candidate outranks us (or the one that does is
   * stuck); returns the new epoch, or undefined when the lease stays with someone else.
   */
  tryAcquire(): Promise<number | undefined>;
  /** Extends our lease at `epoch`; false when it expired or was taken meanwhile. */
  renew(epoch: number): Promise<boolean>;
  /** Expires our lease at `epoch` now, so a peer may take it at once. */
  release(epoch: number): Promise<void>;
  /** A live candidate that outranks us has waited the preempt delay. */
  hasHigherPriorityWaiting(): Promise<boolean>;
  /** Clears the installation-wide "no master-eligible server" flag. */
  clearNoMaster(): Promise<void>;
  /**
   * Sets the flag; the server that flips it also inserts the system event in the same
   * transaction, so the event is raised once per transition for the whole installation.
   */
  flagNoMaster(): Promise<void>;
  /**
   * Inside a fenced transaction: share-locks the lease row if we still hold it at `epoch` and
   * returns the DB time the check passed (microseconds), or undefined when the lease is lost.
   */
  lockIfHeld(conn: PoolConnection, epoch: number): Promise<string | undefined>;
  /** Inside a fenced transaction: the `tha_master_audit` row of what it did. */
  audit(
    conn: PoolConnection,
    entry: { epoch: number; action: string; began: string; detail: string },
  ): Promise<void>;
}

/**
 * Every HA session: lock waits end after 1 s (a renew or an acquisition must not queue behind a
 * stalled transaction for InnoDB's default 50 s), and a transaction left idle by a paused or
 * partitioned process is killed by MariaDB, releasing its share lock on the lease row. MySQL
 * lacks idle_transaction_timeout; there only the lock-wait bound applies.
 */
export function boundHaSessions(pool: Pool, leaseTtlMs: number): void {
  // A fenced transaction that stalls (process paused, network partition) must not keep the lease
  // row share-locked forever: MariaDB kills an idle-in-transaction session after this.
  const idleTxnTimeoutSec = Math.max(1, Math.ceil(leaseTtlMs / 2000));
  pool.pool.on('connection', (conn: SessionConnection) => {
    conn.query(
      `SET SESSION innodb_lock_wait_timeout = 1, idle_transaction_timeout = ${idleTxnTimeoutSec}`,
      (err) => {
        if (err) conn.query('SET SESSION innodb_lock_wait_timeout = 1', () => undefined);
      },
    );
  });
}

/** Runs `work` in a transaction on its own connection; rolls back on any error. */
export async function inTransaction<T>(
  pool: Pool,
  work: (conn: PoolConnection) => Promise<T>,
): Promise<T> {
  const conn = await pool.getConnection();
  try {
    await conn.beginTransaction();
    const result = await work(conn);
    await conn.commit();
    return result;
  } catch (err) {
    await conn.rollback().catch(() => undefined);
    throw err;
  } finally {
    conn.release();
  }
}

/** What every lease statement needs: the pool, our identity and the statement timeout. */
interface LeaseContext {
  readonly pool: Pool;
  readonly config: HaConfig;
  readonly instanceId: string;
  readonly timeout: number;
}

export function createLeaseSql(
  pool: Pool,
  config: HaConfig,
  me: { instanceId: string; queryTimeoutMs: number },
): LeaseSql {
  const ctx: LeaseContext = { pool, config, instanceId: me.instanceId, timeout: me.queryTimeoutMs };
  return {
    ...holdStatements(ctx),
    ...acquireStatements(ctx),
    ...noMasterFlagStatements(ctx),
    ...fencedStatements(ctx),
  };
}

/** The holder's side: read the row, extend our lease, expire it. */
function holdStatements(ctx: LeaseContext): Pick<LeaseSql, 'read' | 'renew' | 'release'> {
  const { pool, instanceId, timeout } = ctx;
  const ttlUs = ctx.config.leaseTtlMs * 1000;

  async function read(): Promise<LeaseRow> {
    const [rows] = await pool.query<RowDataPacket[]>({
      sql: `SELECT holder_name, holder_instance, epoch, expires_at > NOW(3) AS is_valid
            FROM tha_lease WHERE role = 'master'`,
      timeout,
    });
    const row = rows[0];
    if (!row) return { holder: '', instance: '', epoch: 0, isValid: false };
    return {
      holder: String(row['holder_name']),
      instance: String(row['holder_instance']),
      epoch: Number(row['epoch']),
      isValid: Number(row['is_valid']) === 1,
    };
  }

  async function renew(epoch: number): Promise<boolean> {
    const [result] = await pool.query<ResultSetHeader>({
      sql: `UPDATE tha_lease SET expires_at = NOW(3) + INTERVAL ? MICROSECOND
            WHERE role = 'master' AND holder_instance = ? AND epoch = ? AND expires_at > NOW(3)`,
      values: [ttlUs, instanceId, epoch],
      timeout,
    });
    return result.affectedRows === 1;
  }

  async function release(epoch: number): Promise<void> {
    await pool.query({
      sql: `UPDATE tha_lease SET expires_at = NOW(3)
            WHERE role = 'master' AND holder_instance = ? AND epoch = ?`,
      values: [instanceId, epoch],
      timeout,
    });
  }

  return { read, renew, release };
}

/** Who may take the lease: acquisition when free, and the preemption check of a holder. */
function acquireStatements(
  ctx: LeaseContext,
): Pick<LeaseSql, 'tryAcquire' | 'hasHigherPriorityWaiting'> {
  const { pool, config, instanceId, timeout } = ctx;
  const ttlUs = config.leaseTtlMs * 1000;
  const deadUs = config.memberDeadAfterMs * 1000;
  const outranksMeValues = (): [number, number, string] => [
    config.priority,
    config.priority,
    config.serverName,
  ];

  /** In the acquiring transaction: does a live candidate that outranks us block the take-over? */
  async function isOutranked(conn: PoolConnection, freeForUs: number): Promise<boolean> {
    // Members that outrank us: a higher priority, or the same priority and a lower servername
    // (byte order), so ties resolve the same way on every server whatever the timing.
    const [rankRows] = await conn.query<RowDataPacket[]>({
      sql: `SELECT COUNT(*) AS outranked,
              IFNULL(SUM(candidate_since > NOW(3) - INTERVAL ? MICROSECOND), 0) AS outranked_recent
            FROM tha_member
            WHERE ${OUTRANKS_ME} AND state = 'running' AND candidate = 1
              AND last_seen >= NOW(3) - INTERVAL ? MICROSECOND`,
      values: [deadUs + config.startupGraceMs * 1000, ...outranksMeValues(), deadUs],
      timeout,
    });
    const outranked = Number(rankRows[0]?.['outranked'] ?? 0) > 0;
    const outrankedRecent = Number(rankRows[0]?.['outranked_recent'] ?? 0) > 0;
    // Liveness guard (ha.md §2.9.3): a member that outranks us, has been a candidate for
    // longer than its grace plus a dead-interval, yet left the lease free for a whole
    // dead-interval, is failing to acquire; it no longer blocks us.
    const isStuck = freeForUs > deadUs && !outrankedRecent;
    return outranked && !isStuck;
  }

  function tryAcquire(): Promise<number | undefined> {
    return inTransaction(pool, async (conn) => {
      const [leaseRows] = await conn.query<RowDataPacket[]>({
        sql: `SELECT expires_at > NOW(3) AS is_valid,
                TIMESTAMPDIFF(MICROSECOND, expires_at, NOW(3)) AS free_for_us
              FROM tha_lease WHERE role = 'master' FOR UPDATE`,
        timeout,
      });
      const lease = leaseRows[0];
      if (!lease || Number(lease['is_valid']) === 1) return undefined;
      if (await isOutranked(conn, Number(lease['free_for_us']))) return undefined;
      await conn.query({
        sql: `UPDATE tha_lease SET holder_name = ?, holder_instance = ?, holder_priority = ?,
                epoch = epoch + 1, acquired_at = NOW(3), expires_at = NOW(3) + INTERVAL ? MICROSECOND
              WHERE role = 'master'`,
        values: [config.serverName, instanceId, config.priority, ttlUs],
        timeout,
      });
      const [epochRows] = await conn.query<RowDataPacket[]>({
        sql: "SELECT epoch FROM tha_lease WHERE role = 'master'",
        timeout,
      });
      return Number(epochRows[0]?.['epoch'] ?? 0);
    });
  }

  async function hasHigherPriorityWaiting(): Promise<boolean> {
    const [rows] = await pool.query<RowDataPacket[]>({
      sql: `SELECT COUNT(*) AS n FROM tha_member
            WHERE ${OUTRANKS_ME} AND state = 'running' AND candidate = 1
              AND last_seen >= NOW(3) - INTERVAL ? MICROSECOND
              AND candidate_since <= NOW(3) - INTERVAL ? MICROSECOND`,
      values: [...outranksMeValues(), deadUs, config.preemptDelayMs * 1000],
      timeout,
    });
    return Number(rows[0]?.['n'] ?? 0) > 0;
  }

  return { tryAcquire, hasHigherPriorityWaiting };
}

/** The installation-wide "no master-eligible server" flag and its one system event. */
function noMasterFlagStatements(
  ctx: LeaseContext,
): Pick<LeaseSql, 'clearNoMaster' | 'flagNoMaster'> {
  const { pool, timeout } = ctx;

  async function clearNoMaster(): Promise<void> {
    await pool.query({
      sql: "UPDATE tha_lease SET no_master_since = NULL WHERE role = 'master'",
      timeout,
    });
  }

  function flagNoMaster(): Promise<void> {
    return inTransaction(pool, async (conn) => {
      const [flipped] = await conn.query<ResultSetHeader>({
        sql: `UPDATE tha_lease SET no_master_since = NOW(3)
              WHERE role = 'master' AND no_master_since IS NULL`,
        timeout,
      });
      if (flipped.affectedRows !== 1) return;
      await conn.query({ ...NO_MASTER_EVENT, timeout });
    });
  }

  return { clearNoMaster, flagNoMaster };
}

/** Inside a fenced transaction: the lease check that holds to commit, and the audit row. */
function fencedStatements(ctx: LeaseContext): Pick<LeaseSql, 'lockIfHeld' | 'audit'> {
  const { config, instanceId, timeout } = ctx;

  async function lockIfHeld(conn: PoolConnection, epoch: number): Promise<string | undefined> {
    // Share lock on the lease row, held to commit: an acquisition (exclusive lock) cannot
    // slip in between this check and our commit, and we cannot commit after losing it.
    const [rows] = await conn.query<RowDataPacket[]>({
      sql: `SELECT DATE_FORMAT(NOW(6), '%Y-%m-%d %H:%i:%s.%f') AS began FROM tha_lease
            WHERE role = 'master' AND holder_instance = ? AND epoch = ? AND expires_at > NOW(3)
            LOCK IN SHARE MODE`,
      values: [instanceId, epoch],
      timeout,
    });
    const began: unknown = rows[0]?.['began'];
    return typeof began === 'string' ? began : undefined;
  }

  async function audit(
    conn: PoolConnection,
    entry: { epoch: number; action: string; began: string; detail: string },
  ): Promise<void> {
    await conn.query({
      sql: `INSERT INTO tha_master_audit
              (server_name, instance_id, epoch, action, began_at, ended_at, detail)
            VALUES (?, ?, ?, ?, ?, NOW(6), ?)`,
      values: [
        config.serverName,
        instanceId,
        entry.epoch,
        entry.action,
        entry.began,
        entry.detail.slice(0, 255),
      ],
      timeout,
    });
  }

  return { lockIfHeld, audit };
}
