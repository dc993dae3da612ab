/**
 * Watches a Pandora database for packets being committed, so the bench measures what reached
 * the database and works against any server (ours or the Perl reference). A packet of pass p
 * counts as committed when the status row of the packet's **last** module has the pass's data
 * time (`tagente_estado.timestamp`): servers process modules in file order (the reference
 * updates `tagente` before the modules, so the agent row alone would be early). Only agents
 * still pending (acknowledged, not yet seen) are looked up: through the name indexes until
 * their status row is known, then by its primary key. A poll costs one row lookup per queued
 * packet and nothing when the server keeps up; the name join read every module row of each
 * pending agent and, polled every 100 ms behind a backlog, took a quarter of a core of the
 * database it was measuring.
 * Timestamps are compared as strings, so no time zone is involved.
 */
import { readFileSync } from 'node:fs';
import mysql from 'mysql2/promise';

export interface DbTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

/** `mysql://user:pass@host:port/db` → connection fields. */
export function parseDbUrl(url: string): DbTarget {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (database === '') throw new Error(`no database name in ${url}`);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 3306),
    user: decodeURIComponent(parsed.username || 'root'),
    password: decodeURIComponent(parsed.password),
    database,
  };
}

export interface CommitWatcher {
  /** `SELECT VERSION()` of the target database, for the report. */
  readonly databaseVersion: string;
  /** The database server's pid from its `@@pid_file`, when that file is readable here. */
  readonly databasePid: number | undefined;
  /** Which of the `pending` agents have the pass committed, with the poll's start time. */
  pollAgents(
    sqlTimestamp: string,
    pending: Iterable<number>,
  ): Promise<{ observedMs: number; agentIndexes: number[] }>;
  /** Module status rows already reflecting the pass (one full scan: call sparingly). */
  countModuleValues(sqlTimestamp: string): Promise<number>;
  /** History rows written with the pass's data epoch (`tagente_datos*`, indexed). */
  countHistoryRows(epoch: number): Promise<number>;
  close(): Promise<void>;
}

/** Names `safe_input` leaves unchanged, so they can be matched in SQL as they are. */
const ENCODING_FREE_NAME = /^[A-Za-z0-9_.-]+$/;
/** Agent names per query: keeps each statement small when the backlog is large. */
const NAMES_PER_QUERY = 2000;

export async function createCommitWatcher(
  db: DbTarget,
  agentNames: readonly string[],
  lastModuleNames: readonly string[],
): Promise<CommitWatcher> {
  for (const name of [...agentNames, ...lastModuleNames]) {
    if (!ENCODING_FREE_NAME.test(name)) throw new Error(`name not matchable in SQL: ${name}`);
  }
  const lastModules = [...new Set(lastModuleNames)];
  const indexByName = new Map(agentNames.map((name, i) => [name, i]));
  // Each agent's last-module status row, once seen: later polls are primary-key lookups.
  const statusIdByIndex = new Map<number, number>();
  const indexByStatusId = new Map<number, number>();
  const pool = mysql.createPool({
    ...db,
    connectionLimit: 2,
    queueLimit: 10,
    dateStrings: true,
    enableKeepAlive: true,
  });
  // Fail fast on a wrong URL rather than at the first poll.
  await pool.query('SELECT 1 FROM tagente LIMIT 1');
  const [versionRows] = await pool.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
  const databaseVersion = String(versionRows[0]?.['v'] ?? 'unknown');
  const [pidRows] = await pool.query<mysql.RowDataPacket[]>('SELECT @@pid_file AS f');
  const databasePid = readPidFile(String(pidRows[0]?.['f'] ?? ''));
  return {
    databaseVersion,
    databasePid,
    async pollAgents(sqlTimestamp, pending) {
      const observedMs = performance.now();
      const known: number[] = [];
      const unknownNames: string[] = [];
      for (const index of pending) {
        const statusId = statusIdByIndex.get(index);
        if (statusId !== undefined) known.push(statusId);
        else {
          const name = agentNames[index];
          if (name !== undefined) unknownNames.push(name);
        }
      }
      const agentIndexes: number[] = [];
      // Agents whose last-module status row is known: one primary-key lookup each.
      for (let from = 0; from < known.length; from += NAMES_PER_QUERY) {
        const [rows] = await pool.query<mysql.RowDataPacket[]>(
          'SELECT id_agente_estado AS id FROM tagente_estado' +
            ' WHERE id_agente_estado IN (?) AND `timestamp` >= ?',
          [known.slice(from, from + NAMES_PER_QUERY), sqlTimestamp],
        );
        for (const row of rows) {
          const index = indexByStatusId.get(Number(row['id']));
          if (index !== undefined) agentIndexes.push(index);
        }
      }
      // The others through the name indexes, learning their status row for later polls.
      for (let from = 0; from < unknownNames.length; from += NAMES_PER_QUERY) {
        const [rows] = await pool.query<mysql.RowDataPacket[]>(
          'SELECT a.nombre, e.id_agente_estado AS id, e.`timestamp` >= ? AS done FROM tagente a' +
            ' JOIN tagente_modulo m ON m.id_agente = a.id_agente' +
            ' JOIN tagente_estado e ON e.id_agente_modulo = m.id_agente_modulo' +
            ' WHERE a.nombre IN (?) AND m.nombre IN (?)',
          [sqlTimestamp, unknownNames.slice(from, from + NAMES_PER_QUERY), lastModules],
        );
        for (const row of rows) {
          const index = indexByName.get(String(row['nombre']));
          if (index === undefined) continue;
          const statusId = Number(row['id']);
          statusIdByIndex.set(index, statusId);
          indexByStatusId.set(statusId, index);
          if (Number(row['done']) === 1) agentIndexes.push(index);
        }
      }
      return { observedMs, agentIndexes: [...new Set(agentIndexes)] };
    },
    async countModuleValues(sqlTimestamp) {
      const [rows] = await pool.query<mysql.RowDataPacket[]>(
        'SELECT COUNT(*) AS n FROM tagente_estado WHERE `timestamp` >= ?',
        [sqlTimestamp],
      );
      return Number(rows[0]?.['n'] ?? 0);
    },
    async countHistoryRows(epoch) {
      const [rows] = await pool.query<mysql.RowDataPacket[]>(
        'SELECT (SELECT COUNT(*) FROM tagente_datos WHERE utimestamp = ?) + ' +
          '(SELECT COUNT(*) FROM tagente_datos_string WHERE utimestamp = ?) AS n',
        [epoch, epoch],
      );
      return Number(rows[0]?.['n'] ?? 0);
    },
    async close() {
      await pool.end();
    },
  };
}

function readPidFile(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined; // another host, or not readable by us
  }
}
