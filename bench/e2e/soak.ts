/**
 * `npm run bench -- --soak DURATION`: the capacity study's stability check. After the creation
 * pass (and, without --rate, one full-speed steady pass to learn the capacity), the fleet sends
 * pass after pass paced at a fixed share of that rate until the duration is up. Every
 * --soak-sample the server's RSS and CPU, its V8 heap (used, committed), external memory and its
 * parse workers' heaps (used, committed) from its /metrics when it has one, MariaDB's CPU, the
 * commit latency of the window, the backlog, the modules in unknown state and the load average
 * are sampled; the report fits each
 * against time (`soak-trend.ts`) and checks that the ledger holds every acknowledged packet.
 */
import { loadavg } from 'node:os';
import mysql from 'mysql2/promise';
import { formatNumber, readProcSnapshot, round, summarize } from '../lib/index.js';
import {
  EXTERNAL_MEMORY,
  HEAP_TOTAL,
  HEAP_USED,
  scrapeMetrics,
  WORKER_HEAP_COMMITTED,
  WORKER_HEAP_USED,
} from '../load/metrics-scraper.js';
import type { E2eOptions } from './options.js';
import { describeTrend, type Trend } from './soak-trend.js';
import {
  isAborted,
  runPass,
  withRunContext,
  type PassResult,
  type RunContext,
} from './scenario.js';

export interface SoakSample {
  /** Seconds since the paced load started. */
  readonly t: number;
  readonly serverRssMB: number;
  /** V8's live heap, from the server's /metrics (NaN without one): what a leak makes grow. */
  readonly heapUsedMB: number;
  /** V8's committed heap (NaN without /metrics): RSS rises and falls with it. */
  readonly heapCommittedMB: number;
  /** Memory outside the V8 heap, Buffers mostly (NaN without /metrics). */
  readonly externalMB: number;
  /**
   * The parse workers' live heaps, summed (NaN without /metrics or without workers; absent
   * in results saved before workers reported): each worker is a V8 heap of its own in RSS.
   */
  readonly workerHeapUsedMB?: number;
  /** The parse workers' committed heaps, summed (NaN or absent as above). */
  readonly workerHeapCommittedMB?: number;
  readonly serverCpuPercent: number;
  readonly dbCpuPercent: number;
  /** SEND OK → commit of the packets whose commit was seen in the window. */
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly committedPerSec: number;
  /** Acknowledged (SEND OK) and not yet seen in the database. */
  readonly backlog: number;
  /** `.data` files in the server's spool (undefined for an external target). */
  readonly spoolFiles: number;
  /** `tagente_estado.estado = 3`, what a Pandora master's unknown task sets. */
  readonly unknownModules: number;
  /** Modules the unknown task would mark: not updated for 2 × their interval (dataserver.md). */
  readonly overdueModules: number;
  readonly loadAverage1m: number;
}

export interface SoakLedger {
  /** Rows in `tingest_ledger` (undefined when the target has no such table). */
  readonly rows: number | undefined;
  readonly acked: number;
  readonly committed: number;
  readonly ok: boolean;
}

export interface SoakResult {
  readonly status: 'ok' | 'incomplete' | 'aborted';
  readonly target: string;
  readonly databaseVersion: string;
  readonly creation: PassResult | undefined;
  readonly calibration: PassResult | undefined;
  /** The capacity the share applies to: --rate or the full-speed pass's packets/s. */
  readonly capacityPerSec: number;
  readonly share: number;
  readonly ratePerSec: number;
  readonly soakSeconds: number;
  readonly warmupSeconds: number;
  readonly soakPasses: number;
  readonly soakPackets: number;
  readonly soakLatencyMs: ReturnType<typeof summarize>;
  readonly samples: readonly SoakSample[];
  readonly trends: readonly Trend[];
  readonly ledger: SoakLedger;
  readonly moduleCount: number;
  readonly errors: readonly string[];
}

/** Without --rate, data times must stay in the past for this many packets/s at most. */
const MAX_PLANNED_RATE = 5000;
const MAX_WARMUP_MS = 300_000;

