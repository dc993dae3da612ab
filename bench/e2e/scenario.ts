/**
 * The end-to-end scenario: a creation pass (agents and modules get created), steady passes at
 * full speed, and a paced latency pass at a fraction of the steady rate. Each pass is sent over
 * Tentacle and measured where it lands — in the database — then reported apart.
 */
import { capacityStudyModules, createFleet, type Fleet, type Pass } from '../generator/index.js';
import {
  createProgressBar,
  createTimeSeries,
  findPidsByName,
  formatNumber,
  median,
  readProcSnapshot,
  summarize,
  type Summary,
  type TimeSeries,
  round,
} from '../lib/index.js';
import { createCommitWatcher, type CommitWatcher } from '../load/commit-watcher.js';
import {
  countsByLabel,
  countsByResult,
  FILES_PROCESSED,
  QUEUE_GAUGES,
  TENTACLE_REJECTIONS,
  scrapeMetrics,
} from '../load/metrics-scraper.js';
import { openRawConnection } from '../load/raw-tentacle.js';
import { sendFiles, type OpenConnection, type OutgoingFile } from '../load/sender.js';
import type { E2eOptions } from './options.js';
import { openTarget, type BenchTarget } from './target.js';

export type PassKind = 'creation' | 'steady' | 'latency';

export interface PassResult {
  readonly name: string;
  readonly kind: PassKind;
  /** When the pass started, seconds from the start of the run (chart markers). */
  readonly startedAtSec: number;
  readonly packets: number;
  readonly acked: number;
  readonly committed: number;
  readonly failed: number;
  /** Sends the load driver repeated after a failed attempt (a refused or reset connection). */
  readonly retries: number;
  readonly complete: boolean;
  /** First send to last `SEND OK`. */
  readonly sendSeconds: number;
  /** First send to the last packet seen committed. */
  readonly commitSeconds: number;
  readonly packetsPerSec: number;
  readonly ackedPerSec: number;
  readonly moduleValues: number;
  readonly valuesPerSec: number;
  readonly historyRows: number;
  readonly targetRatePerSec: number | undefined;
  readonly latencyMs: Summary;
  readonly serverCpuPercent: number | undefined;
  readonly dbCpuPercent: number | undefined;
  /** The bench's own redis-server in scale-out mode (`--queue`), else undefined. */
  readonly redisCpuPercent?: number | undefined;
  /** The bench process itself (load generator + DB polling), to show it was not the limit. */
  readonly benchCpuPercent: number;
  readonly serverRssBytes: number | undefined;
  /** Files the server finished during the pass by result, from its /metrics (when scraped). */
  readonly serverFiles: Readonly<Record<string, number>> | undefined;
  /** Connections/commands the server refused during the pass, by reason (when scraped). */
  readonly serverRejections: Readonly<Record<string, number>> | undefined;
  /** How long each database poll took: the bench's own load on the database. */
  readonly pollMs: Summary;
  readonly errors: readonly string[];
}

export interface Verdict {
  readonly agents: number;
  readonly intervalSec: number;
  readonly budgetSec: number;
  readonly requiredPacketsPerSec: number;
  readonly steadyPacketsPerSec: number;
  readonly creationSeconds: number;
  readonly steadySeconds: number;
  readonly capacityAgents: number;
  readonly ok: boolean;
  readonly text: string;
}

export interface E2eResult {
  readonly status: 'ok' | 'incomplete' | 'aborted';
  readonly target: string;
  readonly databaseVersion: string;
  readonly passes: readonly PassResult[];
  readonly verdict: Verdict | undefined;
  readonly serverPeakRssBytes: number | undefined;
  readonly generateSeconds: number;
  readonly wallSeconds: number;
  readonly timeline: {
    readonly t: number[];
    readonly acked: number[];
    readonly committed: number[];
    readonly inFlight: number[];
    readonly spool: number[];
    /** The server's own queue gauge from /metrics (NaN when not scraped). */
    readonly serverQueue: number[];
    readonly serverRssMB: number[];
  };
}

