/**
 * `npm run bench` — the end-to-end bench: Pandora-style sizing of a Tentacle server plus its
 * database (standard scenario, repeats with medians, or `--scaling`). `--help` lists every knob.
 */
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { parseE2eArgs, helpText, type E2eOptions } from './e2e/options.js';
import {
  cpuBudgetRows,
  cpuBudgetTable,
  markdownSection,
  medianPassRows,
  passRows,
  scalingRows,
  scalingSvg,
  timelineSvg,
  type ScalingPoint,
} from './e2e/render.js';
import { runE2e, type E2eResult } from './e2e/scenario.js';
import { runAlertsComparison } from './e2e/alerts.js';
import { renderSavedSoak, runSoakBench } from './e2e/soak-report.js';
import { runStagesBench } from './stages/run-stages.js';
import { runQueueComparison } from './e2e/queue.js';
import {
  baselineMismatch,
  buildBaseline,
  compareRows,
  DEFAULT_BASELINE_PATH,
  loadBaseline,
  saveBaseline,
} from './e2e/baseline.js';
import { buildServer } from './load/server-build.js';
import {
  collectEnv,
  createReport,
  DEFAULT_RESULTS_DIR,
  describeEnv,
  formatMarkdownTable,
  formatTable,
  median,
  resultStem,
  writeArtifact,
  writeMarkdownSection,
  writeReport,
} from './lib/index.js';

async function main(): Promise<number> {
  let options: E2eOptions;
  try {
    options = parseE2eArgs(process.argv.slice(2));
  } catch (err) {
    console.error(String(err instanceof Error ? err.message : err));
    return 2;
  }
  if (options.help) {
    console.log(helpText());
    return 0;
  }
  const outDir = options.outDir ?? DEFAULT_RESULTS_DIR;
  let buildDir: string | undefined;
  if (options.build && options.target === undefined && options.soakFrom === undefined) {
    console.error('compiling the server (tsc) into a temporary folder…');
    const built = buildServer();
    buildDir = built.dir;
    options = { ...options, serverEntry: built.entry };
  }
  try {
    return await runSelected(options, outDir);
  } finally {
    if (buildDir !== undefined) rmSync(buildDir, { recursive: true, force: true });
  }
}

