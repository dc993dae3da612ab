/**
 * The soak's output: console table, JSON result, SVG chart and the `<!-- bench:soak -->`
 * section of docs/bench.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import {
  createReport,
  describeEnv,
  formatMarkdownTable,
  formatNumber,
  formatTable,
  lineChartSvg,
  median,
  resultStem,
  writeArtifact,
  writeMarkdownSection,
  writeReport,
  type BenchEnv,
  type BenchReport,
  type Row,
  round,
} from '../lib/index.js';
import type { E2eOptions } from './options.js';
import { runSoak, type SoakResult, type SoakSample } from './soak.js';
import { memoryVerdict, type Trend } from './soak-trend.js';

export async function runSoakBench(
  options: E2eOptions & { soakMs: number },
  outDir: string,
  log: (line: string) => void,
  stop: AbortSignal,
  command: string,
): Promise<number> {
  const result = await runSoak(options, log, stop);
  console.log(formatTable(trendRows(result.trends)));
  console.log(memoryVerdict(result.trends).replaceAll('**', ''));
  console.log(ledgerLine(result));
  for (const error of result.errors) console.log(`error: ${error}`);
  const stem = resultStem('soak');
  const report = createReport('soak', { ...paramsOf(options), command }, result, {
    database: result.databaseVersion,
  });
  const jsonPath = writeReport(report, stem, outDir);
  const charts = soakSvgs(result);
  const chartPaths = Object.entries(charts).map(([name, svg]) =>
    writeArtifact(`${stem}-${name}.svg`, svg, outDir),
  );
  log(
    `results: ${relative(process.cwd(), jsonPath)}, charts: ${chartPaths.map((p) => relative(process.cwd(), p)).join(', ')}`,
  );
  if (options.readme !== undefined) {
    writeSoakDocs(result, report.env, options, command, options.readme);
    writeArtifact(`${stem}.md`, soakMarkdown(result, report.env, options, command, CHARTS), outDir);
    log(`markdown: ${options.readme}`);
  }
  return result.status === 'ok' && result.ledger.ok ? 0 : 1;
}

/** The charts' file names next to the markdown file. */
const CHARTS = { resources: 'bench-soak.svg', latency: 'bench-soak-latency.svg' } as const;

function writeSoakDocs(
  result: SoakResult,
  env: BenchEnv,
  options: E2eOptions,
  command: string,
  readme: string,
): void {
  const charts = soakSvgs(result);
  const dir = dirname(readme);
  writeFileSync(join(dir, CHARTS.resources), charts.resources);
  writeFileSync(join(dir, CHARTS.latency), charts.latency);
  writeMarkdownSection(readme, 'soak', soakMarkdown(result, env, options, command, CHARTS));
}

/**
 * `--soak-from FILE --readme docs/bench.md`: the section and charts again from a saved soak
 * result, e.g. after a change to the rendering; the figures and the machine are the run's.
 */
export function renderSavedSoak(path: string, readme: string, log: (line: string) => void): number {
  const report = JSON.parse(readFileSync(path, 'utf8')) as BenchReport<
    E2eOptions & { soakMs: number; command?: string },
    SoakResult
  >;
  if (report.scenario !== 'soak') throw new Error(`${path} is not a soak result`);
  // Results saved before the command was stored name only the soak's length.
  const command =
    report.params.command ??
    `npm run bench -- --soak ${formatNumber(report.params.soakMs / 60_000)}m`;
  writeSoakDocs(report.results, report.env, report.params, command, readme);
  log(`markdown: ${readme} (from ${path})`);
  return 0;
}

/**
 * One row per trend that had samples: a quantity the run could not see (the parse workers'
 * heaps of a server without workers or without /metrics) says nothing in a row of NaN.
 */
export function trendRows(trends: readonly Trend[]): Row[] {
  return trends
    .filter((t) => t.n > 0)
    .map((t) => ({
      metric: t.unit === '' ? t.metric : `${t.metric}, ${t.unit}`,
      samples: t.n,
      mean: round(t.mean, 2),
      'slope per hour': round(t.slopePerHour, 3),
      '± 95 %': round(t.halfWidth95PerHour, 3),
      'std error': round(t.standardErrorPerHour, 3),
      'drift over run': round(t.driftOverRun, 3),
      'sample noise (sd)': round(t.residualSd, 3),
      verdict: t.verdict,
    }));
}

function ledgerLine(r: SoakResult): string {
  const { ledger } = r;
  const rows = ledger.rows === undefined ? 'no ledger table' : `${ledger.rows} ledger rows`;
  return (
    `nothing lost: ${ledger.ok ? 'yes' : 'NO'} — ${rows}, ${ledger.acked} packets acknowledged ` +
    `(SEND OK), ${ledger.committed} seen committed`
  );
}

