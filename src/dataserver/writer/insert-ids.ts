import type { PoolConnection, ResultSetHeader } from 'mysql2/promise';

/** Rows per multi-row INSERT: keeps each statement far below max_allowed_packet. */
export const MAX_ROWS_PER_STATEMENT = 2000;

export function chunks<T>(rows: readonly T[], size = MAX_ROWS_PER_STATEMENT): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

/**
 * INSERTs rows and returns their auto-increment ids in row order. One multi-row statement per
 * chunk when InnoDB hands out consecutive ids for it (innodb_autoinc_lock_mode 0 or 1, the
 * MariaDB default); row by row when it may interleave them (mode 2, e.g. Galera).
 */
export async function insertReturningIds(
  conn: PoolConnection,
  table: string,
  columns: readonly string[],
  rows: readonly (readonly unknown[])[],
  consecutiveIds: boolean,
): Promise<number[]> {
  const ids: number[] = [];
  const head = `INSERT INTO \`${table}\` (${columns.map((c) => `\`${c}\``).join(', ')}) VALUES ?`;
  for (const chunk of consecutiveIds ? chunks(rows) : rows.map((r) => [r])) {
    const [res] = await conn.query<ResultSetHeader>(head, [chunk]);
    for (let i = 0; i < chunk.length; i++) ids.push(res.insertId + i);
  }
  return ids;
}
