/** Turns e2e results into the console table, the SVG charts and the README markdown section. */
import {
  barChartSvg,
  describeEnv,
  formatMarkdownTable,
  lineChartSvg,
  median,
  type BenchEnv,
  type Row,
} from '../lib/index.js';
import type { E2eOptions } from './options.js';
import type { E2eResult, PassKind, PassResult } from './scenario.js';

/** The issue's targets for the standard scenario on the 2-core machine. */
export const TARGETS = {
  creationPacketsPerSec: 1000,
  steadyPacketsPerSec: 2000,
  latencyP99Ms: 1000,
  serverRssBytes: 300 * 2 ** 20,
} as const;

/** The Perl reference measured on this machine (issue 6). */
export const PERL_REFERENCE = { creationPacketsPerSec: 26, steadyPacketsPerSec: 46 } as const;

export function passRows(passes: readonly PassResult[]): Row[] {
  return passes.map((p) => ({
    pass: p.complete ? p.name : `${p.name} (incomplete)`,
    packets: p.committed,
    'SEND OK/s': p.ackedPerSec,
    'pkt/s': p.packetsPerSec,
    'values/s': p.valuesPerSec,
    'history rows': p.historyRows,
    'p50 ms': p.latencyMs.p50,
    'p95 ms': p.latencyMs.p95,
    'p99 ms': p.latencyMs.p99,
    'server CPU %': p.serverCpuPercent ?? Number.NaN,
    'DB CPU %': p.dbCpuPercent ?? Number.NaN,
    'bench CPU %': p.benchCpuPercent,
    'server RSS MB': p.serverRssBytes === undefined ? Number.NaN : p.serverRssBytes / 2 ** 20,
  }));
}

/** Median over repeated runs, pass by pass (passes matched by name). */
export function medianPassRows(runs: readonly E2eResult[]): Row[] {
  const names = runs[0]?.passes.map((p) => p.name) ?? [];
  return names.map((name) => {
    const same = runs.flatMap((r) => r.passes.filter((p) => p.name === name));
    const m = (pick: (p: PassResult) => number | undefined): number =>
      median(same.map(pick).filter((v): v is number => v !== undefined && Number.isFinite(v)));
    return {
      pass: name,
      runs: same.length,
      packets: m((p) => p.committed),
      'SEND OK/s': m((p) => p.ackedPerSec),
      'pkt/s': m((p) => p.packetsPerSec),
      'values/s': m((p) => p.valuesPerSec),
      'history rows': m((p) => p.historyRows),
      'p50 ms': m((p) => p.latencyMs.p50),
      'p95 ms': m((p) => p.latencyMs.p95),
      'p99 ms': m((p) => p.latencyMs.p99),
      'server CPU %': m((p) => p.serverCpuPercent),
      'DB CPU %': m((p) => p.dbCpuPercent),
      'bench CPU %': m((p) => p.benchCpuPercent),
      'server RSS MB': m((p) =>
        p.serverRssBytes === undefined ? undefined : p.serverRssBytes / 2 ** 20,
      ),
    };
  });
}

/** CPU milliseconds per committed packet, by process. */
export interface CpuCost {
  readonly serverMs: number;
  readonly dbMs: number;
  /** The bench's own redis-server (`--queue`); NaN when there was none. */
  readonly redisMs: number;
  readonly benchMs: number;
  /** All together (MariaDB and Redis counted as 0 when they were not sampled). */
  readonly totalMs: number;
}

/** Where the CPU of one committed packet went, per pass kind, and what that allows on `cores`. */
export interface CpuBudgetRow extends CpuCost {
  readonly pass: PassKind;
  /** Packets/s if every core did nothing but this: `cores` seconds of CPU / totalMs. */
  readonly ceilingPerSec: number;
  /** The total CPU per packet the issue's target allows on `cores` (NaN: no target). */
  readonly targetMs: number;
}

