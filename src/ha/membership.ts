import { randomUUID } from 'node:crypto';
import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { ErrorCode, type Logger, PandoraError } from '../core/index.js';
import { claimMemberRow } from './member-registration.js';
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

/** What the membership statements share: the pool, who we are, the statement timeout. */
export interface MemberContext {
  readonly pool: Pool;
  readonly config: HaConfig;
  readonly instanceId: string;
  readonly timeout: number;
  readonly log: Logger;
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
  const ctx: MemberContext = {
    pool: deps.pool,
    config,
    instanceId: randomUUID(),
    timeout: options.queryTimeoutMs,
    log: deps.log,
  };
  let serverId: number | undefined;
  return {
    instanceId: ctx.instanceId,
    get serverId() {
      return serverId;
    },
    async register() {
      await claimMemberRow(ctx, options);
      serverId = await writeServerRow(ctx, true, serverId);
    },
    async heartbeat(isCandidate) {
      await beatMemberRow(ctx, isCandidate);
      serverId = await writeServerRow(ctx, false, serverId);
      await markDeadServers(ctx);
    },
    peers: () => readPeers(ctx),
    markStopped: () => markStopped(ctx),
  };
}

/** Upserts our `tserver` row (status 1, keepalive = DB NOW()). Returns its id. */
async function writeServerRow(
  ctx: MemberContext,
  isStart: boolean,
  serverId: number | undefined,
): Promise<number> {
  const { pool, config, timeout } = ctx;
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

/** Our heartbeat on `tha_member`; throws when another instance took the row over. */
async function beatMemberRow(ctx: MemberContext, isCandidate: boolean): Promise<void> {
  const { pool, config, instanceId, timeout } = ctx;
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
}

/** The reference's dead-peer rule on `tserver`. */
async function markDeadServers(ctx: MemberContext): Promise<void> {
  const { pool, timeout } = ctx;
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

async function readPeers(ctx: MemberContext): Promise<Peer[]> {
  const { pool, config, timeout } = ctx;
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

async function markStopped(ctx: MemberContext): Promise<void> {
  const { pool, config, instanceId, timeout } = ctx;
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