/** The capacity study's rule: a server copes when one interval's packets fit in 80 % of it. */
export const INTERVAL_BUDGET_FRACTION = 0.8;
const MODULE_COUNT_WAIT_MS = 10_000;
/** How long the server's file counters may trail the database at the end of a pass. */
const SERVER_COUNT_SETTLE_MS = 3000;
/** Chart samples (server /metrics, spool count, RSS) at most this often. */
const TIMELINE_SAMPLE_MS = 500;

/** Scenario variants (e.g. `--alerts`) act on the target's database between passes. */
export interface E2eHooks {
  /** Right before a pass sends its first file (its files are generated). */
  beforePass?(target: BenchTarget, kind: PassKind, name: string): void;
  /** After a complete creation pass (agents and modules exist), before the next pass. */
  afterCreation?(target: BenchTarget): Promise<void>;
  /** After every pass, while the target's database still exists. */
  afterPass?(target: BenchTarget, pass: PassResult): Promise<void>;
}

/** One run's open target, fleet and counters; a soak (`soak.ts`) drives passes through it. */
export interface RunContext {
  readonly options: E2eOptions;
  readonly hooks: E2eHooks;
  readonly target: BenchTarget;
  readonly fleet: Fleet;
  readonly watcher: CommitWatcher;
  readonly open: OpenConnection;
  readonly timeline: TimeSeries;
  readonly runStartMs: number;
  readonly signal: AbortSignal;
  readonly dbPid: number | undefined;
  totalAcked: number;
  totalCommitted: number;
  serverPeakRss: number;
  /** Called with each packet's SEND OK → commit latency as its commit is seen (soak windows). */
  onCommit?: ((latencyMs: number) => void) | undefined;
}

/** What a soak changes in the fleet: its first data time (many passes must stay in the past). */
export interface FleetOverrides {
  readonly startEpoch?: number;
}

/** The parsed options, plus a variant of the self-started target (`--queue` runs). */
export type E2eRunOptions = E2eOptions & {
  /** Scale-out mode with this many worker processes (see TargetOptions.scaleOutWorkers). */
  readonly scaleOutWorkers?: number | undefined;
};

export async function runE2e(
  options: E2eRunOptions,
  log: (line: string) => void,
  stop?: AbortSignal,
  hooks: E2eHooks = {},
): Promise<E2eResult> {
  return withRunContext(options, log, stop, hooks, {}, (ctx) => runPasses(ctx, log));
}

/** Opens the target, fleet and commit watcher, runs `body` and always closes them. */
export async function withRunContext<T>(
  options: E2eOptions,
  log: (line: string) => void,
  stop: AbortSignal | undefined,
  hooks: E2eHooks,
  fleetOverrides: FleetOverrides,
  body: (ctx: RunContext) => Promise<T>,
): Promise<T> {
  const runStartMs = performance.now();
  const deadline = AbortSignal.timeout(Math.max(1, Math.floor(options.maxDurationMs)));
  const signal = stop ? AbortSignal.any([deadline, stop]) : deadline;
  const target = await openTarget({ ...options, logDir: options.outDir ?? tmpLogDir() });
  let watcher: CommitWatcher | undefined;
  try {
    log(`target: ${target.description}`);
    const modules = capacityStudyModules(options.modules);
    const fleet = createFleet({
      agents: options.agents,
      modules,
      seed: options.seed,
      agentPrefix: options.agentPrefix,
      changeRate: options.changeRate,
      windowsShare: options.windowsShare,
      intervalSec: options.intervalSec,
      ...fleetOverrides,
    });
    const last = modules[modules.length - 1];
    watcher = await createCommitWatcher(
      target.db,
      fleet.agentNames,
      last ? [last.name, last.latin1Name] : [],
    );
    const ctx: RunContext = {
      options,
      hooks,
      target,
      fleet,
      watcher,
      open: await chooseClient(options.client),
      timeline: createTimeSeries(runStartMs),
      runStartMs,
      signal,
      // The pid file names the right mariadbd even when several run here (test servers).
      dbPid: isLoopback(target.db.host)
        ? (watcher.databasePid ?? findPidsByName('mariadbd')[0])
        : undefined,
      totalAcked: 0,
      totalCommitted: 0,
      serverPeakRss: 0,
    };
    return await body(ctx);
  } finally {
    // The server, its Redis and the database go even when the watcher fails to close.
    try {
      await watcher?.close();
    } finally {
      await target.close();
    }
  }
}

