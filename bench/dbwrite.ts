/**
 * `npm run bench:dbwrite` — what MariaDB on this machine can absorb, without any server: the
 * two write shapes the dataserver produces, on a throwaway database with the Pandora schema.
 *  - history: multi-row `INSERT INTO tagente_datos … VALUES ?`, one transaction per batch, at
 *    several batch sizes (STYLE §16 `db-batch`);
 *  - status: one `UPDATE tagente_estado … WHERE id_agente_modulo = ?` per value, batched in
 *    transactions — the per-value cost a compacting server pays even when it stores nothing;
 *  - status as written: the writer's own statements (`statusUpdateStatements`) for packets of
 *    33 modules whose times move and 10 % of whose values change, once as the 22-column upsert
 *    of every row and once grouped (rows that changed alike in one UPDATE); batch = packets.
 * Bounded by --rows per case; the database is dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { silentLogger, type SettingsTable } from '../src/core/index.js';
import { connectionOptions, initDatabase } from '../src/db/index.js';
import type { ModuleStatus, StatusWrite } from '../src/dataserver/types.js';
import { statusUpdateStatements } from '../src/dataserver/writer/status-sql.js';
import {
  createReport,
  describeEnv,
  formatMarkdownTable,
  formatTable,
  resultStem,
  writeMarkdownSection,
  writeReport,
  readBenchFlags,
} from './lib/index.js';

interface DbWriteOptions {
  dbServer: string;
  rows: number;
  batchSizes: number[];
  statusRows: number;
  readme: string | undefined;
}

const HELP = `Usage: npm run bench:dbwrite -- [--db-server mysql://root@127.0.0.1:3306]
       [--rows 100000] [--batch-sizes 100,500,1000] [--status-rows 33000] [--readme docs/bench.md]`;

/** The bench's flags, read by the repository's one long-flag parser (core/settings.ts). */
const FLAGS = {
  db_server: { kind: 'string', default: 'mysql://root@127.0.0.1:3306', help: 'database server' },
  rows: { kind: 'int', default: 100_000, min: 1, help: 'rows per case' },
  batch_sizes: { kind: 'string', default: '100,500,1000', help: 'rows per statement, a list' },
  status_rows: { kind: 'int', default: 33_000, min: 1, help: 'tagente_estado rows' },
  readme: { kind: 'string', help: 'rewrite this Markdown section' },
  help: { kind: 'bool', default: false, help: 'this text' },
} as const satisfies SettingsTable;

function parseArgs(argv: readonly string[]): DbWriteOptions | undefined {
  const v = readBenchFlags(argv, FLAGS);
  if (v === undefined) return undefined;
  return {
    dbServer: v.db_server,
    rows: v.rows,
    batchSizes: v.batch_sizes.split(',').map(Number),
    statusRows: v.status_rows,
    readme: v.readme,
  };
}

interface CaseResult {
  readonly case: string;
  readonly batch: number;
  readonly rows: number;
  readonly seconds: number;
  readonly rowsPerSec: number;
}

async function historyInsert(
  conn: mysql.Connection,
  rows: number,
  batch: number,
): Promise<CaseResult> {
  const start = performance.now();
  const epoch = 1_700_000_000;
  for (let done = 0; done < rows; done += batch) {
    const n = Math.min(batch, rows - done);
    const values = Array.from({ length: n }, (_, i) => [
      ((done + i) % 99_000) + 1,
      ((done + i) * 7) % 101,
      epoch + done + i,
    ]);
    await conn.beginTransaction();
    await conn.query('INSERT INTO tagente_datos (id_agente_modulo, datos, utimestamp) VALUES ?', [
      values,
    ]);
    await conn.commit();
  }
  return result('history INSERT', batch, rows, start);
}

async function statusUpdate(
  conn: mysql.Connection,
  rows: number,
  batch: number,
  modules: number,
): Promise<CaseResult> {
  const start = performance.now();
  for (let done = 0; done < rows; done += batch) {
    const n = Math.min(batch, rows - done);
    await conn.beginTransaction();
    for (let i = 0; i < n; i++) {
      const id = ((done + i) % modules) + 1;
      await conn.query(
        'UPDATE tagente_estado SET datos = ?, utimestamp = ?, last_execution_try = ? WHERE id_agente_modulo = ?',
        [String((done + i) % 100), 1_700_000_000 + done, 1_700_000_000 + done, id],
      );
    }
    await conn.commit();
  }
  return result('status UPDATE', batch, rows, start);
}

const MODULES_PER_PACKET = 33;
/** Packets per transaction for the as-written cases (about the writer's batches under load). */
const STATUS_PACKETS_PER_TXN = 50;
const STORED_STATUS: ModuleStatus = {
  datos: '5.00000',
  estado: 0,
  knownStatus: 0,
  lastStatus: 0,
  lastKnownStatus: 0,
  statusChanges: 0,
  timestamp: '2026-01-01 00:00:00',
  lastTry: '2026-01-01 00:00:00',
  lastTryEpoch: 1_767_225_600,
  utimestamp: 1_767_225_600,
  currentInterval: 300,
  runningBy: 1,
  lastExecutionTry: 1_767_225_600,
  lastError: 0,
  ffStartUtimestamp: 0,
  ffNormal: 0,
  ffWarning: 0,
  ffCritical: 0,
  lastStatusChange: 1_767_225_600,
  warningCount: 0,
};