const TARGET_OF: Partial<Record<PassKind, number>> = {
  creation: TARGETS.creationPacketsPerSec,
  steady: TARGETS.steadyPacketsPerSec,
};

/** A process's CPU (percent of one core) over a pass's packet rate: ms per packet, or NaN. */
export function cpuMsPerPacket(percent: number | undefined, p: PassResult): number {
  return percent === undefined || p.packetsPerSec <= 0
    ? Number.NaN
    : (percent * 10) / p.packetsPerSec;
}

/**
 * Each process's CPU share over the packet rate, median over the complete `passes`; undefined
 * when the server's CPU was not sampled (a --target without --server-pid).
 */
export function cpuCost(passes: readonly PassResult[]): CpuCost | undefined {
  const complete = passes.filter((p) => p.complete && p.packetsPerSec > 0);
  const msPerPacket = (pick: (p: PassResult) => number | undefined): number =>
    median(complete.map((p) => cpuMsPerPacket(pick(p), p)).filter(Number.isFinite));
  const serverMs = msPerPacket((p) => p.serverCpuPercent);
  if (!Number.isFinite(serverMs)) return undefined;
  const dbMs = msPerPacket((p) => p.dbCpuPercent);
  const redisMs = msPerPacket((p) => p.redisCpuPercent);
  const benchMs = msPerPacket((p) => p.benchCpuPercent);
  const orZero = (ms: number): number => (Number.isFinite(ms) ? ms : 0);
  const totalMs = serverMs + orZero(dbMs) + orZero(redisMs) + benchMs;
  return { serverMs, dbMs, redisMs, benchMs, totalMs };
}

/**
 * The CPU cost of a creation and a steady packet over all runs. Generator, server and database
 * share the machine, so `cores * 1000 / total` bounds the packet rate at that cost: a target
 * above the ceiling needs a cheaper packet, not more concurrency.
 */
export function cpuBudgetRows(runs: readonly E2eResult[], cores: number): CpuBudgetRow[] {
  const kinds: PassKind[] = ['creation', 'steady'];
  const rows: CpuBudgetRow[] = [];
  for (const kind of kinds) {
    const cost = cpuCost(runs.flatMap((r) => r.passes.filter((p) => p.kind === kind)));
    if (cost === undefined) continue;
    const target = TARGET_OF[kind];
    rows.push({
      pass: kind,
      ...cost,
      ceilingPerSec: (cores * 1000) / cost.totalMs,
      targetMs: target === undefined ? Number.NaN : (cores * 1000) / target,
    });
  }
  return rows;
}

/** cpuBudgetRows as table rows (console and markdown); a Redis column when Redis was sampled. */
export function cpuBudgetTable(rows: readonly CpuBudgetRow[], cores: number): Row[] {
  const withRedis = rows.some((r) => Number.isFinite(r.redisMs));
  return rows.map((r) => ({
    pass: r.pass,
    'server ms': r.serverMs,
    'DB ms': r.dbMs,
    ...(withRedis ? { 'Redis ms': r.redisMs } : {}),
    'bench ms': r.benchMs,
    'total ms': r.totalMs,
    [`ceiling on ${cores} cores, pkt/s`]: r.ceilingPerSec,
    'target allows ms': r.targetMs,
  }));
}

export interface TargetCheck {
  readonly what: string;
  readonly target: string;
  readonly measured: string;
  readonly ok: boolean;
}

