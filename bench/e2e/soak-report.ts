/**
 * The soak's output: console table, JSON result, SVG chart and the `<!-- bench:soak -->`
 * section of docs/bench.md.
 */
import { copyFileSync } from 'node:fs';
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
  type Row,
} from '../lib/index.js';
import type { E2eOptions } from './options.js';
import { runSoak, type SoakResult, type SoakSample } from './soak.js';
import type { Trend } from './soak-trend.js';

export async function runSoakBench(
  options: E2eOptions & { soakMs: number },
  outDir: string,
  log: (line: string) => void,
  stop: AbortSignal,
  command: string,
): Promise<number> {
  const result = await runSoak(options, log, stop);
  console.log(formatTable(trendRows(result.trends)));
  console.log(ledgerLine(result));
  for (const error of result.errors) console.log(`error: ${error}`);
  const stem = resultStem('soak');
  const report = createReport('soak', paramsOf(options), result, {
    database: result.databaseVersion,
  });
  const jsonPath = writeReport(report, stem, outDir);
  const svgPath = writeArtifact(`${stem}.svg`, soakSvg(result), outDir);
  log(`results: ${relative(process.cwd(), jsonPath)}, chart: ${relative(process.cwd(), svgPath)}`);
  if (options.readme !== undefined) {
    const chartName = 'bench-soak.svg';
    copyFileSync(svgPath, join(dirname(options.readme), chartName));
    const markdown = soakMarkdown(result, report.env, options, command, chartName);
    writeMarkdownSection(options.readme, 'soak', markdown);
    writeArtifact(`${stem}.md`, markdown, outDir);
    log(`markdown: ${options.readme}`);
  }
  return result.status === 'ok' && result.ledger.ok ? 0 : 1;
}

export function trendRows(trends: readonly Trend[]): Row[] {
  return trends.map((t) => ({
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

export function soakSvg(r: SoakResult): string {
  const pick = (key: keyof SoakSample): [number, number][] =>
    r.samples.filter((s) => Number.isFinite(s[key])).map((s) => [s.t / 60, s[key]]);
  return lineChartSvg({
    title: `Soak: ${formatNumber(r.ratePerSec)} packets/s for ${formatNumber(r.soakSeconds / 60)} min`,
    xLabel: 'minutes',
    yLabel: 'MB, CPU %, load × 100',
    y2Label: 'ms, packets, modules',
    series: [
      { name: 'server RSS MB', points: pick('serverRssMB') },
      { name: 'server CPU %', points: pick('serverCpuPercent') },
      { name: 'MariaDB CPU %', points: pick('dbCpuPercent') },
      {
        name: 'load average × 100',
        points: pick('loadAverage1m').map(([t, v]) => [t, v * 100]),
      },
      { name: 'commit p99 ms', points: pick('latencyP99Ms'), axis: 'right' },
      { name: 'backlog packets', points: pick('backlog'), axis: 'right' },
      { name: 'unknown + overdue modules', points: unknownPoints(r), axis: 'right' },
    ],
    markers: r.warmupSeconds > 0 ? [{ x: r.warmupSeconds / 60, label: 'trends from here' }] : [],
    width: 900,
    height: 400,
  });
}

function unknownPoints(r: SoakResult): [number, number][] {
  return r.samples.map((s) => [s.t / 60, s.unknownModules + s.overdueModules]);
}

export function soakMarkdown(
  r: SoakResult,
  env: BenchEnv,
  options: E2eOptions,
  command: string,
  chartPath: string,
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
    `- RSS: **${flat('server RSS')}**; commit latency p50 **${flat('commit latency p50')}**, ` +
      `p99 **${flat('commit latency p99')}** (whole soak: p50 ${formatNumber(r.soakLatencyMs.p50)} ms, ` +
      `p99 ${formatNumber(r.soakLatencyMs.p99)} ms over ${formatNumber(r.soakLatencyMs.count)} packets).`,
    `- Unknown modules: at most ${formatNumber(maxUnknown)} of ${formatNumber(r.moduleCount)} ` +
      '(`tagente_estado.estado = 3`, plus those the unknown task would mark: not updated for ' +
      '2 × their interval; our server has no unknown task, so the second count is the one that can move).',
    `- ${ledgerLine(r)}.`,
    ...(r.errors.length > 0 ? [`- Errors: ${r.errors.join('; ')}`] : []),
    '',
    `![Soak: RSS, CPU, load, commit latency, backlog and unknown modules over time](${chartPath})`,
    '',
  ].join('\n');
}

function paramsOf(options: E2eOptions): Record<string, unknown> {
  return { ...options, password: options.password === undefined ? undefined : '(set)' };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