/** Status rows of whole packets through the writer's statements, `packets` per transaction. */
async function statusAsWritten(
  conn: mysql.Connection,
  rows: number,
  packets: number,
  grouped: boolean,
): Promise<CaseResult> {
  const start = performance.now();
  const perTxn = packets * MODULES_PER_PACKET;
  for (let done = 0; done < rows; done += perTxn) {
    const writes: StatusWrite[] = [];
    for (let i = done; i < Math.min(rows, done + perTxn); i++) {
      const packet = Math.floor(i / MODULES_PER_PACKET);
      const epoch = STORED_STATUS.utimestamp + 300 * (1 + (packet % 7));
      const timestamp = new Date(epoch * 1000).toISOString().slice(0, 19).replace('T', ' ');
      // One value in ten changes (and is stored: last_try moves); the rest keep theirs.
      const changed = i % 10 === 0;
      const status: ModuleStatus = {
        ...STORED_STATUS,
        timestamp,
        utimestamp: epoch,
        lastExecutionTry: epoch,
        ...(changed ? { datos: `${String(i % 97)}.00000`, lastTry: timestamp } : {}),
      };
      writes.push({
        insert: false,
        ref: { id: i + 1 },
        statusRef: { id: i + 1 },
        agentRef: { id: packet + 1 },
        status,
        stored: grouped ? STORED_STATUS : undefined,
      });
    }
    await conn.query(['START TRANSACTION', ...statusUpdateStatements(writes), 'COMMIT'].join(';'));
  }
  return result(
    grouped ? 'status as written, grouped' : 'status as written, upsert',
    packets,
    rows,
    start,
  );
}

function result(name: string, batch: number, rows: number, startMs: number): CaseResult {
  const seconds = (performance.now() - startMs) / 1000;
  return {
    case: name,
    batch,
    rows,
    seconds: Math.round(seconds * 100) / 100,
    rowsPerSec: Math.round(rows / seconds),
  };
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  if (!options) {
    console.log(HELP);
    return 0;
  }
  const server = new URL(options.dbServer);
  const config = {
    host: server.hostname,
    port: Number(server.port || 3306),
    user: decodeURIComponent(server.username || 'root'),
    password: decodeURIComponent(server.password),
    database: `bench_db_${randomBytes(5).toString('hex')}`,
  };
  await initDatabase(config, { createDatabase: true }, { logger: silentLogger() });
  const conn = await mysql.createConnection(connectionOptions(config));
  const results: CaseResult[] = [];
  try {
    // One status row per module of the standard fleet (3,000 agents × 33 modules by default).
    for (let done = 0; done < options.statusRows; done += 1000) {
      const n = Math.min(1000, options.statusRows - done);
      const rows = Array.from({ length: n }, (_, i) => [
        done + i + 1,
        Math.floor((done + i) / 33) + 1,
        '',
      ]);
      await conn.query('INSERT INTO tagente_estado (id_agente_modulo, id_agente, datos) VALUES ?', [
        rows,
      ]);
    }
    for (const batch of options.batchSizes) {
      results.push(await historyInsert(conn, options.rows, batch));
    }
    for (const batch of options.batchSizes) {
      const rows = Math.min(options.rows, options.statusRows);
      results.push(await statusUpdate(conn, rows, batch, options.statusRows));
    }
    for (const grouped of [false, true]) {
      results.push(
        await statusAsWritten(conn, options.statusRows, STATUS_PACKETS_PER_TXN, grouped),
      );
    }
  } finally {
    await conn.query(`DROP DATABASE \`${config.database}\``).catch(() => undefined);
    await conn.end();
  }
  const report = createReport('db-write', { ...options, dbServer: server.host }, results);
  console.error(describeEnv(report.env));
  const rows = results.map((r) => ({
    case: r.case,
    batch: r.batch,
    rows: r.rows,
    s: r.seconds,
    'rows/s': r.rowsPerSec,
  }));
  if (options.readme !== undefined) {
    writeMarkdownSection(
      options.readme,
      'dbwrite',
      [
        '### MariaDB alone (`npm run bench:dbwrite`)',
        '',
        `The database's own ceiling for the dataserver's two write shapes, one connection, one transaction per batch (${describeEnv(report.env)}).`,
        '',
        formatMarkdownTable(rows),
        '',
      ].join('\n'),
    );
  }
  console.log(formatTable(rows));
  console.error(`results: ${writeReport(report, resultStem('db-write'))}`);
  return 0;
}

process.exitCode = await main();
