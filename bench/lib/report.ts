/** JSON result files: `{ scenario, params, env, results }`, one per run, in bench/results/. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectEnv, type BenchEnv } from './env.js';

export interface BenchReport<P = unknown, R = unknown> {
  readonly scenario: string;
  readonly params: P;
  readonly env: BenchEnv;
  readonly results: R;
}

export const DEFAULT_RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

export function createReport<P, R>(
  scenario: string,
  params: P,
  results: R,
  extraVersions: Readonly<Record<string, string>> = {},
): BenchReport<P, R> {
  return { scenario, params, env: collectEnv(extraVersions), results };
}

/** A file-name stem like `e2e-2026-11-22T01-02-03Z` shared by the JSON and SVG of one run. */
export function resultStem(scenario: string, date = new Date()): string {
  const stamp = date
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replaceAll(':', '-');
  return `${scenario}-${stamp}`;
}

/** Writes `<dir>/<stem>.json` and returns its path. */
export function writeReport(report: BenchReport, stem: string, dir = DEFAULT_RESULTS_DIR): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${stem}.json`);
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}

/** Writes any text artefact (SVG chart, markdown) next to the JSON; returns its path. */
export function writeArtifact(name: string, content: string, dir = DEFAULT_RESULTS_DIR): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}