export function checkTargets(runs: readonly E2eResult[]): TargetCheck[] {
  const all = runs.flatMap((r) => r.passes);
  const creation = median(all.filter((p) => p.kind === 'creation').map((p) => p.packetsPerSec));
  const steady = median(
    runs.map((r) =>
      median(r.passes.filter((p) => p.kind === 'steady').map((p) => p.packetsPerSec)),
    ),
  );
  const p99 = median(all.filter((p) => p.kind === 'latency').map((p) => p.latencyMs.p99));
  const rss = median(
    runs.map((r) => r.serverPeakRssBytes).filter((v): v is number => v !== undefined),
  );
  return [
    check(
      'creation pass',
      `≥ ${TARGETS.creationPacketsPerSec} pkt/s`,
      creation,
      'pkt/s',
      creation >= TARGETS.creationPacketsPerSec,
    ),
    check(
      'steady state',
      `≥ ${TARGETS.steadyPacketsPerSec} pkt/s`,
      steady,
      'pkt/s',
      steady >= TARGETS.steadyPacketsPerSec,
    ),
    check(
      'p99 SEND OK → commit at half load',
      `< ${TARGETS.latencyP99Ms} ms`,
      p99,
      'ms',
      p99 < TARGETS.latencyP99Ms,
    ),
    check('server peak RSS', '< 300 MB', rss / 2 ** 20, 'MB', rss < TARGETS.serverRssBytes),
  ];
}

function check(
  what: string,
  target: string,
  value: number,
  unit: string,
  ok: boolean,
): TargetCheck {
  const measured = Number.isFinite(value)
    ? `${Math.round(value * 10) / 10} ${unit}`
    : 'not measured';
  return { what, target, measured, ok: Number.isFinite(value) && ok };
}

export function timelineSvg(result: E2eResult, title: string): string {
  const { t, committed, acked, inFlight, spool, serverQueue } = result.timeline;
  const rate = (values: readonly number[]): [number, number][] => {
    const out: [number, number][] = [];
    let from = 0;
    for (let i = 1; i < t.length; i++) {
      const now = t[i] ?? 0;
      while (from < i - 1 && now - (t[from] ?? 0) > 1) from += 1;
      const dt = now - (t[from] ?? 0);
      if (dt > 0) out.push([now, ((values[i] ?? 0) - (values[from] ?? 0)) / dt]);
    }
    return out;
  };
  const zip = (values: readonly number[]): [number, number][] =>
    t.map((x, i) => [x, values[i] ?? 0]);
  const hasSpool = spool.some((v) => v > 0);
  const hasServerQueue = serverQueue.some((v) => Number.isFinite(v));
  const finite = (values: readonly number[]): [number, number][] =>
    zip(values).filter((p) => Number.isFinite(p[1]));
  return lineChartSvg({
    title,
    xLabel: 'seconds since start',
    yLabel: 'packets per second',
    y2Label: 'packets queued (R)',
    series: [
      { name: 'committed pkt/s', points: rate(committed) },
      { name: 'SEND OK pkt/s', points: rate(acked) },
      { name: 'not yet committed', points: zip(inFlight), axis: 'right' },
      ...(hasSpool ? [{ name: 'spool files', points: zip(spool), axis: 'right' as const }] : []),
      ...(hasServerQueue
        ? [{ name: 'server queue', points: finite(serverQueue), axis: 'right' as const }]
        : []),
    ],
    markers: result.passes.map((p) => ({ x: p.startedAtSec, label: p.name })),
  });
}

export interface ScalingPoint {
  /** The point's passes in full, for the JSON report. */
  readonly passes?: readonly PassResult[];
  readonly label: string;
  readonly agents: number;
  readonly modules: number;
  readonly creationPacketsPerSec: number;
  readonly steadyPacketsPerSec: number;
  readonly steadyValuesPerSec: number;
  readonly complete: boolean;
}

export function scalingSvg(points: readonly ScalingPoint[], title: string, xLabel: string): string {
  return barChartSvg({
    title,
    xLabel,
    yLabel: 'packets per second',
    seriesNames: ['creation pass', 'steady pass'],
    groups: points.map((p) => ({
      label: p.complete ? p.label : `${p.label} (incomplete)`,
      values: [p.creationPacketsPerSec, p.steadyPacketsPerSec],
    })),
  });
}