async function runPasses(ctx: RunContext, log: (line: string) => void): Promise<E2eResult> {
  const { options, fleet } = ctx;
  const passes: PassResult[] = [];
  let generateMs = 0;
  const plan: { kind: PassKind; name: string }[] = [
    { kind: 'creation', name: 'creation' },
    ...Array.from({ length: options.steadyPasses }, (_, i) => ({
      kind: 'steady' as const,
      name: `steady ${i + 1}`,
    })),
    ...(options.latencyLoad > 0 ? [{ kind: 'latency' as const, name: 'latency' }] : []),
  ];
  let status: E2eResult['status'] = 'ok';
  for (const [index, step] of plan.entries()) {
    if (ctx.signal.aborted) {
      status = 'aborted';
      break;
    }
    const pass = fleet.pass(index);
    let count = options.agents;
    let rate: number | undefined;
    if (step.kind === 'latency') {
      const steadyRate = median(
        passes.filter((p) => p.kind === 'steady').map((p) => p.packetsPerSec),
      );
      const base = Number.isFinite(steadyRate) ? steadyRate : (passes.at(-1)?.packetsPerSec ?? 0);
      if (base <= 0) break;
      rate = base * options.latencyLoad;
      count = Math.min(options.agents, Math.max(1, Math.ceil(rate * options.latencySeconds)));
    }
    const genStart = performance.now();
    const files: OutgoingFile[] = [];
    for (const file of pass.files(0, count)) {
      files.push({ name: file.name, bytes: file.bytes, agentIndex: file.agentIndex });
    }
    generateMs += performance.now() - genStart;
    ctx.hooks.beforePass?.(ctx.target, step.kind, step.name);
    const result = await runPass(ctx, step.kind, step.name, pass, files, rate);
    passes.push(result);
    log(describePass(result));
    await ctx.hooks.afterPass?.(ctx.target, result);
    if (!result.complete) {
      status = isAborted(ctx.signal) ? 'aborted' : 'incomplete';
      break;
    }
    if (step.kind === 'creation') await ctx.hooks.afterCreation?.(ctx.target);
  }
  return {
    status,
    target: ctx.target.description,
    databaseVersion: ctx.watcher.databaseVersion,
    passes,
    verdict: computeVerdict(options, passes),
    serverPeakRssBytes: ctx.target.serverPid === undefined ? undefined : ctx.serverPeakRss,
    generateSeconds: generateMs / 1000,
    wallSeconds: (performance.now() - ctx.runStartMs) / 1000,
    timeline: timelineOf(ctx),
  };
}

function timelineOf(ctx: RunContext): E2eResult['timeline'] {
  const timeline = ctx.timeline.points();
  return {
    t: timeline.map((p) => round(p.t, 2)),
    acked: timeline.map((p) => p.values['acked'] ?? 0),
    committed: timeline.map((p) => p.values['committed'] ?? 0),
    inFlight: timeline.map((p) => p.values['inFlight'] ?? 0),
    spool: timeline.map((p) => p.values['spool'] ?? 0),
    serverQueue: timeline.map((p) => p.values['serverQueue'] ?? Number.NaN),
    serverRssMB: timeline.map((p) => p.values['serverRssMB'] ?? 0),
  };
}