/** Two charts, so that quantities of very different size each get a readable axis. */
export function soakSvgs(r: SoakResult): { resources: string; latency: string } {
  const pick = (key: keyof SoakSample, scale = 1): [number, number][] =>
    r.samples
      .filter((s) => Number.isFinite(s[key]))
      .map((s) => [s.t / 60, (s[key] ?? Number.NaN) * scale]);
  const title = `${formatNumber(r.ratePerSec)} packets/s for ${formatNumber(r.soakSeconds / 60)} min`;
  const markers =
    r.warmupSeconds > 0 ? [{ x: r.warmupSeconds / 60, label: 'trends from here' }] : [];
  return {
    resources: lineChartSvg({
      title: `Soak, ${title}: memory and CPU`,
      xLabel: 'minutes',
      yLabel: 'MB, CPU %, load × 10',
      series: [
        { name: 'server RSS MB', points: pick('serverRssMB') },
        { name: 'heap used MB', points: pick('heapUsedMB') },
        { name: 'heap committed MB', points: pick('heapCommittedMB') },
        { name: 'external MB', points: pick('externalMB') },
        { name: 'server CPU %', points: pick('serverCpuPercent') },
        { name: 'MariaDB CPU %', points: pick('dbCpuPercent') },
        { name: 'load average × 10', points: pick('loadAverage1m', 10) },
      ],
      markers,
      width: 900,
      height: 380,
    }),
    latency: lineChartSvg({
      title: `Soak, ${title}: commit latency, backlog, unknown modules`,
      xLabel: 'minutes',
      yLabel: 'SEND OK → commit, ms',
      y2Label: 'packets, modules',
      series: [
        { name: 'commit p50 ms', points: pick('latencyP50Ms') },
        { name: 'commit p99 ms', points: pick('latencyP99Ms') },
        { name: 'backlog packets', points: pick('backlog'), axis: 'right' },
        {
          name: 'unknown + overdue modules',
          points: r.samples.map((s) => [s.t / 60, s.unknownModules + s.overdueModules]),
          axis: 'right',
        },
      ],
      markers,
      width: 900,
      height: 380,
    }),
  };
}

export function soakMarkdown(
  r: SoakResult,
  env: BenchEnv,
  options: E2eOptions,
  command: string,
  charts: { readonly resources: string; readonly latency: string },
): string {
  const loads = r.samples.map((s) => s.loadAverage1m).filter(Number.isFinite);
  const capacity =
    options.rate === undefined
      ? `${formatNumber(r.capacityPerSec)} packets/s measured in one full-speed steady pass`
      : `--rate ${formatNumber(r.capacityPerSec)} packets/s`;
  const flat = (name: string): string =>
    r.trends.find((t) => t.metric.startsWith(name))?.verdict ?? 'not measured';
  const maxUnknown = Math.max(0, ...r.samples.map((s) => s.unknownModules + s.overdueModules));
  return [
    '### Soak (stability)',
    '',
    `Machine: ${describeEnv(env)}, ${env.date.slice(0, 16).replace('T', ' ')} UTC; database ${r.databaseVersion}.`,
    '',
    `Command: \`${command}\`. ${formatNumber(options.agents)} agents × ${options.modules} modules ` +
      `(interval ${options.intervalSec} s); after the creation pass, ${r.soakPasses} passes paced at ` +
      `${formatNumber(r.ratePerSec)} packets/s (${Math.round(r.share * 100)} % of ${capacity}) for ` +
      `${formatNumber(r.soakSeconds / 60)} min, ${formatNumber(r.soakPackets)} packets; sampled every ` +
      `${formatNumber(options.soakSampleMs / 1000)} s, trends fitted after a ` +
      `${formatNumber(r.warmupSeconds)} s warm-up. Status: ${r.status}.`,
    '',
    `Machine load during the soak (1-minute load average, other helpers' benches included): ` +
      `min ${formatNumber(Math.min(...loads), 2)}, median ${formatNumber(median(loads), 2)}, ` +
      `max ${formatNumber(Math.max(...loads), 2)} on ${env.cores} cores.`,
    '',
    'Each trend is the least-squares slope against time, per hour, with its 95 % interval and',
    'standard error. **flat** means within the run’s noise: the interval holds zero, or the drift',
    'over the run (slope × trend window) is smaller than the scatter of single samples around the',
    'line (residual standard deviation). Samples seconds apart are correlated, so the interval',
    'alone is too narrow.',
    '',
    formatMarkdownTable(trendRows(r.trends)),
    '',
    `- Memory: ${memoryVerdict(r.trends)}.`,
    `- Commit latency p50 **${flat('commit latency p50')}**, ` +
      `p99 **${flat('commit latency p99')}** (whole soak: p50 ${formatNumber(r.soakLatencyMs.p50)} ms, ` +
      `p99 ${formatNumber(r.soakLatencyMs.p99)} ms over ${formatNumber(r.soakLatencyMs.count)} packets).`,
    `- Unknown modules: at most ${formatNumber(maxUnknown)} of ${formatNumber(r.moduleCount)} ` +
      '(`tagente_estado.estado = 3`, plus those the unknown task would mark: not updated for ' +
      '2 × their interval; our server has no unknown task, so the second count is the one that can move).',
    `- ${ledgerLine(r)}.`,
    ...(r.errors.length > 0 ? [`- Errors: ${r.errors.join('; ')}`] : []),
    '',
    `![Soak: server RSS, V8 heap (used, committed), external memory and CPU, MariaDB CPU and the load average over time](${charts.resources})`,
    '',
    `![Soak: commit latency, backlog and unknown modules over time](${charts.latency})`,
    '',
  ].join('\n');
}

function paramsOf(options: E2eOptions): Record<string, unknown> {
  return { ...options, password: options.password === undefined ? undefined : '(set)' };
}
