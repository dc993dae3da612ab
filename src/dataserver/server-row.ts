import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';

/** tserver.server_type of a data server. */
const DATASERVER_TYPE = 0;

/**
 * This server's `tserver` row (spec §6.2): looked up by exact name (BINARY, as the reference
 * does) and type, created when missing. Its id goes into tagente_estado.running_by. Keepalive
 * and master election are the HA module's; this only makes sure the row exists.
 */
export async function ensureServerRow(
  pool: Pool,
  serverName: string,
  version: string,
): Promise<number> {
  const find = async () => {
    const [rows] = await pool.query<RowDataPacket[]>(
      'SELECT id_server FROM tserver WHERE name = BINARY ? AND server_type = ? ORDER BY id_server LIMIT 1',
      [serverName, DATASERVER_TYPE],
    );
    return rows[0] ? Number(rows[0]['id_server']) : undefined;
  };
  const existing = await find();
  if (existing !== undefined) return existing;
  const [res] = await pool.query<ResultSetHeader>(
    `INSERT INTO tserver (name, server_type, data_server, description, version, status, laststart, keepalive)
     VALUES (?, ?, 1, 'Autocreated at startup', ?, 1, NOW(), NOW())`,
    [serverName, DATASERVER_TYPE, version.slice(0, 25)],
  );
  return res.insertId;
}
