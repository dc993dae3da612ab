/**
 * `npm run bench:dataserver` — spool files of N agents × 33 modules (the Pandora capacity
 * study's agent: 1 string, 17 generic_proc, 15 generic_data with thresholds) processed from the
 * folder into MariaDB by the real pipeline (scan, claim, parse workers, batch writer): packets/s
 * and module values/s for the first pass (every agent and module created) and for steady-state
 * passes, with peak RSS. Each run uses a throwaway database (dropped afterwards); `--runs` repeats
 * the whole thing and the table shows medians. Bounded by --agents × --passes files per run.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { createLogger, silentLogger } from '../src/core/log.js';
import { createMetricsRegistry } from '../src/core/metrics.js';
import type { SettingsTable } from '../src/core/index.js';
import { connectionOptions, createDbPool, initDatabase } from '../src/db/index.js';
import {
  createDataserver,
  createPacketParser,
  loadDataserverConfig,
  processPacket,
} from '../src/dataserver/index.js';
import { createFleet, writeFiles } from './generator/index.js';
import {
  createReport,
  describeEnv,
  formatMarkdownTable,
  formatTable,
  median,
  resultStem,
  writeReport,
  collectEnv,
  findPidsByName,
  readProcSnapshot,
  readBenchFlags,
} from './lib/index.js';

interface Options {
  agents: number;
  passes: number;
  runs: number;
  changeRate: number;
  threads: number;
  batchFiles: number;
  dbServer: string;
  verbose: boolean;
}

const HELP = `Usage: npm run bench:dataserver -- [--agents 3000] [--passes 3] [--runs 3]
       [--change-rate 0.1] [--threads 2] [--batch-files 200]
       [--db-server mysql://root@127.0.0.1:3306] [--verbose]`;

/** The bench's flags, read by the repository's one long-flag parser (core/settings.ts). */
const FLAGS = {
  agents: { kind: 'int', default: 3000, min: 1, help: 'agents' },
  passes: { kind: 'int', default: 3, min: 1, help: 'passes per run' },
  runs: { kind: 'int', default: 3, min: 1, help: 'runs' },
  change_rate: { kind: 'string', default: '0.1', help: 'fraction of values changing per pass' },
  threads: { kind: 'int', default: 2, min: 0, help: 'parse worker threads' },
  batch_files: { kind: 'int', default: 200, min: 1, help: 'files per batch' },
  db_server: { kind: 'string', default: 'mysql://root@127.0.0.1:3306', help: 'database server' },
  verbose: { kind: 'bool', default: false, help: 'server logs' },
  help: { kind: 'bool', default: false, help: 'this text' },
} as const satisfies SettingsTable;

function parseArgs(argv: readonly string[]): Options | undefined {
  const v = readBenchFlags(argv, FLAGS);
  if (v === undefined) return undefined;
  return {
    agents: v.agents,
    passes: v.passes,
    runs: v.runs,
    changeRate: Number(v.change_rate),
    threads: v.threads,
    batchFiles: v.batch_files,
    dbServer: v.db_server,
    verbose: v.verbose,
  };
}

interface PassResult {
  readonly run: number;
  readonly pass: number;
  readonly kind: 'first' | 'steady';
  readonly packets: number;
  readonly seconds: number;
  readonly packetsPerSec: number;
  readonly valuesPerSec: number;
  readonly historyRows: number;
  readonly events: number;
  readonly rssMB: number;
  /** CPU seconds per 1,000 packets: this process (main + parse workers) and mariadbd. */
  readonly nodeCpuPer1k: number;
  readonly dbCpuPer1k: number;
}

