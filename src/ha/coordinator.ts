import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { ErrorCode, PandoraError, describeError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Registry } from '../core/metrics.js';
import { Counter, Gauge } from 'prom-client';
import { createMembership, type Membership, type Peer } from './membership.js';
import type { HaConfig } from './settings.js';

export type Role = 'master' | 'standby';

/** The callback face of a new pool connection, as mysql2 hands it to 'connection' listeners. */
interface SessionConnection {
  query(sql: string, callback: (err: unknown) => void): void;
}

/**
 * `No master-eligible server is running; master duties are suspended`, in `safe_input` form
 * (spaces → `&#x20;`), as every `tevento.evento` is stored.
 */
const NO_MASTER_EVENT =
  'No master-eligible server is running; master duties are suspended'.replaceAll(' ', '&#x20;');
/** Critical: unknown detection and the other master duties stop until a server qualifies. */
const NO_MASTER_CRITICITY = 4;
/**
 * The election order: higher `master` priority first; among equal priorities the lower
 * servername (byte order, not the column's case-insensitive collation). Parameters: our
 * priority twice, our name.
 */
const OUTRANKS_ME =
  '(priority > ? OR (priority = ? AND CAST(server_name AS BINARY) < CAST(? AS BINARY)))';

export interface RoleChange {
  readonly role: Role;
  readonly epoch: number;
  readonly reason: string;
}

export interface HaSnapshot {
  readonly server: string;
  readonly instanceId: string;
  readonly role: Role;
  /** Name of the current lease holder ('' when the lease is free or unknown). */
  readonly master: string;
  /** Our epoch while master, otherwise the highest epoch we have seen. */
  readonly epoch: number;
  readonly priority: number;
  readonly isCandidate: boolean;
  /** Milliseconds since the last successful heartbeat (monotonic clock); undefined before one. */
  readonly heartbeatAgeMs: number | undefined;
  readonly isDbReachable: boolean;
  readonly peers: readonly Peer[];
}

export interface FencedContext {
  readonly conn: PoolConnection;
  readonly epoch: number;
}

export interface HaCoordinator {
  readonly events: EventEmitter<{ roleChanged: [RoleChange]; fatal: [PandoraError] }>;
  readonly membership: Membership;
  start(): Promise<void>;
  isMaster(): boolean;
  snapshot(): HaSnapshot;
  /** Runs `work` in a transaction that commits only if we still hold the lease at our epoch. */
  runFenced<T>(
    action: string,
    work: (ctx: FencedContext) => Promise<T>,
    detail?: string,
  ): Promise<T>;
  /** Stop competing (draining): a master resigns at once so a peer takes over. */
  setCandidate(isCandidate: boolean): Promise<void>;
  /** Resign, mark stopped, stop the loop. Idempotent. */
  close(): Promise<void>;
}

export interface CoordinatorOptions {
  readonly incomingDir?: string;
  readonly httpPort?: number;
}

/**
 * Master election with a fenced lease (ha.md §2.9.3). One `setTimeout` chain (ticks never
 * overlap) beats the membership row, then acquires, renews or yields the lease. Every
 * comparison of time happens in SQL on the DB clock; the only local clock used is the monotonic
 * one, to step down *before* the lease can have expired for others.
 */
