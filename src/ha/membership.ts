import { randomUUID } from 'node:crypto';
import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { ErrorCode, PandoraError } from '../core/errors.js';
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

export interface Membership {
  readonly instanceId: string;
  /** `tserver.id_server` of our row (for `tagente_estado.running_by`), once registered. */
  readonly serverId: number | undefined;
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
  deps: { pool: Pool },
  options: MembershipOptions,
): Membership {
  const { pool } = deps;
  const instanceId = randomUUID();
  const timeout = options.queryTimeoutMs;
  const deadAfterUs = config.memberDeadAfterMs * 1000;
  let serverId: number | undefined;

  async function register(): Promise<void> {
    const conn = await pool.getConnection();
    try {
      await conn.beginTransaction();
      const [rows] = await conn.query<RowDataPacket[]>({
        sql: `SELECT instance_id, state,
                last_seen >= NOW(3) - INTERVAL ? MICROSECOND AS is_live
              FROM tha_member WHERE server_name = ? FOR UPDATE`,
        values: [deadAfterUs, config.serverName],
        timeout,
      });
      const existing = rows[0];
      if (existing && existing['state'] === 'running' && Number(existing['is_live']) === 1) {
        await conn.rollback();
        throw new PandoraError(
          ErrorCode.HaDuplicateName,
          `servername "${config.serverName}" is already used by a live server ` +
            `(instance ${String(existing['instance_id'])}); every server needs a unique servername`,
        );
      }
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
