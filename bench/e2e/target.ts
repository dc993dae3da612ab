/**
 * What the bench runs against: either a server it starts itself (fresh random database, temp
 * spool, free loopback ports) or any running Tentacle server plus its Pandora database.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { silentLogger } from '../../src/core/log.js';
import { initDatabase } from '../../src/db/index.js';
import { median } from '../lib/index.js';
import { parseDbUrl, type DbTarget } from '../load/commit-watcher.js';
import { startRedisProcess, type RedisProcess } from '../load/redis-process.js';
import {
  freePort,
  serveSupportsFlag,
  startServerProcess,
  type ServerProcess,
} from '../load/server-process.js';

export interface BenchTarget {
  readonly host: string;
  readonly port: number;
  readonly db: DbTarget;
  readonly description: string;
  /** Pid of the server when we started it (for CPU/RSS), else undefined. */
  readonly serverPid: number | undefined;
  /** Every server process whose CPU is the server's (`--queue` with 2 workers: both). */
  readonly serverPids: readonly number[];
  /** Pid of the bench's own redis-server (`--queue`), else undefined. */
  readonly redisPid: number | undefined;
  readonly httpPort: number | undefined;
  /** Prometheus endpoint of the server, when known (`--metrics-url`, or ours via --http-port). */
  readonly metricsUrl: string | undefined;
  /** Why the target can no longer be measured (our server exited), else undefined. */
  failure(): string | undefined;
  /** `.data` files waiting in the spool, when the spool is ours to look at. */
  spoolDepth(): number | undefined;
  close(): Promise<void>;
}

export interface TargetOptions {
  readonly target: string | undefined;
  readonly db: string | undefined;
  readonly metricsUrl: string | undefined;
  readonly serverPid: number | undefined;
  readonly dbServer: string;
  readonly password: string | undefined;
  readonly serverArgs: readonly string[];
  readonly serverNodeArgs: readonly string[];
  /** Connections the load opens at once: the self-started server serves that many. */
  readonly concurrency: number;
  /** Parent of the self-started server's fresh spool folder. */
  readonly spoolDir: string;
  readonly serverEntry: string;
  readonly keepDb: boolean;
  readonly logDir: string;
  /**
   * Scale-out mode (`--queue`): the self-started server gets a redis-server of its own and this
   * many worker processes in all (the listener, which is a worker too, and `--no-tentacle` ones).
   */
  readonly scaleOutWorkers?: number | undefined;
}

const SERVER_START_TIMEOUT_MS = 60_000;

