/**
 * `npm run bench:tentacle`: files/s of the Tentacle server alone, for 4 KB files.
 *
 * Matrix: sync always|none × one file per connection (as agents do) | many files per connection
 * × 1, 32, 256 concurrent clients. For every cell and run a fresh `tentacle-server` process
 * (compiled by default; `--no-build` runs the sources through tsx) stores into the spool folder
 * (one folder for the whole bench, emptied between runs, see emptySpool),
 * and a separately forked load generator (this file with `--load`) drives it over loopback for
 * a warm-up and a measured window. Reported: files/s (median of the runs, min–max), latency
 * from the SEND line to the final OK (p50, p99, max: the Perl client gives up after 4 s), the
 * server's peak RSS and CPU, and the load generator's CPU. Prints a table and writes JSON (and `--markdown` a table) to
 * bench/results/. Bounded: every window is timed and every process is stopped.
 *
 *   npm run bench:tentacle -- [--runs 3] [--duration 5s] [--warmup 1s] [--size 4096]
 *                             [--clients 1,32,256] [--sync always,none]
 *                             [--modes connection,persistent] [--no-build] [--markdown]
 *                             [--dir PARENT_OF_SPOOL_FOLDER]   (e.g. /dev/shm: no disk)
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createReport,
  describeEnv,
  collectEnv,
  formatMarkdownTable,
  formatTable,
  median,
  parseDurationMs,
  percentileOfSorted,
  resultStem,
  startProcSampler,
  writeArtifact,
  writeReport,
  type Row,
  readBenchFlags,
} from './lib/index.js';
import type { SettingsTable } from '../src/core/index.js';
import { buildServer } from './load/server-build.js';
import { freePort, nodeArgsFor, REPO_ROOT } from './load/server-process.js';

type Mode = 'connection' | 'persistent';
type Sync = 'always' | 'none';

interface LoadSpec {
  readonly port: number;
  readonly mode: Mode;
  readonly clients: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly size: number;
}

interface LoadResult {
  readonly files: number;
  readonly seconds: number;
  readonly errors: number;
  /** CPU of the load generator over the whole run, in % of one core. */
  readonly loadCpuPercent: number;
  readonly latencyMs: { p50: number; p99: number; max: number };
}

interface RunResult extends LoadResult {
  readonly filesPerSec: number;
  readonly serverPeakRssMiB: number;
  readonly serverCpuPercent: number;
}

const USAGE = `npm run bench:tentacle -- [--runs 3] [--duration 5s] [--warmup 1s] [--size 4096]
                          [--clients 1,32,256] [--sync always,none]
                          [--modes connection,persistent] [--no-build] [--markdown]
                          [--dir PARENT_OF_SPOOL_FOLDER]
`;
const REPLY = Buffer.from('SEND OK\n');
const SELF = fileURLToPath(import.meta.url);

// ---- load generator (runs in its own process) --------------------------------------------

/** One client connection that answers "await the next 8-byte reply". */
class Conn {
  readonly socket: net.Socket;
  #got = 0;
  #want = 0;
  #resolve: (() => void) | undefined;
  #reject: ((err: Error) => void) | undefined;
  #dead: Error | undefined;

  constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => {
      for (let i = 0; i < chunk.length; i++) {
        if (chunk[i] !== REPLY[(this.#got + i) % REPLY.length]) {
          this.#fail(new Error(`unexpected reply ${JSON.stringify(chunk.toString('latin1'))}`));
          return;
        }
      }
      this.#got += chunk.length;
      if (this.#resolve && this.#got >= this.#want) {
        const done = this.#resolve;
        this.#resolve = undefined;
        done();
      }
    });
    this.socket.on('error', (err) => {
      this.#fail(err);
    });
    this.socket.on('close', () => {
      this.#fail(new Error('closed by the server'));
    });
  }

  #fail(err: Error): void {
    this.#dead ??= err;
    const reject = this.#reject;
    this.#resolve = undefined;
    this.#reject = undefined;
    reject?.(err);
  }

  connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
  }

  /** Writes `data` and waits for one more `SEND OK\n`. */
  request(data: Buffer | string): Promise<void> {
    if (this.#dead) return Promise.reject(this.#dead);
    this.#want += REPLY.length;
    const p = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.socket.write(data);
    return p;
  }

  quit(): void {
    this.#reject = undefined;
    this.socket.end('QUIT\n');
    this.socket.on('error', () => undefined);
  }
}

