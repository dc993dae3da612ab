/**
 * `npm run bench -- --alerts`: the capacity study's alert scenario (alerts.md §9). The standard
 * scenario runs twice per repeat, once plain and once with one critical-condition alert (event
 * action) on five `generic_data` modules of every agent, attached after the creation pass;
 * steady packets/s and CPU per packet are reported side by side (table, JSON, markdown).
 */
import { loadavg } from 'node:os';
import mysql from 'mysql2/promise';
import { describeEnv, formatMarkdownTable, formatTable, median, type Row } from '../lib/index.js';
import { countsByResult, scrapeMetrics } from '../load/metrics-scraper.js';
import {
  readAlertTableCounts,
  setupCapacityStudyAlerts,
  type AlertSetupCounts,
} from './alerts-setup.js';
import type { E2eOptions } from './options.js';
import { cpuCost, passRows } from './render.js';
import { saveResults } from './save-results.js';
import { isAborted, runE2e, type E2eHooks, type E2eResult, type PassResult } from './scenario.js';
import type { BenchTarget } from './target.js';

type Variant = 'without alerts' | 'with alerts';

/** Counted after one pass of a run with alerts. */
export interface AlertPassCounts {
  readonly pass: string;
  /** Queue rows written during the pass (each a fired or recovered alert). */
  readonly queueRows: number;
  /** Alerts fired at the end of the pass. */
  readonly firedAlerts: number;
  /** Evaluations the server counted during the pass (its /metrics; undefined without it). */
  readonly evaluated: number | undefined;
  /** Evaluations by result (fired, recovered, ceased) during the pass, from /metrics. */
  readonly results: Readonly<Record<string, number>> | undefined;
}

export interface AlertRun {
  readonly variant: Variant;
  readonly result: E2eResult;
  readonly setup: AlertSetupCounts | undefined;
  readonly passes: readonly AlertPassCounts[];
}

const EVALUATED = 'pandora_alerts_evaluated_total';
const RESULTS = 'pandora_alerts_results_total';

/** The issue's goal: steady packets/s with alerts at least this share of the rate without. */
export const ALERTS_RATE_GOAL = 0.85;