/** Sends `files` (paced at `ratePerSec` when given) and measures them into the database. */
export async function runPass(
  ctx: RunContext,
  kind: PassKind,
  name: string,
  pass: Pass,
  files: readonly OutgoingFile[],
  ratePerSec: number | undefined,
): Promise<PassResult> {
  const { options, watcher, target } = ctx;
  const agentCount = options.agents;
  const ackMs = new Float64Array(agentCount).fill(Number.NaN);
  const commitMs = new Float64Array(agentCount).fill(Number.NaN);
  const progress = options.quiet
    ? undefined
    : createProgressBar({ label: name.padEnd(9), total: files.length });
  const serverCpu0 = snapshotCpu(...target.serverPids);
  const dbCpu0 = snapshotCpu(ctx.dbPid);
  const redisCpu0 = snapshotCpu(target.redisPid);
  const benchCpu0 = process.cpuUsage();
  const filesBefore = await serverFileCounts(target.metricsUrl);
  const rejectionsBefore = await serverRejectionCounts(target.metricsUrl);
  const startMs = performance.now();
  let acked = 0;
  let lastAckMs = startMs;
  let committed = 0;
  let lastCommitMs = startMs;
  let lastProgressMs = startMs;

  const sendState = { done: false };
  /** Acknowledged and not yet seen in the database: the only agents a poll asks about. */
  const pending = new Set<number>();
  const sending = sendFiles(files, {
    target: {
      host: target.host,
      port: target.port,
      tls: options.tls,
      zip: options.zip,
      timeoutMs: options.sendTimeoutMs,
      ...(options.password === undefined ? {} : { password: options.password }),
    },
    open: ctx.open,
    concurrency: options.concurrency,
    mode: options.mode,
    ...(ratePerSec === undefined ? {} : { ratePerSec }),
    signal: ctx.signal,
    onAck(file, at) {
      ackMs[file.agentIndex] = at;
      pending.add(file.agentIndex);
      acked += 1;
      ctx.totalAcked += 1;
      lastAckMs = at;
      lastProgressMs = at;
    },
  }).finally(() => {
    sendState.done = true;
  });

  let complete = false;
  let previousPollMs = startMs;
  const errors: string[] = [];
  const pollDurations: number[] = [];
  let lastSampleMs = Number.NEGATIVE_INFINITY;
  let lastPollSampled: boolean;
  for (;;) {
    const pollStart = performance.now();
    // The database is polled every period (latency resolution); the chart's samples, which
    // scrape the server's /metrics, only every TIMELINE_SAMPLE_MS, so that rendering the whole
    // registry ten times a second is not charged to the server being measured.
    const sampleDue = pollStart - lastSampleMs >= TIMELINE_SAMPLE_MS;
    if (sampleDue) lastSampleMs = pollStart;
    lastPollSampled = sampleDue;
    const [{ observedMs, agentIndexes }, serverGauges] = await Promise.all([
      watcher.pollAgents(pass.sqlTimestamp, [...pending]),
      target.metricsUrl === undefined || !sampleDue
        ? undefined
        : scrapeMetrics(target.metricsUrl, QUEUE_GAUGES),
    ]);
    pollDurations.push(performance.now() - pollStart);
    // Committed after the previous poll's snapshot and before this one: take the midpoint
    // (unbiased, ± half a poll period) rather than the upper bound.
    const estimateMs = (previousPollMs + observedMs) / 2;
    previousPollMs = observedMs;
    for (const index of agentIndexes) {
      if (!pending.delete(index)) continue;
      commitMs[index] = estimateMs;
      ctx.onCommit?.(Math.max(0, estimateMs - (ackMs[index] ?? estimateMs)));
      committed += 1;
      ctx.totalCommitted += 1;
      lastCommitMs = observedMs;
      lastProgressMs = performance.now();
    }
    if (sampleDue) sampleTimeline(ctx, serverGauges);
    const elapsedSec = (performance.now() - startMs) / 1000;
    progress?.update(
      committed,
      `${formatNumber(committed / Math.max(elapsedSec, 0.001))} pkt/s committed`,
    );
    if (committed >= files.length) {
      complete = true;
      break;
    }
    if (sendState.done && committed >= acked && acked > 0 && committed > 0) {
      // Everything acknowledged is in; the rest failed to send.
      complete = acked === files.length;
      break;
    }
    const failure = target.failure();
    if (failure !== undefined) {
      errors.push(failure);
      break;
    }
    if (ctx.signal.aborted || performance.now() - lastProgressMs > options.commitTimeoutMs) break;
    // Keep polling overhead bounded: never spend more than ~1/5 of the time querying.
    const pollCost = performance.now() - pollStart;
    await sleep(Math.max(options.pollIntervalMs, pollCost * 4) - pollCost);
  }
  // The chart ends on the pass's last counts, whenever the last sample was taken.
  if (!lastPollSampled) {
    sampleTimeline(
      ctx,
      target.metricsUrl === undefined
        ? undefined
        : await scrapeMetrics(target.metricsUrl, QUEUE_GAUGES),
    );
  }
  const sent = await sending;
  const endMs = lastCommitMs;
  const serverCpu = cpuPercent(serverCpu0, snapshotCpu(...target.serverPids), endMs - startMs);
  const dbCpu = cpuPercent(dbCpu0, snapshotCpu(ctx.dbPid), endMs - startMs);
  const redisCpu = cpuPercent(redisCpu0, snapshotCpu(target.redisPid), endMs - startMs);
  const benchCpuUsage = process.cpuUsage(benchCpu0);
  const benchCpuSeconds = (benchCpuUsage.user + benchCpuUsage.system) / 1e6;
  progress?.finish(complete ? 'committed' : 'INCOMPLETE', committed);

  const moduleValues = await waitForModuleValues(ctx, pass, committed * options.modules);
  const serverFiles = await settledServerFiles(target.metricsUrl, filesBefore, committed);
  for (const [result, n] of Object.entries(serverFiles ?? {})) {
    if (result !== 'ok' && n > 0) errors.push(`server finished ${n} file(s) as ${result}`);
  }
  const serverRejections = diffCounts(
    rejectionsBefore,
    await serverRejectionCounts(target.metricsUrl),
  );
  const historyRows = await watcher.countHistoryRows(pass.epoch);
  const latencies: number[] = [];
  for (let i = 0; i < agentCount; i++) {
    const a = ackMs[i] ?? Number.NaN;
    const c = commitMs[i] ?? Number.NaN;
    // A commit seen before our SEND OK arrived is a zero-latency commit.
    if (Number.isFinite(a) && Number.isFinite(c)) latencies.push(Math.max(0, c - a));
  }
  const commitSeconds = (endMs - startMs) / 1000;
  const snapshot = target.serverPid === undefined ? undefined : readProcSnapshot(target.serverPid);
  return {
    name,
    kind,
    startedAtSec: round((startMs - ctx.runStartMs) / 1000, 2),
    packets: files.length,
    acked,
    committed,
    failed: sent.failed,
    retries: sent.retries,
    complete,
    sendSeconds: round((lastAckMs - startMs) / 1000, 3),
    commitSeconds: round(commitSeconds, 3),
    packetsPerSec: round(committed / Math.max(commitSeconds, 0.001), 1),
    ackedPerSec: round(acked / Math.max((lastAckMs - startMs) / 1000, 0.001), 1),
    moduleValues,
    valuesPerSec: round(moduleValues / Math.max(commitSeconds, 0.001), 0),
    historyRows,
    targetRatePerSec: ratePerSec === undefined ? undefined : round(ratePerSec, 1),
    latencyMs: roundSummary(summarize(latencies)),
    serverCpuPercent: serverCpu,
    dbCpuPercent: dbCpu,
    ...(redisCpu === undefined ? {} : { redisCpuPercent: redisCpu }),
    benchCpuPercent: cpuPercent(0, benchCpuSeconds, endMs - startMs) ?? 0,
    serverRssBytes: snapshot?.rssBytes,
    serverFiles,
    serverRejections,
    pollMs: roundSummary(summarize(pollDurations)),
    errors: [...errors, ...sent.errors],
  };
}

