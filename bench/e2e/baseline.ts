/**
 * A committed baseline (`bench/baseline.json`, STYLE §16): the medians and spread of a reference
 * set of runs, so later runs print their change in % and whether it is beyond the run-to-run
 * spread ("±tolerance"). Only comparable when the scenario and the machine kind match.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { median, type BenchEnv, type Row } from '../lib/index.js';
import type { E2eOptions } from './options.js';
import type { E2eResult } from './scenario.js';

export const DEFAULT_BASELINE_PATH = fileURLToPath(new URL('../baseline.json', import.meta.url));

interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface Baseline {
  readonly scenario: string;
  readonly shape: Readonly<Record<string, string | number>>;
  readonly machine: { readonly cpu: string; readonly cores: number };
  readonly gitSha: string;
  readonly date: string;
  readonly runs: number;
  readonly passes: Readonly<Record<string, { packetsPerSec: Spread; p99Ms: Spread }>>;
}

/** What must match for two runs to be comparable. */
export function scenarioShape(o: E2eOptions): Record<string, string | number> {
  return {
    agents: o.agents,
    modules: o.modules,
    steadyPasses: o.steadyPasses,
    concurrency: o.concurrency,
    mode: o.mode,
    changeRate: o.changeRate,
    windowsShare: o.windowsShare,
    latencyLoad: o.latencyLoad,
  };
}

export function buildBaseline(
  options: E2eOptions,
  env: BenchEnv,
  runs: readonly E2eResult[],
): Baseline {
  const names = runs[0]?.passes.map((p) => p.name) ?? [];
  const spread = (values: number[]): Spread => ({
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
  });
  const passes: Record<string, { packetsPerSec: Spread; p99Ms: Spread }> = {};
  for (const name of names) {
    const same = runs.flatMap((r) => r.passes.filter((p) => p.name === name && p.complete));
    if (same.length === 0) continue;
    passes[name] = {
      packetsPerSec: spread(same.map((p) => p.packetsPerSec)),
      p99Ms: spread(same.map((p) => p.latencyMs.p99)),
    };
  }
  return {
    scenario: 'e2e',
    shape: scenarioShape(options),
    machine: { cpu: env.cpu, cores: env.cores },
    gitSha: env.gitSha,
    date: env.date,
    runs: runs.length,
    passes,
  };
}

export function saveBaseline(path: string, baseline: Baseline): void {
  writeFileSync(path, `${JSON.stringify(baseline, null, 2)}\n`);
}

export function loadBaseline(path: string): Baseline | undefined {
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as Baseline;
}

/** Why the baseline does not apply, or undefined when it does. */
export function baselineMismatch(
  baseline: Baseline,
  options: E2eOptions,
  env: BenchEnv,
): string | undefined {
  const shape = scenarioShape(options);
  for (const [key, value] of Object.entries(shape)) {
    if (baseline.shape[key] !== value)
      return `${key} ${String(value)} ≠ baseline ${String(baseline.shape[key])}`;
  }
  if (baseline.machine.cpu !== env.cpu || baseline.machine.cores !== env.cores) {
    return `machine ${env.cpu}/${env.cores} cores ≠ baseline ${baseline.machine.cpu}/${baseline.machine.cores}`;
  }
  return undefined;
}

/** One row per pass: this run's medians against the baseline, ± its run-to-run spread. */
export function compareRows(baseline: Baseline, runs: readonly E2eResult[]): Row[] {
  const rows: Row[] = [];
  for (const [name, base] of Object.entries(baseline.passes)) {
    const same = runs.flatMap((r) => r.passes.filter((p) => p.name === name && p.complete));
    if (same.length === 0) continue;
    const rate = median(same.map((p) => p.packetsPerSec));
    const p99 = median(same.map((p) => p.latencyMs.p99));
    rows.push({
      pass: name,
      'pkt/s': rate,
      'baseline pkt/s': `${fmt(base.packetsPerSec.median)} ±${fmt(tolerance(base.packetsPerSec))}`,
      'Δ pkt/s': delta(rate, base.packetsPerSec),
      'p99 ms': p99,
      'baseline p99 ms': `${fmt(base.p99Ms.median)} ±${fmt(tolerance(base.p99Ms))}`,
      'Δ p99': delta(p99, base.p99Ms),
    });
  }
  return rows;
}

function tolerance(s: Spread): number {
  return Math.max(s.max - s.median, s.median - s.min);
}

function delta(value: number, base: Spread): string {
  if (!Number.isFinite(value) || base.median === 0) return '–';
  const percent = ((value - base.median) / base.median) * 100;
  const within = Math.abs(value - base.median) <= tolerance(base);
  return `${percent >= 0 ? '+' : ''}${percent.toFixed(1)} %${within ? ' (within ±)' : ''}`;
}

function fmt(n: number): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: n >= 100 ? 0 : 1 });
}