async function runSelected(options: E2eOptions, outDir: string): Promise<number> {
  mkdirSync(outDir, { recursive: true });
  const log = (line: string): void => {
    console.error(line);
  };
  console.error(describeEnv(collectEnv()));
  // Ctrl-C stops the run cleanly (server stopped, database dropped); a second one exits now.
  const stop = new AbortController();
  const onSignal = (): void => {
    if (stop.signal.aborted) process.exit(130);
    log('stopping: finishing the current step and cleaning up (again to exit now)');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (options.soakFrom !== undefined && options.readme !== undefined) {
    return renderSavedSoak(options.soakFrom, options.readme, log);
  }
  if (options.soakMs !== undefined) {
    return runSoakBench(
      { ...options, soakMs: options.soakMs },
      outDir,
      log,
      stop.signal,
      commandLine(),
    );
  }
  if (options.alerts) {
    return runAlertsComparison(options, outDir, log, stop.signal, commandLine());
  }
  if (options.stages) {
    return runStagesBench(options, outDir, log, stop.signal, commandLine());
  }
  if (options.queue) {
    return runQueueComparison(options, outDir, log, stop.signal, commandLine());
  }
  return options.scaling
    ? runScaling(options, outDir, log, stop.signal)
    : runStandard(options, outDir, log, stop.signal);
}

async function runStandard(
  options: E2eOptions,
  outDir: string,
  log: (l: string) => void,
  stop: AbortSignal,
): Promise<number> {
  const runs: E2eResult[] = [];
  for (let i = 0; i < options.repeat; i++) {
    if (options.repeat > 1) log(`run ${i + 1}/${options.repeat}`);
    if (stop.aborted) break;
    const result = await runE2e({ ...options, outDir }, log, stop);
    runs.push(result);
    console.log(formatTable(passRows(result.passes)));
    if (result.verdict) console.log(`capacity: ${result.verdict.text}`);
    if (result.status !== 'ok') console.log(`status: ${result.status}`);
  }
  if (runs.length > 1) {
    console.log(`medians over ${runs.length} runs:`);
    console.log(formatTable(medianPassRows(runs)));
  }
  const env = collectEnv();
  const budget = cpuBudgetRows(runs, env.cores);
  if (budget.length > 0) {
    console.log('CPU per committed packet (ms):');
    console.log(formatTable(cpuBudgetTable(budget, env.cores)));
  }
  compareWithBaseline(options, runs, log);
  const stem = resultStem('e2e');
  // The report (and the markdown made from it) reads the tree's state before the baseline file
  // this run writes, which would otherwise mark the measured commit '+dirty'.
  const results =
    runs.length === 1 ? { ...runs[0], cpuBudget: budget } : { runs, cpuBudget: budget };
  const report = createReport('e2e', paramsOf(options), results, {
    database: runs[0]?.databaseVersion ?? 'unknown',
  });
  if (options.saveBaseline && runs.every((r) => r.status === 'ok')) {
    const path = options.baseline ?? DEFAULT_BASELINE_PATH;
    saveBaseline(path, buildBaseline(options, env, runs));
    log(`baseline saved: ${relative(process.cwd(), path)}`);
  }
  const jsonPath = writeReport(report, stem, outDir);
  const medianRun = pickMedianRun(runs);
  const svg = timelineSvg(
    medianRun,
    `${options.agents.toLocaleString('en-US')} agents × ${options.modules} modules: throughput and queue depth`,
  );
  const svgPath = writeArtifact(`${stem}.svg`, svg, outDir);
  log(`results: ${relative(process.cwd(), jsonPath)}, chart: ${relative(process.cwd(), svgPath)}`);
  if (options.readme !== undefined) {
    const chartName = 'bench-e2e.svg';
    const chartFile = join(dirname(options.readme), chartName);
    copyFileSync(svgPath, chartFile);
    const markdown = markdownSection({
      env: report.env,
      options,
      command: commandLine(),
      runs,
      chartPath: chartName,
    });
    writeMarkdownSection(options.readme, 'e2e', markdown);
    writeArtifact(`${stem}.md`, markdown, outDir);
    log(`markdown: ${options.readme}`);
  }
  return runs.every((r) => r.status === 'ok') ? 0 : 1;
}

async function runScaling(
  options: E2eOptions,
  outDir: string,
  log: (l: string) => void,
  stop: AbortSignal,
): Promise<number> {
  const deadline = performance.now() + options.scalingMaxDurationMs;
  const shapes = [
    ...options.scalingAgents.map((agents) => ({ agents, modules: 33, axis: 'agents' as const })),
    ...options.scalingModules.map((modules) => ({
      agents: options.scalingModuleAgents,
      modules,
      axis: 'modules' as const,
    })),
  ];
  const points: (ScalingPoint & { axis: 'agents' | 'modules' })[] = [];
  for (const shape of shapes) {
    if (stop.aborted) break;
    const left = deadline - performance.now();
    if (left < 10_000) {
      log(`scaling: out of time, skipping ${shape.agents} agents × ${shape.modules} modules`);
      continue;
    }
    const existing = points.find((p) => p.agents === shape.agents && p.modules === shape.modules);
    if (existing) {
      points.push({ ...existing, axis: shape.axis, label: labelOf(shape) });
      continue;
    }
    log(`scaling: ${shape.agents} agents × ${shape.modules} modules`);
    const result = await runE2e(
      {
        ...options,
        agents: shape.agents,
        modules: shape.modules,
        steadyPasses: 1,
        latencyLoad: 0,
        maxDurationMs: Math.min(options.maxDurationMs, left),
        outDir,
      },
      log,
      stop,
    );
    const creation = result.passes.find((p) => p.kind === 'creation');
    const steady = result.passes.find((p) => p.kind === 'steady');
    points.push({
      axis: shape.axis,
      label: labelOf(shape),
      agents: shape.agents,
      modules: shape.modules,
      creationPacketsPerSec: creation?.packetsPerSec ?? Number.NaN,
      steadyPacketsPerSec: steady?.packetsPerSec ?? Number.NaN,
      steadyValuesPerSec: steady?.valuesPerSec ?? Number.NaN,
      complete: result.status === 'ok',
      passes: result.passes,
    });
  }
  console.log(formatTable(scalingRows(points)));
  const stem = resultStem('scaling');
  const report = createReport('scaling', paramsOf(options), { points });
  const jsonPath = writeReport(report, stem, outDir);
  const byAgents = points.filter((p) => p.axis === 'agents');
  const byModules = points.filter((p) => p.axis === 'modules');
  const charts = [
    {
      name: `${stem}-agents.svg`,
      svg: scalingSvg(byAgents, 'Packets/s against agent count (33 modules)', 'agents'),
    },
    {
      name: `${stem}-modules.svg`,
      svg: scalingSvg(
        byModules,
        `Packets/s against modules per agent (${options.scalingModuleAgents.toLocaleString('en-US')} agents)`,
        'modules per agent',
      ),
    },
  ];
  for (const chart of charts) writeArtifact(chart.name, chart.svg, outDir);
  log(`results: ${relative(process.cwd(), jsonPath)}`);
  if (options.readme !== undefined) {
    const dir = dirname(options.readme);
    const names = ['bench-scaling-agents.svg', 'bench-scaling-modules.svg'];
    charts.forEach((chart, i) => {
      writeFileSync(join(dir, names[i] ?? chart.name), chart.svg);
    });
    const markdown = [
      '### Scaling',
      '',
      `Command: \`${commandLine()}\` (one creation and one steady pass per point; ${describeEnv(report.env)}).`,
      '',
      formatMarkdownTable(scalingRows(points)),
      '',
      ...names.map((n) => `![Packets per second against the amount of work](${n})`),
      '',
    ].join('\n');
    writeMarkdownSection(options.readme, 'scaling', markdown);
    log(`markdown: ${options.readme}`);
  }
  return points.every((p) => p.complete) ? 0 : 1;
}

function compareWithBaseline(
  options: E2eOptions,
  runs: readonly E2eResult[],
  log: (l: string) => void,
): void {
  if (options.saveBaseline) return;
  const path = options.baseline ?? DEFAULT_BASELINE_PATH;
  const baseline = loadBaseline(path);
  if (!baseline) {
    if (options.baseline !== undefined) log(`no baseline at ${path}`);
    return;
  }
  const mismatch = baselineMismatch(baseline, options, collectEnv());
  if (mismatch !== undefined) {
    log(`baseline not comparable (${mismatch})`);
    return;
  }
  console.log(
    `against the baseline (${baseline.runs} runs, commit ${baseline.gitSha}, ${baseline.date.slice(0, 10)}):`,
  );
  console.log(formatTable(compareRows(baseline, runs)));
}

function labelOf(shape: { agents: number; modules: number; axis: 'agents' | 'modules' }): string {
  return shape.axis === 'agents' ? shape.agents.toLocaleString('en-US') : String(shape.modules);
}

/** The run whose steady rate is the median, so the chart shows a typical run. */
function pickMedianRun(runs: readonly E2eResult[]): E2eResult {
  const steadyOf = (r: E2eResult): number =>
    median(r.passes.filter((p) => p.kind === 'steady').map((p) => p.packetsPerSec));
  const target = median(runs.map(steadyOf));
  const sorted = [...runs].sort(
    (a, b) => Math.abs(steadyOf(a) - target) - Math.abs(steadyOf(b) - target),
  );
  const first = sorted[0];
  if (!first) throw new Error('no runs');
  return first;
}

function paramsOf(options: E2eOptions): Record<string, unknown> {
  // Never write the password into a result file.
  return { ...options, password: options.password === undefined ? undefined : '(set)' };
}

function commandLine(): string {
  const args: string[] = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--readme') i += 1;
    else if (!arg.startsWith('--readme=')) args.push(arg);
  }
  return `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`;
}

process.exitCode = await main();