async function serverRejectionCounts(
  url: string | undefined,
): Promise<Record<string, number> | undefined> {
  if (url === undefined) return undefined;
  const samples = await scrapeMetrics(url, [TENTACLE_REJECTIONS]);
  return samples ? countsByLabel(samples, TENTACLE_REJECTIONS, 'reason') : undefined;
}

async function serverFileCounts(
  url: string | undefined,
): Promise<Record<string, number> | undefined> {
  if (url === undefined) return undefined;
  const samples = await scrapeMetrics(url, [FILES_PROCESSED]);
  return samples ? countsByResult(samples, FILES_PROCESSED) : undefined;
}

/**
 * The server's finished-file counts for the pass. A packet shows in the database a moment before
 * the server has counted it (the COMMIT reply is still on its way), so wait briefly for the
 * counts to reach what the database showed.
 */
async function settledServerFiles(
  url: string | undefined,
  before: Record<string, number> | undefined,
  committed: number,
): Promise<Record<string, number> | undefined> {
  const deadline = performance.now() + SERVER_COUNT_SETTLE_MS;
  for (;;) {
    const diff = diffCounts(before, await serverFileCounts(url));
    const counted = Object.values(diff ?? {}).reduce((a, b) => a + b, 0);
    if (diff === undefined || counted >= committed || performance.now() > deadline) return diff;
    await sleep(50);
  }
}

