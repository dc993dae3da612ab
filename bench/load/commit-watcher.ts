/**
 * Watches a Pandora database for packets being committed, so the bench measures what reached
 * the database and works against any server (ours or the Perl reference). A packet of pass p
 * counts as committed when the status row of the packet's **last** module has the pass's data
 * time (`tagente_estado.timestamp`): servers process modules in file order (the reference
 * updates `tagente` before the modules, so the agent row alone would be early). Found through
 * the module-name index, so a poll costs N index lookups, not a scan. Timestamps are compared
 * as strings, so no time zone is involved.
 */
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
  /** Agent indexes newly committed for the pass since the last call, with the poll's start. */
  pollAgents(sqlTimestamp: string): Promise<{ observedMs: number; agentIndexes: number[] }>;
  /** Module status rows already reflecting the pass (one full scan: call sparingly). */
  countModuleValues(sqlTimestamp: string): Promise<number>;
  /** History rows written with the pass's data epoch (`tagente_datos*`, indexed). */
  countHistoryRows(epoch: number): Promise<number>;
  close(): Promise<void>;
}

/** Names `safe_input` leaves unchanged, so they can be matched in SQL as they are. */
const ENCODING_FREE_NAME = /^[A-Za-z0-9_.-]+$/;

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
  const seenByPass = new Map<string, Set<number>>();
  return {
    databaseVersion,
    async pollAgents(sqlTimestamp) {
      const observedMs = performance.now();
      const [rows] = await pool.query<mysql.RowDataPacket[]>(
        'SELECT a.nombre FROM tagente_modulo m' +
          ' JOIN tagente_estado e ON e.id_agente_modulo = m.id_agente_modulo' +
          ' JOIN tagente a ON a.id_agente = m.id_agente' +
          ' WHERE m.nombre IN (?) AND e.`timestamp` >= ?',
        [lastModules, sqlTimestamp],
      );
      let seen = seenByPass.get(sqlTimestamp);
      if (!seen) {
        seen = new Set();
        seenByPass.set(sqlTimestamp, seen);
      }
      const agentIndexes: number[] = [];
      for (const row of rows) {
        const index = indexByName.get(String(row['nombre']));
        if (index === undefined || seen.has(index)) continue;
        seen.add(index);
        agentIndexes.push(index);
      }
      return { observedMs, agentIndexes };
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