export async function runSoak(
  options: E2eOptions & { soakMs: number },
  log: (line: string) => void,
  stop: AbortSignal,
): Promise<SoakResult> {
  // Every soak pass has its own data time, one interval after the previous one: start far enough
  // back that the last pass is still in the past.
  const maxPasses = Math.ceil(
    ((options.soakMs / 1000) * (options.rate ?? MAX_PLANNED_RATE)) / options.agents + 4,
  );
  const nowSec = Math.floor(Date.now() / 60_000) * 60;
  const startEpoch = nowSec - (maxPasses + 2) * options.intervalSec;
  // The soak's own clock ends the load; the run's hard cap only guards against a hang.
  const runOptions = {
    ...options,
    quiet: true,
    maxDurationMs: Math.max(options.maxDurationMs, options.soakMs + 20 * 60_000),
  };
  return withRunContext(runOptions, log, stop, {}, { startEpoch }, (ctx) =>
    soakPasses(ctx, options, log),
  );
}

async function soakPasses(
  ctx: RunContext,
  options: E2eOptions & { soakMs: number },
  log: (line: string) => void,
): Promise<SoakResult> {
  const errors: string[] = [];
  const db = await mysql.createConnection({ ...ctx.target.db });
  try {
    let passIndex = 0;
    const fullPass = async (kind: 'creation' | 'steady', name: string): Promise<PassResult> => {
      const pass = ctx.fleet.pass(passIndex++);
      const result = await runPass(ctx, kind, name, pass, [...pass.files()], undefined);
      log(`${name}: ${result.committed}/${result.packets} packets, ${result.packetsPerSec} pkt/s`);
      return result;
    };
    const creation = await fullPass('creation', 'creation');
    let calibration: PassResult | undefined;
    if (creation.complete && options.rate === undefined && !ctx.signal.aborted) {
      calibration = await fullPass('steady', 'full speed');
    }
    const capacityPerSec = options.rate ?? calibration?.packetsPerSec ?? Number.NaN;
    const ratePerSec = capacityPerSec * options.soakShare;
    const ready = creation.complete && (calibration?.complete ?? true) && ratePerSec > 0;
    if (!ready) errors.push('creation or full-speed pass incomplete: no soak');

    const sampler = startSoakSampler(ctx, db, options.soakSampleMs, log);
    const soakStartMs = performance.now();
    const endMs = soakStartMs + options.soakMs;
    let soakPasses = 0;
    let soakPackets = 0;
    let status: SoakResult['status'] = 'ok';
    if (ready) {
      log(
        `soak: ${formatNumber(ratePerSec)} packets/s (${Math.round(options.soakShare * 100)} % of ` +
          `${formatNumber(capacityPerSec)}) for ${formatNumber(options.soakMs / 1000)} s`,
      );
      while (performance.now() < endMs && !ctx.signal.aborted) {
        const pass = ctx.fleet.pass(passIndex++);
        if (pass.epoch > Date.now() / 1000) {
          errors.push(`pass ${pass.index} would carry a future data time; soak stopped early`);
          break;
        }
        // The last pass sends only what fits in the time left, so the load ends on time.
        const leftSec = (endMs - performance.now()) / 1000;
        const count = Math.min(options.agents, Math.max(1, Math.ceil(ratePerSec * leftSec)));
        const files = [...pass.files(0, count)];
        const result = await runPass(
          ctx,
          'latency',
          `soak ${soakPasses + 1}`,
          pass,
          files,
          ratePerSec,
        );
        soakPasses += 1;
        soakPackets += result.committed;
        if (!result.complete) {
          status = isAborted(ctx.signal) ? 'aborted' : 'incomplete';
          errors.push(`soak pass ${soakPasses} incomplete: ${result.errors.join('; ')}`);
          break;
        }
        for (const error of result.errors) errors.push(`soak pass ${soakPasses}: ${error}`);
      }
    } else status = 'incomplete';
    const soakSeconds = (performance.now() - soakStartMs) / 1000;
    const samples = await sampler.stop();
    const ledger = await readLedger(db, ctx);
    if (!ledger.ok) errors.push('ledger does not hold every acknowledged packet');
    const warmupSeconds = Math.min(
      (options.soakWarmupMs ?? Math.min(options.soakMs * 0.1, MAX_WARMUP_MS)) / 1000,
      soakSeconds / 2,
    );
    return {
      status,
      target: ctx.target.description,
      databaseVersion: ctx.watcher.databaseVersion,
      creation,
      calibration,
      capacityPerSec: round(capacityPerSec, 1),
      share: options.soakShare,
      ratePerSec: round(ratePerSec, 1),
      soakSeconds: round(soakSeconds, 1),
      warmupSeconds: round(warmupSeconds, 1),
      soakPasses,
      soakPackets,
      soakLatencyMs: summarize(sampler.allLatencies()),
      samples,
      trends: soakTrends(samples, warmupSeconds, soakSeconds),
      ledger,
      moduleCount: await countModules(db),
      errors,
    };
  } finally {
    ctx.onCommit = undefined;
    await db.end();
  }
}

