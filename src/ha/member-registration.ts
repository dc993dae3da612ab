import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { ErrorCode, PandoraError } from '../core/index.js';
import type { MemberContext } from './membership.js';

/**
 * Registration (ha.md §2.9.1–2.9.2): taking our `tha_member` row at start-up without stealing
 * it from a live server of the same name. Every age is computed by the database.
 */

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

/** How our row is read and judged while registering. */
function ownRowChecks(ctx: MemberContext) {
  const { pool, config, timeout, log } = ctx;
  // A live process writes its heartbeat every tick; one statement may take up to `timeout`.
  // A row unchanged for longer than that (plus scheduling lag) belongs to a dead process.
  const staleHeartbeatMs = config.tickMs + Math.max(HEARTBEAT_LAG_MS, timeout);
  const watchPollMs = Math.max(50, Math.floor(config.tickMs / 4));

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

  return { readOwnRow, isFree, duplicateError, watchForHeartbeat };
}

/**
 * Claims our `tha_member` row (ha.md §2.9.1): a row that still looks live is watched for about
 * one heartbeat period; a live duplicate is refused (`ERR_HA_DUPLICATE_NAME`), a crashed
 * predecessor is replaced.
 */
export async function claimMemberRow(
  ctx: MemberContext,
  place: { incomingDir?: string | undefined; httpPort?: number | undefined },
): Promise<void> {
  const { pool, config, instanceId, timeout, log } = ctx;
  const { readOwnRow, isFree, duplicateError, watchForHeartbeat } = ownRowChecks(ctx);
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
        place.incomingDir ?? '',
        place.httpPort ?? 0,
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
}
