/**
 * `npm run bench:parse` — the XML parser alone (bytes → AgentPacket, spec §1) on generated agent
 * files: files/s, MB/s and module values/s on one thread, plus per-file latency percentiles.
 * No network, no database: this is the ceiling the parse stage puts on the pipeline per core.
 */
import { capacityStudyModules, createFleet } from './generator/index.js';
import {
  createReport,
  describeEnv,
  formatMarkdownTable,
  formatTable,
  parseDurationMs,
  resultStem,
  summarize,
  writeMarkdownSection,
  writeReport,
  readBenchFlags,
} from './lib/index.js';
import { parseAgentXml } from '../src/dataserver/xml/index.js';
import type { SettingsTable } from '../src/core/index.js';

interface ParseBenchOptions {
  agents: number;
  modules: number;
  windowsShare: number;
  durationMs: number;
  warmupRounds: number;
  readme: string | undefined;
}

const HELP = `Usage: npm run bench:parse -- [--agents 3000] [--modules 33] [--windows-share 0.2]
                             [--duration 10s] [--warmup 1] [--readme docs/bench.md]
Parses the same generated pass over and over for --duration after --warmup rounds.`;

/** The bench's flags, read by the repository's one long-flag parser (core/settings.ts). */
const FLAGS = {
  agents: { kind: 'int', default: 3000, min: 1, help: 'agents' },
  modules: { kind: 'int', default: 33, min: 1, help: 'modules per agent' },
  windows_share: { kind: 'string', default: '0.2', help: 'fraction of Windows-style agents' },
  duration: { kind: 'string', default: '10s', help: 'measured time' },
  warmup: { kind: 'int', default: 1, min: 0, help: 'unmeasured rounds first' },
  readme: { kind: 'string', help: 'rewrite this Markdown section' },
  help: { kind: 'bool', default: false, help: 'this text' },
} as const satisfies SettingsTable;

function parseArgs(argv: readonly string[]): ParseBenchOptions | undefined {
  const v = readBenchFlags(argv, FLAGS);
  if (v === undefined) return undefined;
  return {
    agents: v.agents,
    modules: v.modules,
    windowsShare: Number(v.windows_share),
    durationMs: parseDurationMs(v.duration),
    warmupRounds: v.warmup,
    readme: v.readme,
  };
}

function main(): number {
  const options = parseArgs(process.argv.slice(2));
  if (!options) {
    console.log(HELP);
    return 0;
  }
  const fleet = createFleet({
    agents: options.agents,
    modules: capacityStudyModules(options.modules),
    windowsShare: options.windowsShare,
  });
  const files = [...fleet.pass(0).files()].map((f) => f.bytes);
  const totalBytes = files.reduce((sum, b) => sum + b.length, 0);
  const info = { mtimeSec: 0, nowSec: Math.floor(Date.now() / 1000) };
  let values = 0;
  const parseAll = (timings?: number[]): void => {
    for (const bytes of files) {
      const start = performance.now();
      const packet = parseAgentXml(bytes, info);
      timings?.push((performance.now() - start) * 1000);
      values += packet.modules.length;
    }
  };
  for (let i = 0; i < options.warmupRounds; i++) parseAll();
  values = 0;
  const timings: number[] = [];
  let rounds = 0;
  const start = performance.now();
  // Always at least one round; stop at the first round boundary past the duration.
  do {
    parseAll(timings);
    rounds += 1;
  } while (performance.now() - start < options.durationMs);
  const seconds = (performance.now() - start) / 1000;
  const perFileUs = summarize(timings);
  const results = {
    files: rounds * files.length,
    rounds,
    seconds: Math.round(seconds * 100) / 100,
    filesPerSec: Math.round((rounds * files.length) / seconds),
    mbPerSec: Math.round(((rounds * totalBytes) / seconds / 2 ** 20) * 10) / 10,
    valuesPerSec: Math.round(values / seconds),
    avgFileBytes: Math.round(totalBytes / files.length),
    perFileUs: {
      p50: Math.round(perFileUs.p50),
      p95: Math.round(perFileUs.p95),
      p99: Math.round(perFileUs.p99),
    },
  };
  const report = createReport('xml-parse', options, results);
  console.error(describeEnv(report.env));
  const row = {
    'files/s': results.filesPerSec,
    'MB/s': results.mbPerSec,
    'values/s': results.valuesPerSec,
    'avg file B': results.avgFileBytes,
    'p50 µs': results.perFileUs.p50,
    'p99 µs': results.perFileUs.p99,
  };
  if (options.readme !== undefined) {
    writeMarkdownSection(
      options.readme,
      'parse',
      [
        '### XML parse alone (`npm run bench:parse`)',
        '',
        `One thread, ${options.agents.toLocaleString('en-US')} generated agent files × ${options.modules} modules parsed repeatedly for ${options.durationMs / 1000} s (${describeEnv(report.env)}).`,
        '',
        formatMarkdownTable([row]),
        '',
      ].join('\n'),
    );
  }
  console.log(formatTable([{ ...row, rounds }]));
  console.error(`results: ${writeReport(report, resultStem('xml-parse'))}`);
  return 0;
}

process.exitCode = main();
