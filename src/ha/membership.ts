import { randomUUID } from 'node:crypto';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { ErrorCode, type Logger, PandoraError } from '../core/index.js';
import type { HaConfig } from './settings.js';

/** `tserver.server_type` of a data server (Pandora's DATASERVER). */
export const DATASERVER_TYPE = 0;

export interface Peer {
  readonly name: string;
  readonly priority: number;
  readonly isCandidate: boolean;
  readonly isLive: boolean;
  readonly state: string;
  /** Milliseconds since its last heartbeat, DB clock. */
  readonly ageMs: number;
  readonly incomingDir: string;
  readonly httpPort: number;
}

export interface MembershipOptions {
  readonly incomingDir?: string;
  readonly httpPort?: number;
  /** Per-statement timeout, so a black-holed database cannot hang a tick forever. */
  readonly queryTimeoutMs: number;
}

/** Our `tha_member` row as read at registration. */
interface OwnRow {
  readonly instanceId: string;
  readonly isRunning: boolean;
  /** `last_seen` as text (full precision): any heartbeat changes it. */
  readonly lastSeen: string;
  /** Milliseconds since `last_seen`, DB clock. */
  readonly ageMs: number;
}

/** Scheduling lag a live heartbeat may show on a loaded host, beyond its statement timeout. */
const HEARTBEAT_LAG_MS = 1000;

export interface Membership {
  readonly instanceId: string;
  /** `tserver.id_server` of our row (for `tagente_estado.running_by`), once registered. */
  readonly serverId: number | undefined;
  /**
   * Claims our row. A row that still looks live is watched for about one heartbeat period: a
   * live duplicate is refused (`ERR_HA_DUPLICATE_NAME`), a crashed predecessor is replaced.
   */
  register(): Promise<void>;
  /** One heartbeat: member row, `tserver` row, dead-peer marking. Throws when evicted. */
  heartbeat(isCandidate: boolean): Promise<void>;
  peers(): Promise<Peer[]>;
  /** Clean stop: `tserver.status = 0`, member `stopped`, no longer a candidate. */
  markStopped(): Promise<void>;
}

/**
 * Membership (ha.md §2.9.1–2.9.2): our `tha_member` row proves this process is alive and owns
 * the server name; our `tserver` row keeps the Pandora console informed. Every age is computed
 * by the database (`NOW(3)`), never from this host's clock, so skewed hosts or a host time zone
 * different from the DB's cannot make a live server look dead (reference hazard R3).
 */
