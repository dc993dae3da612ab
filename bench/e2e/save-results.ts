/**
 * The end of every comparison mode (`--alerts`, `--queue`, `--stages`): the JSON result file
 * (password left out) and, with `--readme`, the mode's markdown section, built from the same
 * report so the machine is described once.
 */
import { relative } from 'node:path';
import {
  createReport,
  resultStem,
  writeMarkdownSection,
  writeReport,
  type BenchEnv,
} from '../lib/index.js';
import type { E2eOptions } from './options.js';

export function saveResults(input: {
  readonly scenario: string;
  readonly options: E2eOptions;
  readonly results: unknown;
  readonly outDir: string;
  readonly log: (line: string) => void;
  readonly markdown: (env: BenchEnv) => string;
}): void {
  const { scenario, options, log } = input;
  const report = createReport(scenario, { ...options, password: undefined }, input.results);
  const jsonPath = writeReport(report, resultStem(scenario), input.outDir);
  log(`results: ${relative(process.cwd(), jsonPath)}`);
  if (options.readme === undefined) return;
  writeMarkdownSection(options.readme, scenario, input.markdown(report.env));
  log(`markdown: ${options.readme}`);
}