async function withDb<T>(target: BenchTarget, work: (db: mysql.Connection) => Promise<T>) {
  const db = await mysql.createConnection({ ...target.db });
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

/** Setup (with alerts only) and the same pause in both variants, then per-pass counts. */
function hooksFor(
  variant: Variant,
  options: E2eOptions,
  log: (line: string) => void,
  record: { setup?: AlertSetupCounts; passes: AlertPassCounts[] },
): E2eHooks {
  let queueBefore = 0;
  let metricsBefore: Map<string, number> | undefined;
  const scrape = (target: BenchTarget) =>
    target.metricsUrl === undefined
      ? Promise.resolve(undefined)
      : scrapeMetrics(target.metricsUrl, [EVALUATED, RESULTS]);
  return {
    async afterCreation(target) {
      if (variant === 'with alerts') {
        const setup = await withDb(target, (db) =>
          setupCapacityStudyAlerts(db, options.alertsPerAgent),
        );
        record.setup = setup;
        log(
          `alerts: ${setup.alerts} alerts (${setup.actions} event actions) on ${setup.agentsWithAlerts} of ${setup.agents} agents`,
        );
      }
      // Both variants wait, so that their steady passes start from the same database state.
      await new Promise((resolve) => setTimeout(resolve, options.alertCacheWaitMs));
      metricsBefore = await scrape(target);
    },
    async afterPass(target, pass) {
      if (variant !== 'with alerts' || pass.kind === 'creation') return;
      const counts = await withDb(target, readAlertTableCounts);
      const metrics = await scrape(target);
      const delta = (name: string): number | undefined => {
        const after = metrics?.get(name);
        return after === undefined ? undefined : after - (metricsBefore?.get(name) ?? 0);
      };
      const results = metrics && countsByResult(metrics, RESULTS);
      const resultsBefore = metricsBefore ? countsByResult(metricsBefore, RESULTS) : {};
      record.passes.push({
        pass: pass.name,
        queueRows: counts.queueRows - queueBefore,
        firedAlerts: counts.firedAlerts,
        evaluated: delta(EVALUATED),
        results:
          results === undefined
            ? undefined
            : Object.fromEntries(
                Object.entries(results).map(([k, v]) => [k, v - (resultsBefore[k] ?? 0)]),
              ),
      });
      queueBefore = counts.queueRows;
      metricsBefore = metrics;
    },
  };
}

function steadyRate(result: E2eResult): number {
  return median(result.passes.filter((p) => p.kind === 'steady').map((p) => p.packetsPerSec));
}

/** One row per variant: medians over the runs of that variant. */
export function comparisonRows(runs: readonly AlertRun[]): Row[] {
  const variants: Variant[] = ['without alerts', 'with alerts'];
  const baseline = median(
    runs.filter((r) => r.variant === variants[0]).map((r) => steadyRate(r.result)),
  );
  return variants.map((variant) => {
    const mine = runs.filter((r) => r.variant === variant);
    const steady: PassResult[] = mine.flatMap((r) =>
      r.result.passes.filter((p) => p.kind === 'steady'),
    );
    const cost = cpuCost(steady);
    const rate = median(mine.map((r) => steadyRate(r.result)));
    const alertPasses = mine.flatMap((r) => r.passes);
    return {
      variant,
      runs: mine.length,
      alerts: median(mine.map((r) => r.setup?.alerts ?? 0)),
      'steady pkt/s': rate,
      'vs without %': (100 * rate) / baseline,
      'server ms/pkt': cost?.serverMs ?? Number.NaN,
      'DB ms/pkt': cost?.dbMs ?? Number.NaN,
      'total ms/pkt': cost?.totalMs ?? Number.NaN,
      'p99 ms (steady)': median(steady.map((p) => p.latencyMs.p99)),
      'evaluated/pass': median(alertPasses.map((p) => p.evaluated ?? Number.NaN)),
      'queue rows/pass': median(alertPasses.map((p) => p.queueRows)),
    };
  });
}

/** Steady rate with alerts over the rate without (medians), or NaN. */
export function alertsRateRatio(runs: readonly AlertRun[]): number {
  const rate = (v: Variant): number =>
    median(runs.filter((r) => r.variant === v).map((r) => steadyRate(r.result)));
  return rate('with alerts') / rate('without alerts');
}

export async function runAlertsComparison(
  options: E2eOptions,
  outDir: string,
  log: (line: string) => void,
  stop: AbortSignal,
  command: string,
): Promise<number> {
  const runs: AlertRun[] = [];
  for (let i = 0; i < options.repeat && !isAborted(stop); i++) {
    // Alternate the order, so drift on a shared machine does not favour one variant.
    const order: Variant[] =
      i % 2 === 0 ? ['without alerts', 'with alerts'] : ['with alerts', 'without alerts'];
    for (const variant of order) {
      if (isAborted(stop)) break;
      log(`run ${i + 1}/${options.repeat}: ${variant}`);
      const record: { setup?: AlertSetupCounts; passes: AlertPassCounts[] } = { passes: [] };
      const result = await runE2e(
        { ...options, outDir },
        log,
        stop,
        hooksFor(variant, options, log, record),
      );
      runs.push({ variant, result, setup: record.setup, passes: record.passes });
      console.log(`${variant}:`);
      console.log(formatTable(passRows(result.passes)));
      if (result.status !== 'ok') console.log(`status: ${result.status}`);
    }
  }
  const rows = comparisonRows(runs);
  console.log(`steady state without and with alerts (medians over ${options.repeat} run(s)):`);
  console.log(formatTable(rows));
  const ratio = alertsRateRatio(runs);
  const verdict = `with alerts: ${(100 * ratio).toFixed(1)} % of the steady rate without (goal ≥ ${100 * ALERTS_RATE_GOAL} %)`;
  console.log(verdict);
  saveResults({
    scenario: 'alerts',
    options,
    results: { ratio, goal: ALERTS_RATE_GOAL, summary: rows, runs },
    outDir,
    log,
    markdown: (env) =>
      alertsMarkdown({ rows, runs, verdict, command, env: describeEnv(env), options }),
  });
  return runs.every((r) => r.result.status === 'ok') ? 0 : 1;
}

function alertsMarkdown(input: {
  rows: Row[];
  runs: readonly AlertRun[];
  verdict: string;
  command: string;
  env: string;
  options: E2eOptions;
}): string {
  const { options } = input;
  const setup = input.runs.find((r) => r.setup)?.setup;
  const passes = input.runs.flatMap((r) => r.passes);
  const results = new Map<string, number[]>();
  for (const p of passes) {
    for (const [k, v] of Object.entries(p.results ?? {}))
      results.set(k, [...(results.get(k) ?? []), v]);
  }
  const perPass = [...results.entries()].map(([k, v]) => `${k} ${median(v)}`).join(', ');
  return [
    '### With and without alerts (capacity study)',
    '',
    `Machine: ${input.env}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; load average at the end ${loadavg()[0]?.toFixed(1) ?? '?'} (anything above the core count means other work shared the machine).`,
    '',
    `Command: \`${input.command}\` — ${options.repeat} run(s) of each variant, medians shown.`,
    '',
    formatMarkdownTable(input.rows),
    '',
    `Result: ${input.verdict}.`,
    '',
    `Setup (Pandora's capacity study, alerts.md §9), after the creation pass: the seeded template`,
    `"Critical condition" on the first ${options.alertsPerAgent} \`generic_data\` modules with a critical range of`,
    `every agent${setup ? ` (${setup.alerts.toLocaleString('en-US')} alerts on ${setup.agentsWithAlerts.toLocaleString('en-US')} agents)` : ''}, each with the`,
    'seeded action "Monitoring Event" (an event, no mail). No Alert Server drains the queue: the',
    'numbers are ingestion with evaluation and queueing. Both variants pause',
    `${options.alertCacheWaitMs / 1000} s after the creation pass (the server's alert cache refresh), so their`,
    "steady passes start from the same state. The data modules' values (0–100, critical above 75)",
    `make some alerts fire and recover in every pass${perPass === '' ? '' : ` (median per steady pass: ${perPass})`}.`,
    '',
  ].join('\n');
}