async function runOnce(o: Options, run: number): Promise<PassResult[]> {
  const url = new URL(o.dbServer);
  const server = {
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username || 'root'),
    password: decodeURIComponent(url.password),
  };
  const dbName = `ti_bench_ds_${randomBytes(4).toString('hex')}`;
  const root = join(tmpdir(), `ti-bench-ds-${randomBytes(4).toString('hex')}`);
  const spool = join(root, 'data_in');
  const staging = join(root, 'staging');
  mkdirSync(spool, { recursive: true });
  const logger = o.verbose ? createLogger({ level: 'info' }) : silentLogger();
  await initDatabase({ ...server, database: dbName }, { createDatabase: true }, { logger });
  const config = loadDataserverConfig({
    flags: new Map([
      ['incomingdir', spool],
      ['dbhost', server.host],
      ['dbport', String(server.port)],
      ['dbuser', server.user],
      ['dbname', dbName],
      ['servername', 'bench01'],
      ['dataserver_threads', String(o.threads)],
      ['dataserver_batch_files', String(o.batchFiles)],
      ['max_queue_files', String(Math.max(5000, o.agents))],
      ['too_many_xml', '0'],
    ]),
  });
  const pool = createDbPool(
    {
      ...config.db,
      password: server.password,
      connectionLimit: config.db.connections,
      queueLimit: 1000,
    },
    { logger },
  );
  const parser = createPacketParser(config, { logger });
  const ds = createDataserver(config, {
    pool,
    logger,
    registry: createMetricsRegistry({ defaultMetrics: false }),
    processPacket,
    parser,
  });
  const admin = await mysql.createConnection(connectionOptions({ ...server, database: dbName }));
  const count = async (table: string) => {
    const [rows] = await admin.query(`SELECT COUNT(*) AS n FROM ${table}`);
    return Number((rows as Record<string, unknown>[])[0]?.['n']);
  };
  const results: PassResult[] = [];
  try {
    await ds.start();
    const fleet = createFleet({
      agents: o.agents,
      changeRate: o.changeRate,
      seed: 42 + run,
      startEpoch: 1_709_280_000,
    });
    for (let p = 0; p < o.passes + 1; p++) {
      // Generate outside the clock, then move the pass into the spool at once.
      rmSync(staging, { recursive: true, force: true });
      await writeFiles(fleet.pass(p).files(), staging);
      const names = readdirSync(staging);
      const historyBefore = (await count('tagente_datos')) + (await count('tagente_datos_string'));
      const eventsBefore = await count('tevento');
      const dbPid = findPidsByName('mariadbd')[0] ?? findPidsByName('mysqld')[0];
      const dbCpuBefore = dbPid === undefined ? 0 : (readProcSnapshot(dbPid)?.cpuSeconds ?? 0);
      const cpuBefore = process.cpuUsage();
      const started = process.hrtime.bigint();
      for (const name of names) renameSync(join(staging, name), join(spool, name));
      ds.wake();
      await ds.drain();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const cpu = process.cpuUsage(cpuBefore);
      const dbCpu =
        dbPid === undefined ? 0 : (readProcSnapshot(dbPid)?.cpuSeconds ?? 0) - dbCpuBefore;
      const per1k = (cpuSeconds: number) =>
        Math.round((cpuSeconds * 1000 * 100) / names.length) / 100;
      const history = (await count('tagente_datos')) + (await count('tagente_datos_string'));
      const r: PassResult = {
        run,
        pass: p,
        kind: p === 0 ? 'first' : 'steady',
        packets: names.length,
        seconds: Math.round(seconds * 100) / 100,
        packetsPerSec: Math.round(names.length / seconds),
        valuesPerSec: Math.round((names.length * fleet.modules.length) / seconds),
        historyRows: history - historyBefore,
        events: (await count('tevento')) - eventsBefore,
        rssMB: Math.round(process.resourceUsage().maxRSS / 1024),
        nodeCpuPer1k: per1k((cpu.user + cpu.system) / 1e6),
        dbCpuPer1k: per1k(dbCpu),
      };
      results.push(r);
      console.log(formatTable([{ ...r }]));
    }
    const ledger = await count('tingest_ledger');
    if (ledger !== o.agents * (o.passes + 1)) throw new Error(`ledger has ${String(ledger)} files`);
  } finally {
    await ds.close();
    await parser.close();
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS \`${dbName}\``);
    await admin.end();
    rmSync(root, { recursive: true, force: true });
  }
  return results;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (!o) {
    console.log(HELP);
    return;
  }
  process.env['TZ'] ??= 'UTC';
  console.log(`bench:dataserver on ${describeEnv(collectEnv())}`);
  console.log(
    `${String(o.agents)} agents × 33 modules, ${String(o.passes)} steady passes, change rate ${String(o.changeRate)}, ${String(o.threads)} parse threads, batches of ${String(o.batchFiles)} files, ${String(o.runs)} runs`,
  );
  const all: PassResult[] = [];
  for (let run = 1; run <= o.runs; run++) all.push(...(await runOnce(o, run)));
  const summary = (['first', 'steady'] as const).map((kind) => {
    const rows = all.filter((r) => r.kind === kind);
    return {
      pass: kind === 'first' ? 'first pass (all created)' : 'steady state',
      'packets/s': median(rows.map((r) => r.packetsPerSec)),
      'values/s': median(rows.map((r) => r.valuesPerSec)),
      'history rows/pass': median(rows.map((r) => r.historyRows)),
      'events/pass': median(rows.map((r) => r.events)),
      'peak RSS MB': Math.max(...rows.map((r) => r.rssMB)),
      'node CPU s/1k packets': median(rows.map((r) => r.nodeCpuPer1k)),
      'MariaDB CPU s/1k packets': median(rows.map((r) => r.dbCpuPer1k)),
      samples: rows.length,
    };
  });
  console.log(`\nmedians over ${String(o.runs)} runs:\n${formatTable(summary)}`);
  console.log(`\n${formatMarkdownTable(summary)}`);
  const path = writeReport(
    createReport('dataserver', o, { summary, passes: all }),
    resultStem('dataserver'),
  );
  console.log(`report: ${path}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