/** The trends the soak reports, fitted on the samples after the warm-up. */
export function soakTrends(
  samples: readonly SoakSample[],
  warmupSeconds: number,
  soakSeconds: number,
): Trend[] {
  const kept = samples.filter((s) => s.t >= warmupSeconds);
  const window = Math.max(0, soakSeconds - warmupSeconds);
  const metrics: [keyof SoakSample, string, string][] = [
    ['serverRssMB', 'server RSS', 'MB'],
    ['heapUsedMB', 'heap used', 'MB'],
    ['heapCommittedMB', 'heap committed', 'MB'],
    ['externalMB', 'external', 'MB'],
    ['workerHeapUsedMB', 'parse workers heap used', 'MB'],
    ['workerHeapCommittedMB', 'parse workers heap committed', 'MB'],
    ['serverCpuPercent', 'server CPU', '%'],
    ['dbCpuPercent', 'MariaDB CPU', '%'],
    ['latencyP50Ms', 'commit latency p50', 'ms'],
    ['latencyP99Ms', 'commit latency p99', 'ms'],
    ['backlog', 'backlog (acked, not committed)', 'packets'],
    ['spoolFiles', 'spool files', 'files'],
    ['unknownModules', 'modules in unknown state', 'modules'],
    ['overdueModules', 'modules overdue (2 × interval)', 'modules'],
    ['committedPerSec', 'committed', 'packets/s'],
    ['loadAverage1m', 'load average (1 min)', ''],
  ];
  return metrics.map(([key, name, unit]) =>
    describeTrend(
      name,
      unit,
      kept.map((s) => [s.t, s[key] ?? Number.NaN]),
      window,
    ),
  );
}

interface SoakSampler {
  allLatencies(): number[];
  stop(): Promise<SoakSample[]>;
}

/** A progress line this often during a soak (the passes themselves run quiet). */
const PROGRESS_LOG_MS = 60_000;

function startSoakSampler(
  ctx: RunContext,
  db: mysql.Connection,
  periodMs: number,
  log: (line: string) => void,
): SoakSampler {
  const samples: SoakSample[] = [];
  const samplesPerLog = Math.max(1, Math.round(PROGRESS_LOG_MS / periodMs));
  const all: number[] = [];
  let windowLatencies: number[] = [];
  ctx.onCommit = (ms) => {
    windowLatencies.push(ms);
    all.push(ms);
  };
  const startMs = performance.now();
  let lastMs = startMs;
  let lastServerCpu = cpuSeconds(ctx.target.serverPid);
  let lastDbCpu = cpuSeconds(ctx.dbPid);
  let lastCommitted = ctx.totalCommitted;
  let running: Promise<void> | undefined;
  const take = async (): Promise<void> => {
    const nowMs = performance.now();
    const wallSec = (nowMs - lastMs) / 1000;
    if (wallSec <= 0) return;
    const serverCpu = cpuSeconds(ctx.target.serverPid);
    const dbCpu = cpuSeconds(ctx.dbPid);
    const window = summarize(windowLatencies);
    windowLatencies = [];
    const rss =
      ctx.target.serverPid === undefined ? undefined : readProcSnapshot(ctx.target.serverPid);
    const committed = ctx.totalCommitted;
    const backlog = ctx.totalAcked - ctx.totalCommitted;
    const spool = ctx.target.spoolDepth() ?? Number.NaN;
    const [unknown, heap] = await Promise.all([
      countUnknown(db),
      ctx.target.metricsUrl === undefined
        ? undefined
        : scrapeMetrics(ctx.target.metricsUrl, [
            HEAP_USED,
            HEAP_TOTAL,
            EXTERNAL_MEMORY,
            WORKER_HEAP_USED,
            WORKER_HEAP_COMMITTED,
          ]),
    ]);
    const heapMB = (name: string): number => round((heap?.get(name) ?? Number.NaN) / 2 ** 20, 1);
    samples.push({
      t: round((nowMs - startMs) / 1000, 1),
      serverRssMB: rss ? round(rss.rssBytes / 2 ** 20, 1) : Number.NaN,
      heapUsedMB: heapMB(HEAP_USED),
      heapCommittedMB: heapMB(HEAP_TOTAL),
      externalMB: heapMB(EXTERNAL_MEMORY),
      workerHeapUsedMB: heapMB(WORKER_HEAP_USED),
      workerHeapCommittedMB: heapMB(WORKER_HEAP_COMMITTED),
      serverCpuPercent: round(percentOf(lastServerCpu, serverCpu, wallSec), 1),
      dbCpuPercent: round(percentOf(lastDbCpu, dbCpu, wallSec), 1),
      latencyP50Ms: round(window.p50, 1),
      latencyP99Ms: round(window.p99, 1),
      committedPerSec: round((committed - lastCommitted) / wallSec, 1),
      backlog,
      spoolFiles: spool,
      unknownModules: unknown.unknown,
      overdueModules: unknown.overdue,
      loadAverage1m: readLoadAverage(),
    });
    const sample = samples[samples.length - 1];
    if (sample && samples.length % samplesPerLog === 0) log(describeSample(sample));
    lastMs = nowMs;
    lastServerCpu = serverCpu;
    lastDbCpu = dbCpu;
    lastCommitted = committed;
  };
  const timer = setInterval(() => {
    running ??= take()
      .catch(() => undefined) // a failed query skips one sample; the run goes on
      .finally(() => {
        running = undefined;
      });
  }, periodMs);
  return {
    allLatencies: () => all,
    async stop() {
      clearInterval(timer);
      await running;
      // A last sample only over a full enough window: a fraction of a second would make its
      // rates (the final commits over 0.4 s) an outlier in every trend.
      if (performance.now() - lastMs >= periodMs / 2) await take();
      return samples;
    },
  };
}