export function scalingRows(points: readonly ScalingPoint[]): Row[] {
  return points.map((p) => ({
    agents: p.agents,
    modules: p.modules,
    'creation pkt/s': p.creationPacketsPerSec,
    'steady pkt/s': p.steadyPacketsPerSec,
    'steady values/s': p.steadyValuesPerSec,
    'creation CPU ms/pkt': totalCpuMs(p, 'creation'),
    'steady CPU ms/pkt': totalCpuMs(p, 'steady'),
    committed: committedText(p),
  }));
}

/** Server, MariaDB and bench CPU per packet of a point's passes of `kind` (NaN: not sampled). */
function totalCpuMs(p: ScalingPoint, kind: PassKind): number {
  return cpuCost((p.passes ?? []).filter((pass) => pass.kind === kind))?.totalMs ?? Number.NaN;
}

/** `all` or, for an incomplete point, how far each pass got (e.g. `creation 18,593/30,000`). */
function committedText(p: ScalingPoint): string {
  const short = (p.passes ?? []).filter((pass) => pass.committed < pass.packets);
  if (p.complete && short.length === 0) return 'all';
  if (short.length === 0) return 'incomplete';
  return short
    .map(
      (pass) =>
        `${pass.name} ${pass.committed.toLocaleString('en-US')}/${pass.packets.toLocaleString('en-US')}`,
    )
    .join(', ');
}

export interface MarkdownInput {
  readonly env: BenchEnv;
  readonly options: E2eOptions;
  readonly command: string;
  readonly runs: readonly E2eResult[];
  readonly chartPath: string | undefined;
  readonly scaling?: {
    readonly points: readonly ScalingPoint[];
    readonly chartPaths: readonly string[];
    readonly command: string;
  };
}

export function markdownSection(input: MarkdownInput): string {
  const { runs } = input;
  const checks = checkTargets(runs);
  const verdicts = runs.map((r) => r.verdict?.text).filter((v): v is string => v !== undefined);
  const lines = [
    '## Performance',
    '',
    '> **How to read these numbers.** Load generator, server and MariaDB share one small machine;',
    '> the figures compare servers on *this* machine only. A packet counts when its last module’s',
    '> status row is in the database (read back with SQL, so any Pandora server can be measured',
    '> the same way); latency runs from the final `SEND OK` to the commit, placed midway between',
    '> the last database poll that did not see the packet and the first that did (±50 ms at the',
    '> default 100 ms poll period).',
    '',
    `Machine: ${describeEnv(input.env)}, ${input.env.date.slice(0, 16).replace('T', ' ')} UTC; ` +
      `database ${runs[0]?.databaseVersion ?? 'unknown'}.`,
    '',
    `Command: \`${input.command}\`${runs.length > 1 ? ` — ${runs.length} runs, medians shown` : ''}.`,
    '',
    formatMarkdownTable(runs.length > 1 ? medianPassRows(runs) : passRows(runs[0]?.passes ?? [])),
    '',
    `Capacity verdict: ${verdicts.length > 1 ? verdicts.map((v, i) => `run ${i + 1}: ${v}`).join('; ') : (verdicts[0] ?? 'not reached')}.`,
    '',
    perlComparison(runs),
    '',
    formatMarkdownTable(
      checks.map((c) => ({
        target: c.what,
        goal: c.target,
        measured: c.measured,
        met: c.ok ? 'yes' : 'no',
      })),
    ),
  ];
  const cores = input.env.cores;
  const budget = cpuBudgetRows(runs, cores);
  if (budget.length > 0) {
    lines.push(
      '',
      `CPU milliseconds per committed packet (medians), and the packet rate that cost allows when the ${cores} cores`,
      'do nothing else; a target above that ceiling needs a cheaper packet, not more load:',
      '',
      formatMarkdownTable(cpuBudgetTable(budget, cores)),
    );
  }
  if (input.chartPath !== undefined) {
    lines.push(
      '',
      `![Throughput and queue depth over time](${input.chartPath})`,
      '',
      'Solid lines, left axis: packets per second committed (from the database) and acknowledged',
      '(final `SEND OK`). Dashed lines, right axis: packets acknowledged but not yet committed, `.data`',
      'files in the spool, and the server’s own queue gauge from `/metrics` when it has one.',
    );
  }
  if (input.scaling) {
    lines.push(
      '',
      '### Scaling',
      '',
      `Command: \`${input.scaling.command}\` (one creation and one steady pass per point).`,
      '',
      formatMarkdownTable(scalingRows(input.scaling.points)),
      '',
      ...input.scaling.chartPaths.map(
        (p) => `![Packets per second against the amount of work](${p})`,
      ),
    );
  }
  lines.push(
    '',
    '### What the scenario does',
    '',
    ...describeScenario(input.options),
    '',
    'Reproduce: `npm run bench` (standard scenario, about 1–2 minutes), `npm run bench -- --help`',
    'for every knob, `npm run bench -- --scaling` for the scaling run, `--readme docs/bench.md` to',
    'regenerate this section. Results (JSON with machine, versions and commit; SVG charts) go to',
    '`bench/results/`.',
    '',
  );
  return lines.join('\n');
}