async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  const body = Buffer.alloc(spec.size, 0x78);
  body.write('<?xml version="1.0"?><agent_data>');
  const start = performance.now() + spec.warmupMs;
  const end = start + spec.durationMs;
  const latencies: number[] = [];
  let files = 0;
  let errors = 0;
  let seq = 0;

  const sendOne = async (conn: Conn, client: number): Promise<void> => {
    const t0 = performance.now();
    await conn.request(`SEND <agent${client}.${seq++}.data> SIZE ${spec.size}\n`);
    await conn.request(body);
    const t1 = performance.now();
    if (t0 >= start && t1 <= end) {
      files++;
      latencies.push(t1 - t0);
    }
  };

  const client = async (id: number): Promise<void> => {
    while (performance.now() < end) {
      const conn = new Conn(spec.port);
      try {
        await conn.connected();
        if (spec.mode === 'connection') {
          await sendOne(conn, id);
        } else {
          while (performance.now() < end) await sendOne(conn, id);
        }
        conn.quit();
      } catch {
        errors++;
        conn.socket.destroy();
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };

  await Promise.all(Array.from({ length: spec.clients }, (_, i) => client(i)));
  const cpu = process.cpuUsage(cpuStart);
  latencies.sort((a, b) => a - b);
  return {
    files,
    seconds: spec.durationMs / 1000,
    errors,
    loadCpuPercent: ((cpu.user + cpu.system) / 1000 / (performance.now() - wallStart)) * 100,
    latencyMs: {
      p50: percentileOfSorted(latencies, 50),
      p99: percentileOfSorted(latencies, 99),
      max: latencies[latencies.length - 1] ?? Number.NaN,
    },
  };
}

// ---- orchestration -----------------------------------------------------------------------

interface Options {
  runs: number;
  durationMs: number;
  warmupMs: number;
  size: number;
  clients: number[];
  syncs: Sync[];
  modes: Mode[];
  build: boolean;
  markdown: boolean;
  /** Parent of the spool folder. */
  dir: string | undefined;
}

/** The bench's flags, read by the repository's one long-flag parser (core/settings.ts). */
const FLAGS = {
  runs: { kind: 'int', default: 3, min: 1, help: 'runs per point (medians)' },
  duration: { kind: 'string', default: '5s', help: 'measured time per run' },
  warmup: { kind: 'string', default: '1s', help: 'unmeasured time before each run' },
  size: { kind: 'int', default: 4096, min: 1, help: 'bytes per file' },
  clients: { kind: 'string', default: '1,32,256', help: 'concurrent clients, a list' },
  sync: { kind: 'string', default: 'always,none', help: 'sync policies, a list' },
  modes: { kind: 'string', default: 'connection,persistent', help: 'connection modes, a list' },
  build: { kind: 'bool', default: true, help: 'compile the server first (--no-build: tsx)' },
  markdown: { kind: 'bool', default: false, help: 'also print a Markdown table' },
  dir: { kind: 'string', help: 'parent of the spool folder' },
  help: { kind: 'bool', default: false, help: 'this text' },
} as const satisfies SettingsTable;

function parseOptions(argv: readonly string[]): Options {
  const v = readBenchFlags(argv, FLAGS);
  if (v === undefined) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  return {
    runs: v.runs,
    durationMs: parseDurationMs(v.duration),
    warmupMs: parseDurationMs(v.warmup),
    size: v.size,
    clients: v.clients.split(',').map(Number),
    syncs: v.sync.split(',') as Sync[],
    modes: v.modes.split(',') as Mode[],
    build: v.build,
    markdown: v.markdown,
    dir: v.dir,
  };
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.end('QUIT\n');
        resolve(true);
      });
      s.on('error', () => {
        resolve(false);
      });
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`server not listening on ${port}`);
}

/**
 * The spool folder: one for the whole bench (`--dir`, default a new folder in the OS temp
 * folder), emptied and synced between runs. What dominates on this VM's ext4 is the kernel's
 * allocation of brand-new inodes (open(O_CREAT) alone measured 30–90 µs of system CPU per file
 * when no freed inode is at hand, 2–7 µs otherwise); `--dir /dev/shm/x` takes the disk out and
 * measures the server.
 */
const CEILING_FILES = 20_000;

/**
 * The file system's own rate for what a store costs (create a temp file, write 4 KB, close,
 * link, unlink) in the spool folder, from one thread with no network: no server on one folder
 * can store faster. Printed before and after the matrix, as it drifts on a shared VM.
 */
function fsCeiling(dir: string, size: number): number {
  const body = Buffer.alloc(size, 0x78);
  const started = performance.now();
  for (let i = 0; i < CEILING_FILES; i++) {
    const temp = join(dir, `.ceiling.${i}.tmp`);
    const fd = openSync(temp, 'wx', 0o640);
    writeSync(fd, body);
    closeSync(fd);
    linkSync(temp, join(dir, `ceiling.${i}.data`));
    unlinkSync(temp);
  }
  const perSec = CEILING_FILES / ((performance.now() - started) / 1000);
  emptySpool(dir);
  return perSec;
}

function emptySpool(dir: string): void {
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
  execFileSync('sync');
}