export function createHaCoordinator(
  config: HaConfig,
  deps: { pool: Pool; log: Logger; registry: Registry },
  options: CoordinatorOptions = {},
): HaCoordinator {
  const { pool, registry } = deps;
  const log = deps.log.child({ component: 'ha' });
  const queryTimeoutMs = Math.max(200, Math.min(2000, Math.floor(config.leaseTtlMs / 3)));
  const membership = createMembership(config, { pool, log }, { ...options, queryTimeoutMs });
  const events = new EventEmitter<{ roleChanged: [RoleChange]; fatal: [PandoraError] }>();
  const ttlUs = config.leaseTtlMs * 1000;
  const deadUs = config.memberDeadAfterMs * 1000;
  // A fenced transaction that stalls (process paused, network partition) must not keep the lease
  // row share-locked forever: MariaDB kills an idle-in-transaction session after this.
  const idleTxnTimeoutSec = Math.max(1, Math.ceil(config.leaseTtlMs / 2000));

  const masterGauge = new Gauge({
    name: 'pandora_ha_master',
    help: '1 while this server holds the master lease',
    registers: [registry],
  });
  const epochGauge = new Gauge({
    name: 'pandora_ha_epoch',
    help: 'Fencing epoch: ours while master, else the highest seen',
    registers: [registry],
  });
  const roleChanges = new Counter({
    name: 'pandora_ha_role_changes_total',
    help: 'Role transitions of this server',
    registers: [registry],
  });
  const fencedRejections = new Counter({
    name: 'pandora_ha_fenced_rejections_total',
    help: 'Master-only transactions refused because the lease was lost',
    registers: [registry],
  });
  const tickErrors = new Counter({
    name: 'pandora_ha_tick_errors_total',
    help: 'Election ticks that failed (database unreachable or slow)',
    registers: [registry],
  });

  let role: Role = 'standby';
  let epoch = 0;
  let masterName = '';
  let isCandidate = true;
  let isDbReachable = false;
  let fenceDeadline = 0;
  let fenceTimer: NodeJS.Timeout | undefined;
  let tickTimer: NodeJS.Timeout | undefined;
  let tickInFlight: Promise<void> = Promise.resolve();
  let graceUntil = 0;
  let lastHeartbeatAt: number | undefined;
  let peers: Peer[] = [];
  let hadNoEligible = false;
  let isStopped = false;
  let closing: Promise<void> | undefined;

  // Every HA session: lock waits end after 1 s (a renew or an acquisition must not queue behind a
  // stalled transaction for InnoDB's default 50 s), and a transaction left idle by a paused or
  // partitioned process is killed by MariaDB, releasing its share lock on the lease row. MySQL
  // lacks idle_transaction_timeout; there only the lock-wait bound applies.
  pool.pool.on('connection', (conn: SessionConnection) => {
    conn.query(
      `SET SESSION innodb_lock_wait_timeout = 1, idle_transaction_timeout = ${idleTxnTimeoutSec}`,
      (err) => {
        if (err) conn.query('SET SESSION innodb_lock_wait_timeout = 1', () => undefined);
      },
    );
  });

  function setRole(next: Role, reason: string): void {
    if (next === 'standby') {
      fenceDeadline = 0;
      if (fenceTimer) clearTimeout(fenceTimer);
      fenceTimer = undefined;
    }
    if (next === role) return;
    role = next;
    masterGauge.set(next === 'master' ? 1 : 0);
    epochGauge.set(epoch);
    roleChanges.inc();
    if (next === 'master') masterName = config.serverName;
    else if (masterName === config.serverName) masterName = '';
    log.info({ event: 'roleChanged', role: next, epoch, reason }, `now ${next} (${reason})`);
    events.emit('roleChanged', { role: next, epoch, reason });
  }

  /** Extends the local belief after a successful acquire/renew whose request left at `sentAt`. */
  function armFence(sentAt: number): void {
    // The DB computed expiry as NOW(3) + ttl at some instant after `sentAt`; stepping down at
    // sentAt + ttl − margin is therefore always before any peer can see the lease expired.
    fenceDeadline = Math.max(fenceDeadline, sentAt + config.leaseTtlMs - config.fenceMarginMs);
    scheduleFenceCheck();
  }

  function scheduleFenceCheck(): void {
    if (fenceTimer) clearTimeout(fenceTimer);
    // Timers may fire a fraction of a millisecond before the monotonic deadline: re-arm then.
    fenceTimer = setTimeout(
      () => {
        if (role !== 'master') return;
        if (performance.now() >= fenceDeadline) {
          setRole('standby', 'self-fenced: lease not renewed in time');
        } else scheduleFenceCheck();
      },
      Math.max(0, fenceDeadline - performance.now()) + 1,
    );
    fenceTimer.unref();
  }

  function isMaster(): boolean {
    return role === 'master' && performance.now() < fenceDeadline;
  }

  async function readLease(): Promise<{
    holder: string;
    instance: string;
    epoch: number;
    isValid: boolean;
  }> {
    const [rows] = await pool.query<RowDataPacket[]>({
      sql: `SELECT holder_name, holder_instance, epoch, expires_at > NOW(3) AS is_valid
            FROM tha_lease WHERE role = 'master'`,
      timeout: queryTimeoutMs,
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

  async function tryAcquire(): Promise<void> {
    const sentAt = performance.now();
    const conn = await pool.getConnection();
    try {
      await conn.beginTransaction();
      const [leaseRows] = await conn.query<RowDataPacket[]>({
        sql: `SELECT expires_at > NOW(3) AS is_valid,
                TIMESTAMPDIFF(MICROSECOND, expires_at, NOW(3)) AS free_for_us
              FROM tha_lease WHERE role = 'master' FOR UPDATE`,
        timeout: queryTimeoutMs,
      });
      const lease = leaseRows[0];
      if (!lease || Number(lease['is_valid']) === 1) {
        await conn.rollback();
        return;
      }
      // Members that outrank us: a higher priority, or the same priority and a lower servername
      // (byte order), so ties resolve the same way on every server whatever the timing.
      const [rankRows] = await conn.query<RowDataPacket[]>({
        sql: `SELECT COUNT(*) AS outranked,
                IFNULL(SUM(candidate_since > NOW(3) - INTERVAL ? MICROSECOND), 0) AS outranked_recent
              FROM tha_member
              WHERE ${OUTRANKS_ME} AND state = 'running' AND candidate = 1
                AND last_seen >= NOW(3) - INTERVAL ? MICROSECOND`,
        values: [deadUs + config.startupGraceMs * 1000, ...outranksMeValues(), deadUs],
        timeout: queryTimeoutMs,
      });
      const outranked = Number(rankRows[0]?.['outranked'] ?? 0) > 0;
      const outrankedRecent = Number(rankRows[0]?.['outranked_recent'] ?? 0) > 0;
      // Liveness guard (ha.md §2.9.3): a member that outranks us, has been a candidate for
      // longer than its grace plus a dead-interval, yet left the lease free for a whole
      // dead-interval, is failing to acquire; it no longer blocks us.
      const isStuck = Number(lease['free_for_us']) > deadUs && !outrankedRecent;
      if (outranked && !isStuck) {
        await conn.rollback();
        return;
      }
      await conn.query({
        sql: `UPDATE tha_lease SET holder_name = ?, holder_instance = ?, holder_priority = ?,
                epoch = epoch + 1, acquired_at = NOW(3), expires_at = NOW(3) + INTERVAL ? MICROSECOND
              WHERE role = 'master'`,
        values: [config.serverName, membership.instanceId, config.priority, ttlUs],
        timeout: queryTimeoutMs,
      });
      const [epochRows] = await conn.query<RowDataPacket[]>({
        sql: "SELECT epoch FROM tha_lease WHERE role = 'master'",
        timeout: queryTimeoutMs,
      });
      await conn.commit();
      epoch = Number(epochRows[0]?.['epoch'] ?? 0);
      armFence(sentAt);
      setRole('master', 'acquired');
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      throw err;
    } finally {
      conn.release();
    }
  }

  async function renew(): Promise<boolean> {
    const sentAt = performance.now();
    const [result] = await pool.query<ResultSetHeader>({
      sql: `UPDATE tha_lease SET expires_at = NOW(3) + INTERVAL ? MICROSECOND
            WHERE role = 'master' AND holder_instance = ? AND epoch = ? AND expires_at > NOW(3)`,
      values: [ttlUs, membership.instanceId, epoch],
      timeout: queryTimeoutMs,
    });
    if (result.affectedRows === 1) {
      armFence(sentAt);
      return true;
    }
    return false;
  }

  async function release(reason: string): Promise<void> {
    const myEpoch = epoch;
    // Stop acting first: no master job may start once the release can be visible to peers.
    setRole('standby', reason);
    await pool.query({
      sql: `UPDATE tha_lease SET expires_at = NOW(3)
            WHERE role = 'master' AND holder_instance = ? AND epoch = ?`,
      values: [membership.instanceId, myEpoch],
      timeout: queryTimeoutMs,
    });
    masterName = '';
  }

  /** A live candidate that outranks us has waited the preempt delay: hand over to it. */
  async function hasHigherPriorityWaiting(): Promise<boolean> {
    const [rows] = await pool.query<RowDataPacket[]>({
      sql: `SELECT COUNT(*) AS n FROM tha_member
            WHERE ${OUTRANKS_ME} AND state = 'running' AND candidate = 1
              AND last_seen >= NOW(3) - INTERVAL ? MICROSECOND
              AND candidate_since <= NOW(3) - INTERVAL ? MICROSECOND`,
      values: [...outranksMeValues(), deadUs, config.preemptDelayMs * 1000],
      timeout: queryTimeoutMs,
    });
    return Number(rows[0]?.['n'] ?? 0) > 0;
  }

  function outranksMeValues(): [number, number, string] {
    return [config.priority, config.priority, config.serverName];
  }

  /**
   * "No master-eligible server" is raised once per transition for the whole installation (not
   * once per server): the first server to flip `no_master_since` on the lease row inserts the
   * system event, in the same transaction; the flag clears when an eligible server is back.
   */
  async function noteEligibility(): Promise<void> {
    const hasEligible = peers.some((p) => p.isLive && p.isCandidate && p.priority > 0);
    if (hasEligible === !hadNoEligible) return;
    hadNoEligible = !hasEligible;
    if (hasEligible) {
      await pool.query({
        sql: "UPDATE tha_lease SET no_master_since = NULL WHERE role = 'master'",
        timeout: queryTimeoutMs,
      });
      return;
    }
    log.warn(
      { event: 'noMasterEligible' },
      'no live master-eligible server (all master 0 or down)',
    );
    const conn = await pool.getConnection();
    try {
      await conn.beginTransaction();
      const [flipped] = await conn.query<ResultSetHeader>({
        sql: `UPDATE tha_lease SET no_master_since = NOW(3)
              WHERE role = 'master' AND no_master_since IS NULL`,
        timeout: queryTimeoutMs,
      });
      if (flipped.affectedRows === 1) {
        await conn.query({
          sql: `INSERT INTO tevento (id_agente, id_usuario, id_grupo, estado, timestamp, evento,
                  utimestamp, event_type, criticity, source, id_extra, tags, custom_data, data,
                  event_custom_id)
                VALUES (0, '', 0, 0, NOW(), ?, UNIX_TIMESTAMP(), 'system', ?, 'monitoring_server',
                  '', '', '', '', '')`,
          values: [NO_MASTER_EVENT, NO_MASTER_CRITICITY],
          timeout: queryTimeoutMs,
        });
      }
      await conn.commit();
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      hadNoEligible = false; // try again next tick
      throw err;
    } finally {
      conn.release();
    }
  }

  async function leaseStep(): Promise<void> {
    const lease = await readLease();
    masterName = lease.isValid ? lease.holder : '';
    if (role === 'master') {
      if (lease.instance !== membership.instanceId || lease.epoch !== epoch) {
        epoch = Math.max(epoch, lease.epoch);
        setRole('standby', `lease taken by ${lease.holder} at epoch ${lease.epoch}`);
        return;
      }
      if (!isCandidate) {
        await release('resigned: not a candidate');
        return;
      }
      if (config.preempt && (await hasHigherPriorityWaiting())) {
        await release('handover to a higher-priority server');
        return;
      }
      if (!(await renew())) setRole('standby', 'lease renewal refused (expired or taken)');
      return;
    }
    epoch = Math.max(epoch, lease.epoch);
    epochGauge.set(epoch);
    if (!isCandidate || config.priority === 0 || performance.now() < graceUntil) return;
    if (lease.isValid) return;
    await tryAcquire();
  }

  async function tick(): Promise<void> {
    try {
      await membership.heartbeat(isCandidate);
    } catch (err) {
      if (err instanceof PandoraError && err.code === ErrorCode.HaDuplicateName) {
        setRole('standby', 'evicted');
        isStopped = true;
        log.error({ err, event: 'evicted' }, err.message);
        events.emit('fatal', err);
        return;
      }
      tickErrors.inc();
      if (isDbReachable) {
        log.warn({ err: describeError(err), event: 'dbUnreachable' }, 'heartbeat failed');
      }
      isDbReachable = false;
      return;
    }
    if (!isDbReachable) {
      // After reconnecting, give peers a moment so the highest priority wins outright.
      graceUntil = performance.now() + config.startupGraceMs;
      isDbReachable = true;
      log.info({ event: 'dbReachable' }, 'database reachable again; heartbeat written');
    }
    lastHeartbeatAt = performance.now();
    try {
      await leaseStep();
      peers = await membership.peers();
      await noteEligibility();
    } catch (err) {
      // A lock wait or a slow statement: the next tick tries again; self-fencing covers a
      // master that keeps failing to renew.
      tickErrors.inc();
      log.warn({ err: describeError(err), event: 'leaseStepFailed' }, 'lease step failed');
    }
  }

  function scheduleNext(delayMs: number): void {
    if (isStopped) return;
    tickTimer = setTimeout(() => {
      const startedAt = performance.now();
      tickInFlight = tick().then(() => {
        scheduleNext(Math.max(0, config.tickMs - (performance.now() - startedAt)));
      });
    }, delayMs);
    tickTimer.unref();
  }

  async function start(): Promise<void> {
    await membership.register();
    isDbReachable = true;
    lastHeartbeatAt = performance.now();
    graceUntil = performance.now() + config.startupGraceMs;
    log.info(
      { event: 'registered', instanceId: membership.instanceId, priority: config.priority },
      `registered as ${config.serverName} (master priority ${config.priority})`,
    );
    scheduleNext(0);
  }

  async function runFenced<T>(
    action: string,
    work: (ctx: FencedContext) => Promise<T>,
    detail = '',
  ): Promise<T> {
    if (!isMaster()) {
      fencedRejections.inc();
      throw new PandoraError(ErrorCode.HaFenced, `${action}: not master`);
    }
    const myEpoch = epoch;
    const conn = await pool.getConnection();
    try {
      await conn.beginTransaction();
      // Share lock on the lease row, held to commit: an acquisition (exclusive lock) cannot
      // slip in between this check and our commit, and we cannot commit after losing it.
      const [rows] = await conn.query<RowDataPacket[]>({
        sql: `SELECT DATE_FORMAT(NOW(6), '%Y-%m-%d %H:%i:%s.%f') AS began FROM tha_lease
              WHERE role = 'master' AND holder_instance = ? AND epoch = ? AND expires_at > NOW(3)
              LOCK IN SHARE MODE`,
        values: [membership.instanceId, myEpoch],
        timeout: queryTimeoutMs,
      });
      const began: unknown = rows[0]?.['began'];
      if (typeof began !== 'string') {
        fencedRejections.inc();
        throw new PandoraError(ErrorCode.HaFenced, `${action}: lease lost (epoch ${myEpoch})`);
      }
      const result = await work({ conn, epoch: myEpoch });
      await conn.query({
        sql: `INSERT INTO tha_master_audit
                (server_name, instance_id, epoch, action, began_at, ended_at, detail)
              VALUES (?, ?, ?, ?, ?, NOW(6), ?)`,
        values: [
          config.serverName,
          membership.instanceId,
          myEpoch,
          action,
          began,
          detail.slice(0, 255),
        ],
        timeout: queryTimeoutMs,
      });
      await conn.commit();
      return result;
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      throw err;
    } finally {
      conn.release();
    }
  }

  async function setCandidate(next: boolean): Promise<void> {
    if (isCandidate === next) return;
    isCandidate = next;
    await tickInFlight;
    if (!next && role === 'master') {
      await release('resigned: draining').catch((err: unknown) => {
        log.warn({ err: describeError(err) }, 'could not release the lease; it will expire');
      });
    }
  }

  async function doClose(): Promise<void> {
    isStopped = true;
    if (tickTimer) clearTimeout(tickTimer);
    await tickInFlight;
    if (role === 'master') {
      // Release at once so failover does not wait for the lease to expire.
      await release('shutting down').catch((err: unknown) => {
        log.warn({ err: describeError(err) }, 'could not release the lease; it will expire');
      });
    }
    setRole('standby', 'closed');
    await membership.markStopped().catch((err: unknown) => {
      log.warn({ err: describeError(err) }, 'could not mark this server stopped');
    });
  }

  return {
    events,
    membership,
    start,
    isMaster,
    snapshot: () => ({
      server: config.serverName,
      instanceId: membership.instanceId,
      role: isMaster() ? 'master' : 'standby',
      master: masterName,
      epoch,
      priority: config.priority,
      isCandidate,
      heartbeatAgeMs:
        lastHeartbeatAt === undefined ? undefined : performance.now() - lastHeartbeatAt,
      isDbReachable,
      peers,
    }),
    runFenced,
    setCandidate,
    close: () => (closing ??= doClose()),
  };
}