export function describeSample(s: SoakSample): string {
  const workers = s.workerHeapUsedMB ?? Number.NaN;
  return (
    `soak ${formatNumber(s.t / 60)} min: RSS ${formatNumber(s.serverRssMB)} MB, ` +
    `heap used ${formatNumber(s.heapUsedMB)} of ${formatNumber(s.heapCommittedMB)} MB, ` +
    (Number.isFinite(workers)
      ? `parse workers ${formatNumber(workers)} of ${formatNumber(s.workerHeapCommittedMB ?? Number.NaN)} MB, `
      : '') +
    `server CPU ${formatNumber(s.serverCpuPercent)} %, MariaDB ${formatNumber(s.dbCpuPercent)} %, ` +
    `latency p50 ${formatNumber(s.latencyP50Ms)} p99 ${formatNumber(s.latencyP99Ms)} ms, ` +
    `backlog ${s.backlog}, unknown ${s.unknownModules + s.overdueModules}, load ${formatNumber(s.loadAverage1m, 2)}`
  );
}

async function countUnknown(db: mysql.Connection): Promise<{ unknown: number; overdue: number }> {
  // The unknown task's rule (dataserver.md): utimestamp + current_interval × 2 < now, for
  // modules that are neither async nor keep-alive; the bench's fleet sends neither.
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    'SELECT COALESCE(SUM(estado = 3), 0) AS unknown,' +
      ' COALESCE(SUM(current_interval > 0 AND utimestamp + 2 * current_interval < UNIX_TIMESTAMP()), 0) AS overdue' +
      ' FROM tagente_estado',
  );
  return { unknown: Number(rows[0]?.['unknown'] ?? 0), overdue: Number(rows[0]?.['overdue'] ?? 0) };
}

async function countModules(db: mysql.Connection): Promise<number> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM tagente_estado');
  return Number(rows[0]?.['n'] ?? 0);
}

/** Every acknowledged packet must have its ledger row: nothing lost, nothing counted twice. */
async function readLedger(db: mysql.Connection, ctx: RunContext): Promise<SoakLedger> {
  let rows: number | undefined;
  try {
    const [result] = await db.query<mysql.RowDataPacket[]>(
      'SELECT COUNT(*) AS n FROM tingest_ledger',
    );
    rows = Number(result[0]?.['n'] ?? 0);
  } catch {
    rows = undefined; // another server's database: no ledger to count
  }
  const acked = ctx.totalAcked;
  const committed = ctx.totalCommitted;
  return { rows, acked, committed, ok: committed === acked && (rows ?? acked) === acked };
}

function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  return readProcSnapshot(pid)?.cpuSeconds ?? Number.NaN;
}

function percentOf(from: number, to: number, wallSec: number): number {
  return ((to - from) / wallSec) * 100;
}

function readLoadAverage(): number {
  return loadavg()[0] ?? Number.NaN;
}