function diffCounts(
  before: Record<string, number> | undefined,
  after: Record<string, number> | undefined,
): Record<string, number> | undefined {
  if (after === undefined) return undefined;
  const diff: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) {
    const n = value - (before?.[key] ?? 0);
    // The server exports every result from the start at 0: report only those this pass saw.
    if (n !== 0) diff[key] = n;
  }
  return diff;
}

/** Module status rows reflecting the pass; waits briefly for servers that commit per module. */
async function waitForModuleValues(ctx: RunContext, pass: Pass, expected: number): Promise<number> {
  const deadline = performance.now() + MODULE_COUNT_WAIT_MS;
  let count = await ctx.watcher.countModuleValues(pass.sqlTimestamp);
  while (count < expected && performance.now() < deadline && !ctx.signal.aborted) {
    await sleep(200);
    count = await ctx.watcher.countModuleValues(pass.sqlTimestamp);
  }
  return count;
}

function sampleTimeline(ctx: RunContext, serverGauges: Map<string, number> | undefined): void {
  const rss =
    ctx.target.serverPid === undefined ? undefined : readProcSnapshot(ctx.target.serverPid);
  // VmHWM: the kernel's lifetime peak of the process we started, spikes between samples included.
  if (rss) ctx.serverPeakRss = Math.max(ctx.serverPeakRss, rss.rssBytes, rss.peakRssBytes);
  ctx.timeline.add({
    acked: ctx.totalAcked,
    committed: ctx.totalCommitted,
    inFlight: ctx.totalAcked - ctx.totalCommitted,
    spool: ctx.target.spoolDepth() ?? 0,
    serverQueue: serverGauges?.get('pandora_dataserver_spool_files') ?? Number.NaN,
    serverRssMB: rss ? round(rss.rssBytes / 2 ** 20, 1) : 0,
  });
}