export async function openTarget(options: TargetOptions): Promise<BenchTarget> {
  if (options.target !== undefined) {
    const [host = '127.0.0.1', port = '41121'] = options.target.split(':');
    if (options.db === undefined) throw new Error('--target needs --db');
    return {
      host,
      port: Number(port),
      db: parseDbUrl(options.db),
      description: `external server ${options.target}`,
      serverPid: options.serverPid,
      serverPids: options.serverPid === undefined ? [] : [options.serverPid],
      redisPid: undefined,
      httpPort: undefined,
      metricsUrl: options.metricsUrl,
      spoolDepth: () => undefined,
      failure: () => undefined,
      close: () => Promise.resolve(),
    };
  }

  const server = new URL(options.dbServer);
  const name = `bench_${randomBytes(5).toString('hex')}`;
  const db: DbTarget = {
    host: server.hostname,
    port: Number(server.port || 3306),
    user: decodeURIComponent(server.username || 'root'),
    password: decodeURIComponent(server.password),
    database: name,
  };
  await initDatabase(
    { host: db.host, port: db.port, user: db.user, password: db.password, database: name },
    { createDatabase: true },
    { logger: silentLogger() },
  );
  mkdirSync(options.spoolDir, { recursive: true });
  const spool = mkdtempSync(join(options.spoolDir, 'bench-spool-'));
  const createUs = fileCreateCostUs(spool);
  const tentaclePort = await freePort();
  const httpPort = serveSupportsFlag('http-port', options.serverEntry)
    ? await freePort()
    : undefined;
  const stoppers: (() => Promise<unknown>)[] = [];
  const cleanup = async (): Promise<void> => {
    // Servers first (newest first), then Redis, then the folders and the database.
    // Each step runs even when an earlier one fails, so nothing is left behind.
    const failures: unknown[] = [];
    const note = (err: unknown): void => {
      failures.push(err);
    };
    for (const stop of stoppers.splice(0).reverse()) await stop().catch(note);
    rmSync(spool, { recursive: true, force: true });
    if (!options.keepDb) await dropDatabase(db).catch(note);
    if (failures.length > 0) throw new AggregateError(failures, 'bench cleanup failed');
  };
  const database = { host: db.host, port: db.port, user: db.user, password: db.password, name };
  const serverArgs = [...connectionLimitArgs(options), ...options.serverArgs];
  const common = {
    database,
    nodeArgs: options.serverNodeArgs,
    entry: options.serverEntry,
    startTimeoutMs: SERVER_START_TIMEOUT_MS,
    ...(options.password === undefined ? {} : { password: options.password }),
  };
  let started: ServerProcess;
  const workers: ServerProcess[] = [];
  let redis: RedisProcess | undefined;
  try {
    if (options.scaleOutWorkers !== undefined) {
      const own = await startRedisProcess(options.spoolDir);
      redis = own;
      stoppers.push(() => own.stop());
      serverArgs.push(`--queue-url=${redis.url}`, '--queue-prefix=bench');
    }
    started = await startServerProcess({
      ...common,
      incomingDir: spool,
      tentaclePort,
      ...(httpPort === undefined ? {} : { httpPort }),
      extraArgs: serverArgs,
      logPath: join(options.logDir, `server-${name}.log`),
    });
    stoppers.push(() => started.stop());
    for (let i = 2; i <= (options.scaleOutWorkers ?? 1); i++) {
      const workerSpool = mkdtempSync(join(options.spoolDir, 'bench-spool-'));
      stoppers.push(() => {
        rmSync(workerSpool, { recursive: true, force: true });
        return Promise.resolve();
      });
      const worker = await startServerProcess({
        ...common,
        incomingDir: workerSpool,
        tentaclePort: await freePort(),
        httpPort: await freePort(),
        extraArgs: [...serverArgs, `--servername=bench-worker-${String(i)}`],
        listen: false,
        logPath: join(options.logDir, `server-${name}-worker${String(i)}.log`),
      });
      workers.push(worker);
      stoppers.push(() => worker.stop());
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
  const all = [started, ...workers];
  const queueNote =
    redis === undefined
      ? ''
      : `, scale-out through redis-server ${redis.url} (pid ${String(redis.pid)}, AOF always) with ${String(all.length)} worker process(es) (pids ${all.map((p) => p.pid).join(', ')})`;
  return {
    host: '127.0.0.1',
    port: tentaclePort,
    db,
    description: `tentacle-ingest serve from ${options.serverEntry} (pid ${started.pid}), database ${name}, spool ${spool} (file create+close ${String(createUs)} µs)${queueNote}`,
    serverPid: started.pid,
    serverPids: all.map((p) => p.pid),
    redisPid: redis?.pid,
    httpPort,
    metricsUrl:
      options.metricsUrl ??
      (httpPort === undefined ? undefined : `http://127.0.0.1:${httpPort}/metrics`),
    spoolDepth: () => countDataFiles(spool),
    failure() {
      for (const p of all) {
        const status = p.exitStatus();
        if (status !== undefined) return `server pid ${String(p.pid)} exited (${status})`;
      }
      return undefined;
    },
    close: cleanup,
  };
}

/**
 * The self-started server's connection caps, unless the user sets them. `-c` is sized to the
 * load, as for the Perl server. The per-address cap is off: every simulated agent connects
 * from 127.0.0.1, unlike a real fleet, and with one file per connection an agent that QUITs
 * and reconnects at once arrives before the server has read the QUIT, so a cap equal to the
 * concurrency refuses it (ECONNRESET, then a retry that costs CPU on both sides).
 */
function connectionLimitArgs(options: TargetOptions): string[] {
  const given = (flag: string): boolean =>
    options.serverArgs.some((a) => a === flag || a.startsWith(`${flag}=`));
  return [
    ...(given('--tentacle-max-connections')
      ? []
      : [`--tentacle-max-connections=${String(options.concurrency)}`]),
    // Older builds (`--server-entry`) have no such cap, nor the flag.
    ...(given('--tentacle-max-connections-per-address') ||
    !serveSupportsFlag('tentacle-max-connections-per-address', options.serverEntry)
      ? []
      : ['--tentacle-max-connections-per-address=0']),
  ];
}

function countDataFiles(dir: string): number | undefined {
  try {
    let n = 0;
    for (const entry of readdirSync(dir)) if (entry.endsWith('.data')) n += 1;
    return n;
  } catch {
    return undefined;
  }
}

async function dropDatabase(db: DbTarget): Promise<void> {
  const conn = await mysql.createConnection({
    host: db.host,
    port: db.port,
    user: db.user,
    password: db.password,
  });
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${db.database.replaceAll('`', '``')}\``);
  } finally {
    await conn.end();
  }
}

/**
 * Median time to create and close an empty file in `dir` (µs). It varies several-fold between
 * folders of one ext4 disk (inode allocation), and every packet pays it, so runs report it.
 */
export function fileCreateCostUs(dir: string, samples = 200): number {
  const probe = mkdtempSync(join(dir, '.create-probe-'));
  const times: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const t = performance.now();
      closeSync(openSync(join(probe, String(i)), 'wx'));
      times.push((performance.now() - t) * 1000);
    }
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
  return Math.round(median(times));
}
