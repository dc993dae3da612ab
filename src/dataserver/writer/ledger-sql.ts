import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { LEDGER_TABLE } from '../../db/index.js';
import { chunks } from './insert-ids.js';
import { fmt } from './sql-values.js';

/** SQL for the ledger: one row per file a batch commits, so a file is never applied twice. */

export interface LedgerRow {
  readonly sha256: Buffer;
  readonly fileName: string;
  readonly agentId: number;
}

/** The last ledger row of each agent: its stamp says which file (of any server) wrote it last. */
export const LEDGER_STAMPS_SQL = `SELECT l.id_agente, HEX(l.file_sha256) AS h FROM ${LEDGER_TABLE} l
             JOIN (SELECT id_agente, MAX(seq) AS seq FROM ${LEDGER_TABLE} WHERE id_agente IN (?) GROUP BY id_agente) x
               ON x.seq = l.seq`;

/** Agent id → lower-case hex sha256 of its last file, from {@link LEDGER_STAMPS_SQL}. */
export function parseStamps(rows: readonly RowDataPacket[]): Map<number, string> {
  const stamps = new Map<number, string>();
  for (const r of rows) stamps.set(Number(r['id_agente']), String(r['h']).toLowerCase());
  return stamps;
}

export function ledgerStatements(
  ledger: readonly LedgerRow[],
  serverName: string,
  nowSec: number,
): string[] {
  const sql: string[] = [];
  for (const c of chunks(
    ledger.map((l) => [l.sha256, l.fileName.slice(0, 255), serverName, l.agentId, nowSec]),
  )) {
    sql.push(
      fmt(
        `INSERT INTO ${LEDGER_TABLE} (file_sha256, file_name, server_name, id_agente, utimestamp) VALUES ?`,
        [c],
      ),
    );
  }
  return sql;
}

/** A COMMIT refused for a file_sha256 the ledger holds already (another server, a resend). */
export function isLedgerDuplicate(err: unknown): boolean {
  return (
    (err as { code?: unknown }).code === 'ER_DUP_ENTRY' &&
    (err as Error).message.includes('file_sha256')
  );
}

/** Which of `ledger`'s files the ledger already holds (lower-case hex). */
export async function ledgeredHashes(
  conn: PoolConnection,
  ledger: readonly LedgerRow[],
): Promise<Set<string>> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT HEX(file_sha256) AS h FROM ${LEDGER_TABLE} WHERE file_sha256 IN (?)`,
    [ledger.map((l) => l.sha256)],
  );
  return new Set(rows.map((r) => String(r['h']).toLowerCase()));
}