export function computeVerdict(
  options: E2eOptions,
  passes: readonly PassResult[],
): Verdict | undefined {
  const steady = passes.filter((p) => p.kind === 'steady' && p.complete);
  const creation = passes.find((p) => p.kind === 'creation' && p.complete);
  if (steady.length === 0 || !creation) return undefined;
  const budgetSec = options.intervalSec * INTERVAL_BUDGET_FRACTION;
  const steadyRate = median(steady.map((p) => p.packetsPerSec));
  const requiredRate = options.agents / budgetSec;
  const creationSeconds = options.agents / creation.packetsPerSec;
  const steadySeconds = options.agents / steadyRate;
  const ok = steadyRate >= requiredRate && creationSeconds <= budgetSec;
  const capacityAgents = Math.floor(steadyRate * budgetSec);
  const text =
    `${ok ? 'YES' : 'NO'}: ${formatNumber(options.agents)} agents every ${options.intervalSec} s need ` +
    `${formatNumber(requiredRate, 1)} packets/s (80 % budget ${formatNumber(budgetSec)} s); ` +
    `steady ${formatNumber(steadyRate)} packets/s takes ${formatNumber(steadySeconds, 1)} s per interval, ` +
    `creation ${formatNumber(creationSeconds, 1)} s; capacity ≈ ${formatNumber(capacityAgents)} agents`;
  return {
    agents: options.agents,
    intervalSec: options.intervalSec,
    budgetSec,
    requiredPacketsPerSec: round(requiredRate, 2),
    steadyPacketsPerSec: steadyRate,
    creationSeconds: round(creationSeconds, 2),
    steadySeconds: round(steadySeconds, 2),
    capacityAgents,
    ok,
    text,
  };
}

function describePass(p: PassResult): string {
  return (
    `${p.name}: ${p.committed}/${p.packets} packets in ${p.commitSeconds} s = ${formatNumber(p.packetsPerSec)} pkt/s, ` +
    `${formatNumber(p.valuesPerSec)} values/s, latency p50 ${formatNumber(p.latencyMs.p50)} ms ` +
    `p99 ${formatNumber(p.latencyMs.p99)} ms, DB poll p50 ${formatNumber(p.pollMs.p50)} ms` +
    (p.complete ? '' : ' (INCOMPLETE)') +
    describeRetries(p) +
    (p.errors.length > 0 ? ` errors: ${p.errors.join('; ')}` : '')
  );
}

/**
 * Retries and server refusals, always shown when there were any: each costs CPU on both sides
 * and a pass whose packets all commit would otherwise hide them.
 */
export function describeRetries(p: Pick<PassResult, 'retries' | 'serverRejections'>): string {
  const refused = Object.entries(p.serverRejections ?? {})
    .map(([reason, n]) => `${formatNumber(n)} ${reason}`)
    .join(', ');
  if (p.retries === 0 && refused === '') return '';
  return (
    `, ${formatNumber(p.retries)} retries` + (refused === '' ? '' : `, server refused ${refused}`)
  );
}

async function chooseClient(kind: E2eOptions['client']): Promise<OpenConnection> {
  if (kind === 'raw') return openRawConnection;
  const { openLibraryConnection } = await import('../load/library-client.js');
  return openLibraryConnection;
}

/** Read through a call: TypeScript narrows `signal.aborted` and cannot see it change. */
export function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

/** CPU seconds of the processes together; undefined when none is given or one is gone. */
function snapshotCpu(...pids: (number | undefined)[]): number | undefined {
  let sum = 0;
  for (const pid of pids) {
    const seconds = pid === undefined ? undefined : readProcSnapshot(pid)?.cpuSeconds;
    if (seconds === undefined) return undefined;
    sum += seconds;
  }
  return pids.length === 0 ? undefined : sum;
}

function cpuPercent(
  from: number | undefined,
  to: number | undefined,
  wallMs: number,
): number | undefined {
  if (from === undefined || to === undefined || wallMs <= 0) return undefined;
  return round(((to - from) / (wallMs / 1000)) * 100, 0);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1';
}

function tmpLogDir(): string {
  return process.env['TMPDIR'] ?? '/tmp';
}

function roundSummary(s: Summary): Summary {
  return {
    count: s.count,
    min: round(s.min, 1),
    max: round(s.max, 1),
    mean: round(s.mean, 1),
    p50: round(s.p50, 1),
    p95: round(s.p95, 1),
    p99: round(s.p99, 1),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