async function oneRun(
  entry: string,
  dir: string,
  sync: Sync,
  spec: Omit<LoadSpec, 'port'>,
): Promise<RunResult> {
  const port = await freePort();
  const server = spawn(
    process.execPath,
    [
      ...nodeArgsFor(entry),
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      '-s',
      dir,
      '-c',
      String(Math.max(10, spec.clients + 16)),
      '--sync',
      sync,
    ],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, NODE_ENV: 'production' },
    },
  );
  try {
    await waitForPort(port, server);
    const sampler = startProcSampler(server.pid ?? 0, 100);
    const load = fork(SELF, ['--load'], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    load.send({ ...spec, port });
    const [result] = (await once(load, 'message')) as [LoadResult];
    await once(load, 'exit');
    const usage = sampler.stop();
    return {
      ...result,
      filesPerSec: result.files / result.seconds,
      serverPeakRssMiB: usage.peakRssBytes / 2 ** 20,
      serverCpuPercent: usage.cpuPercent,
    };
  } finally {
    server.kill('SIGTERM');
    await once(server, 'exit');
    emptySpool(dir);
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const env = collectEnv();
  process.stdout.write(`Tentacle server bench — ${describeEnv(env)}\n`);
  let entry = join(REPO_ROOT, 'src', 'cli', 'tentacle-server.ts');
  let buildDir: string | undefined;
  if (options.build) {
    process.stdout.write('compiling the server (use --no-build to run the sources)…\n');
    const built = buildServer();
    buildDir = built.dir;
    entry = join(built.dir, 'src', 'cli', 'tentacle-server.js');
  }
  if (options.dir !== undefined) mkdirSync(options.dir, { recursive: true });
  const spool = mkdtempSync(join(options.dir ?? tmpdir(), 'bench-tentacle-'));
  const ceilingBefore = fsCeiling(spool, options.size);
  process.stdout.write(
    `spool folder: ${spool}; file-system ceiling ${Math.round(ceilingBefore)} files/s (one thread, no network)\n`,
  );
  const rows: Row[] = [];
  const results: Record<string, unknown>[] = [];
  try {
    for (const sync of options.syncs) {
      for (const mode of options.modes) {
        for (const clients of options.clients) {
          const runs: RunResult[] = [];
          for (let r = 0; r < options.runs; r++) {
            runs.push(
              await oneRun(entry, spool, sync, {
                mode,
                clients,
                warmupMs: options.warmupMs,
                durationMs: options.durationMs,
                size: options.size,
              }),
            );
          }
          const rates = runs.map((x) => x.filesPerSec);
          const row: Row = {
            sync,
            'files per connection': mode === 'connection' ? 'one' : 'many',
            clients,
            'files/s (median)': Math.round(median(rates)),
            'min–max': `${Math.round(Math.min(...rates))}–${Math.round(Math.max(...rates))}`,
            'p50 ms': median(runs.map((x) => x.latencyMs.p50)),
            'p99 ms': median(runs.map((x) => x.latencyMs.p99)),
            'max ms': Math.max(...runs.map((x) => x.latencyMs.max)),
            errors: runs.reduce((n, x) => n + x.errors, 0),
            'server peak RSS MiB': Math.round(Math.max(...runs.map((x) => x.serverPeakRssMiB))),
            'server CPU %': Math.round(median(runs.map((x) => x.serverCpuPercent))),
            'load gen CPU %': Math.round(median(runs.map((x) => x.loadCpuPercent))),
          };
          rows.push(row);
          results.push({ sync, mode, clients, runs });
          process.stdout.write(`${JSON.stringify(row)}\n`);
        }
      }
    }
  } catch (err) {
    rmSync(spool, { recursive: true, force: true });
    throw err;
  } finally {
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  }
  const ceilingAfter = fsCeiling(spool, options.size);
  rmSync(spool, { recursive: true, force: true });
  const ceiling = `file-system ceiling in the spool folder: ${Math.round(ceilingBefore)} files/s before, ${Math.round(ceilingAfter)} after (create+write+close+link+unlink, one thread)`;
  process.stdout.write(`\n${formatTable(rows)}\n${ceiling}\n`);
  const stem = resultStem('tentacle');
  const report = createReport(
    'tentacle',
    { ...options, spool },
    {
      cells: results,
      fsCeilingFilesPerSec: { before: ceilingBefore, after: ceilingAfter },
    },
  );
  process.stdout.write(`JSON: ${writeReport(report, stem)}\n`);
  if (options.markdown) {
    const md = `${describeEnv(env)}\n\n${formatMarkdownTable(rows)}\n\n${ceiling}\n`;
    process.stdout.write(`markdown: ${writeArtifact(`${stem}.md`, md)}\n`);
  }
}

if (process.argv.includes('--load')) {
  process.once('message', (spec: LoadSpec) => {
    void runLoad(spec).then((result) => {
      process.send?.(result, () => process.exit(0));
    });
  });
} else {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