/** The scenario in words, from the options actually used. */
export function describeScenario(o: E2eOptions): string[] {
  const percent = (x: number): string => `${Math.round(x * 100)} %`;
  const server =
    o.target === undefined
      ? `the server is ${o.build ? 'the compiled build' : `\`${o.serverEntry}\``}, started by the bench with a fresh database and spool`
      : `the server is the one at ${o.target}`;
  return [
    `- **Fleet:** ${o.agents.toLocaleString('en-US')} agents × ${o.modules} modules in the Pandora capacity-study mix`,
    '  (1 string, then `generic_proc` and `generic_data` 17:15, data thresholds 50/75), generated',
    `  by \`bench/generator\` (our \`pandora_xml_stress\`); ${percent(o.windowsShare)} of agents send Windows-style`,
    `  ISO-8859-1 files, the rest Unix-style UTF-8; ${percent(o.changeRate)} of values change between passes.`,
    `- **Passes:** a creation pass (agents and modules get created), ${o.steadyPasses} steady pass(es) at full speed` +
      (o.latencyLoad > 0
        ? `, then a latency pass paced at ${percent(o.latencyLoad)} of the steady rate (at most ${o.latencySeconds} s of packets).`
        : '.'),
    `- **Load:** ${o.concurrency} concurrent agents over real Tentacle connections on loopback,`,
    `  ${o.mode === 'per-file' ? 'one file per connection as agents do' : 'persistent connections'}${o.zip ? ', ZSEND' : ''}${o.tls ? ', TLS' : ''}; ${server}.`,
    `- **Verdict:** the capacity study’s rule — the agents fit when one ${o.intervalSec} s interval of packets`,
    `  is committed within 80 % of it (${Math.round(o.intervalSec * 0.8)} s).`,
  ];
}

/** One sentence against the Perl reference's figures on the same machine (issue 6). */
function perlComparison(runs: readonly E2eResult[]): string {
  const all = runs.flatMap((r) => r.passes);
  const creation = median(all.filter((p) => p.kind === 'creation').map((p) => p.packetsPerSec));
  const steady = median(
    runs.map((r) =>
      median(r.passes.filter((p) => p.kind === 'steady').map((p) => p.packetsPerSec)),
    ),
  );
  const ratio = (ours: number, perl: number): string =>
    Number.isFinite(ours) ? ` (ours ${Math.round(ours / perl)}×)` : '';
  return (
    `Perl reference, as given for the project's 2-core machine (not re-measured on this one): ${PERL_REFERENCE.creationPacketsPerSec} packets/s creating` +
    `${ratio(creation, PERL_REFERENCE.creationPacketsPerSec)}, ${PERL_REFERENCE.steadyPacketsPerSec} packets/s steady` +
    `${ratio(steady, PERL_REFERENCE.steadyPacketsPerSec)}.`
  );
}