export function createMembership(
  config: HaConfig,
  deps: { pool: Pool; log: Logger },
  options: MembershipOptions,
): Membership {
  const { pool, log } = deps;
  const instanceId = randomUUID();
  const timeout = options.queryTimeoutMs;
  // A live process writes its heartbeat every tick; one statement may take up to `timeout`.
  // A row unchanged for longer than that (plus scheduling lag) belongs to a dead process.
  const staleHeartbeatMs = config.tickMs + Math.max(HEARTBEAT_LAG_MS, timeout);
  const watchPollMs = Math.max(50, Math.floor(config.tickMs / 4));
  let serverId: number | undefined;

  /** Our row as the database sees it now, with its age on the DB clock. */
  async function readOwnRow(
    conn: Pool | PoolConnection,
    lock: boolean,
  ): Promise<OwnRow | undefined> {
    const [rows] = await conn.query<RowDataPacket[]>({
      sql: `SELECT instance_id, state, DATE_FORMAT(last_seen, '%Y-%m-%d %H:%i:%s.%f') AS last_seen,
              TIMESTAMPDIFF(MICROSECOND, last_seen, NOW(3)) DIV 1000 AS age_ms
            FROM tha_member WHERE server_name = ?${lock ? ' FOR UPDATE' : ''}`,
      values: [config.serverName],
      timeout,
    });
    const row = rows[0];
    if (!row) return undefined;
    return {
      instanceId: String(row['instance_id']),
      isRunning: row['state'] === 'running',
      lastSeen: String(row['last_seen']),
      ageMs: Number(row['age_ms']),
    };
  }

  /** A row nobody can still be using: absent, stopped cleanly, or past the dead threshold. */
  function isFree(row: OwnRow | undefined): boolean {
    return !row || !row.isRunning || row.ageMs > config.memberDeadAfterMs;
  }

  function duplicateError(row: OwnRow): PandoraError {
    return new PandoraError(
      ErrorCode.HaDuplicateName,
      `servername "${config.serverName}" is already used by a live server ` +
        `(instance ${row.instanceId}); every server needs a unique servername`,
    );
  }

  /**
   * A row that still looks live is either a crashed predecessor (a supervisor restarting us
   * within the dead threshold) or a live duplicate. Only the second keeps writing heartbeats:
   * watch the row on the DB clock until its heartbeat advances (duplicate → refuse) or it has
   * not moved for one heartbeat period plus a margin (dead predecessor → ours to take).
   * Returns the row judged stale; `undefined` when it turned free meanwhile.
   */
  async function watchForHeartbeat(first: OwnRow): Promise<OwnRow | undefined> {
    const staleAfterMs = Math.min(staleHeartbeatMs, config.memberDeadAfterMs);
    if (first.ageMs >= staleAfterMs) return first;
    log.info(
      { event: 'registrationLooksLive', instanceId: first.instanceId, ageMs: first.ageMs },
      `servername "${config.serverName}" was seen ${first.ageMs} ms ago; watching its ` +
        `heartbeat for up to ${staleAfterMs - first.ageMs} ms: dead predecessor or live duplicate?`,
    );
    let row: OwnRow | undefined = first;
    // Ends: the DB clock advances, so the age reaches `staleAfterMs` unless the row changes.
    while (row.ageMs < staleAfterMs) {
      const pauseMs = Math.min(watchPollMs, staleAfterMs - row.ageMs);
      await new Promise((resolve) => setTimeout(resolve, Math.max(10, pauseMs)));
      row = await readOwnRow(pool, false);
      if (!row || isFree(row)) return undefined;
      if (row.instanceId !== first.instanceId || row.lastSeen !== first.lastSeen) {
        throw duplicateError(row);
      }
    }
    return row;
  }

  async function register(): Promise<void> {
    const seen = await readOwnRow(pool, false);
    const stale = seen && !isFree(seen) ? await watchForHeartbeat(seen) : undefined;
    const conn = await pool.getConnection();
    let replaced: OwnRow | undefined;
    try {
      await conn.beginTransaction();
      // Compare-and-set under the row lock: take the row only if it is free or still exactly
      // the stale registration we watched; anything else is a live process that (re)appeared.
      const current = await readOwnRow(conn, true);
      const isOurs =
        isFree(current) ||
        (stale !== undefined &&
          current?.instanceId === stale.instanceId &&
          current.lastSeen === stale.lastSeen);
      if (current && !isOurs) {
        await conn.rollback();
        throw duplicateError(current);
      }
      if (current?.isRunning) replaced = current;
      await conn.query({
        sql: `INSERT INTO tha_member
                (server_name, instance_id, priority, candidate, candidate_since, state,
                 last_seen, started_at, incoming_dir, http_port)
              VALUES (?, ?, ?, 0, NULL, 'running', NOW(3), NOW(3), ?, ?)
              ON DUPLICATE KEY UPDATE instance_id = VALUES(instance_id),
                priority = VALUES(priority), candidate = 0, candidate_since = NULL,
                state = 'running', last_seen = NOW(3), started_at = NOW(3),
                incoming_dir = VALUES(incoming_dir), http_port = VALUES(http_port)`,
        values: [
          config.serverName,
          instanceId,
          config.priority,
          options.incomingDir ?? '',
          options.httpPort ?? 0,
        ],
        timeout,
      });
      await conn.commit();
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      throw err;
    } finally {
      conn.release();
    }
    if (replaced) {
      // The old instance's lease (if any) stays bound to its instance id and epoch: it expires
      // on its own and the next acquisition, ours or a peer's, takes epoch + 1.
      log.info(
        {
          event: 'staleRegistrationTakenOver',
          previousInstanceId: replaced.instanceId,
          ageMs: replaced.ageMs,
        },
        `taking over the stale registration of "${config.serverName}" (instance ` +
          `${replaced.instanceId}, last heartbeat ${replaced.ageMs} ms ago): its process is gone`,
      );
    }
    serverId = await writeServerRow(true);
  }

  /** Upserts our `tserver` row (status 1, keepalive = DB NOW()). Returns its id. */
  async function writeServerRow(isStart: boolean): Promise<number> {
    const [updated] = await pool.query<ResultSetHeader>({
      sql: `UPDATE tserver SET status = 1, keepalive = NOW(), master = ?, version = ?,
              server_keepalive = ?, server_keepalive_utimestamp = UNIX_TIMESTAMP()
              ${isStart ? ', laststart = NOW()' : ''}
            WHERE name = ? AND server_type = ?`,
      values: [
        config.priority,
        config.version,
        config.keepaliveSec,
        config.serverName,
        DATASERVER_TYPE,
      ],
      timeout,
    });
    if (updated.affectedRows === 0) {
      await pool.query({
        sql: `INSERT INTO tserver (name, server_type, status, laststart, keepalive, master,
                version, server_keepalive, server_keepalive_utimestamp, description)
              VALUES (?, ?, 1, NOW(), NOW(), ?, ?, ?, UNIX_TIMESTAMP(), 'Autocreated at startup')`,
        values: [
          config.serverName,
          DATASERVER_TYPE,
          config.priority,
          config.version,
          config.keepaliveSec,
        ],
        timeout,
      });
    }
    if (serverId !== undefined && !isStart) return serverId;
    const [rows] = await pool.query<RowDataPacket[]>({
      sql: 'SELECT id_server FROM tserver WHERE name = ? AND server_type = ? ORDER BY id_server LIMIT 1',
      values: [config.serverName, DATASERVER_TYPE],
      timeout,
    });
    return Number(rows[0]?.['id_server'] ?? 0);
  }

  async function heartbeat(isCandidate: boolean): Promise<void> {
    const [result] = await pool.query<ResultSetHeader>({
      sql: `UPDATE tha_member SET last_seen = NOW(3), priority = ?, candidate = ?,
              candidate_since = IF(? = 1, IFNULL(candidate_since, NOW(3)), NULL)
            WHERE server_name = ? AND instance_id = ? AND state = 'running'`,
      values: [
        config.priority,
        isCandidate ? 1 : 0,
        isCandidate ? 1 : 0,
        config.serverName,
        instanceId,
      ],
      timeout,
    });
    if (result.affectedRows === 0) {
      throw new PandoraError(
        ErrorCode.HaDuplicateName,
        `our membership row for "${config.serverName}" was taken over by another instance`,
      );
    }
    serverId = await writeServerRow(false);
    // The reference's dead-peer rule, on the DB clock: a row whose keepalive is older than
    // twice its own server_keepalive is marked -1; its owner flips it back on its next beat.
    await pool.query({
      sql: `UPDATE tserver SET status = -1
            WHERE status <> 0 AND server_type = ?
              AND UNIX_TIMESTAMP(NOW()) - UNIX_TIMESTAMP(keepalive) > 2 * server_keepalive`,
      values: [DATASERVER_TYPE],
      timeout,
    });
  }

  async function peers(): Promise<Peer[]> {
    const [rows] = await pool.query<RowDataPacket[]>({
      sql: `SELECT server_name, priority, candidate, state, incoming_dir, http_port,
              TIMESTAMPDIFF(MICROSECOND, last_seen, NOW(3)) DIV 1000 AS age_ms
            FROM tha_member ORDER BY priority DESC, server_name`,
      timeout,
    });
    return rows.map((row) => {
      const ageMs = Number(row['age_ms']);
      const state = String(row['state']);
      return {
        name: String(row['server_name']),
        priority: Number(row['priority']),
        isCandidate: Number(row['candidate']) === 1,
        isLive: state === 'running' && ageMs <= config.memberDeadAfterMs,
        state,
        ageMs,
        incomingDir: String(row['incoming_dir']),
        httpPort: Number(row['http_port']),
      };
    });
  }

  async function markStopped(): Promise<void> {
    await pool.query({
      sql: `UPDATE tha_member SET state = 'stopped', candidate = 0, candidate_since = NULL
            WHERE server_name = ? AND instance_id = ?`,
      values: [config.serverName, instanceId],
      timeout,
    });
    await pool.query({
      sql: 'UPDATE tserver SET status = 0 WHERE name = ? AND server_type = ?',
      values: [config.serverName, DATASERVER_TYPE],
      timeout,
    });
  }

  return {
    instanceId,
    get serverId() {
      return serverId;
    },
    register,
    heartbeat,
    peers,
    markStopped,
  };
}
