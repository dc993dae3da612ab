import type { Pool, RowDataPacket } from 'mysql2/promise';

/**
 * One master across Pandora's own servers and ours (ha.md §2.5, issue 15). Pandora's servers
 * elect, every tick and each on its own, the first `tserver` row with `master <> 0 AND
 * status = 1` ordered by `master` descending (any server type, no second sort key), after
 * marking `-1` every row whose keepalive is older than twice its `server_keepalive`. They read
 * our rows the same way. Our lease (lease-sql.ts) only ranks our own members; this module asks
 * the database Pandora's question so that our servers stand down whenever Pandora's servers
 * would pick one of their own.
 */

export interface PandoraMaster {
  /** `tserver.name` of the Pandora server that Pandora's election picks. */
  readonly name: string;
  /** Its `master` value. */
  readonly priority: number;
}

/**
 * The row Pandora's servers elect, as they will see it once their dead-peer pass has run: the
 * reference's statement plus its own staleness rule (a row older than 2 × its
 * `server_keepalive` on the DB clock is dead). The filter is applied here rather than waiting
 * for someone to mark the row: our dead-peer pass covers data-server rows only, and a crashed
 * Perl server's other rows may have no live Perl peer to mark them.
 *
 * Same selected columns, same ORDER BY and LIMIT as the reference, so that rows tied on
 * `master` come back in the order the reference's servers get from this database (ha.md R4).
 */
const PANDORA_ELECTION_SQL = `SELECT name, master FROM tserver
  WHERE master <> 0 AND status = 1
    AND UNIX_TIMESTAMP(NOW()) - UNIX_TIMESTAMP(keepalive) <= 2 * server_keepalive
  ORDER BY master DESC LIMIT 1`;

/**
 * The Pandora server that Pandora's election picks when it is not one of ours (its name is
 * not in `tha_member`), else undefined: no live eligible row at all, or the pick is ours and
 * our own lease decides which of ours acts.
 */
export async function readPandoraMaster(
  pool: Pool,
  timeout: number,
): Promise<PandoraMaster | undefined> {
  const [picked] = await pool.query<RowDataPacket[]>({ sql: PANDORA_ELECTION_SQL, timeout });
  const row = picked[0];
  if (!row) return undefined;
  const name = String(row['name']);
  // Byte comparison: `tserver.name` and `tha_member.server_name` may differ in collation, and
  // the reference compares server names as bytes too.
  const [ours] = await pool.query<RowDataPacket[]>({
    sql: `SELECT 1 FROM tha_member
          WHERE CAST(server_name AS BINARY) = CAST(? AS BINARY) LIMIT 1`,
    values: [name],
    timeout,
  });
  if (ours.length > 0) return undefined;
  return { name, priority: Number(row['master']) };
}

export function samePandoraMaster(
  a: PandoraMaster | undefined,
  b: PandoraMaster | undefined,
): boolean {
  return a?.name === b?.name && a?.priority === b?.priority;
}
