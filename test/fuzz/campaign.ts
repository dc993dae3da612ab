/**
 * Long fuzz campaign over the same properties as the bounded tests:
 *   npm run fuzz -- [--target session|xml|parsers|all] [--seconds 300] [--runs N] [--seed S]
 * Runs each target (session: Tentacle sessions; xml: XML to packet to processPacket; parsers:
 * builtin scanner vs fast-xml-parser) until its run count or time (each) is spent; after a failure it reports the seed,
 * path and shrunk case, then goes on with the next seed. Prints runs, cases/s and failures.
 * Replay one failure in the test suite with FUZZ_SEED=<seed> (and the printed path).
 */
import '../dataserver/logic-tz.js';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { tryParseAgentXml } from '../../src/dataserver/xml/index.js';
import {
  checkParsersAgree,
  checkXmlCase,
  newXmlStats,
  xmlCase,
  xmlFile,
} from '../dataserver/xml-fuzz-cases.js';
import {
  checkSessionCase,
  sessionCase,
  startSessionFuzz,
} from '../tentacle/fixtures/session-fuzz.js';

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'all' },
    seconds: { type: 'string', default: '60' },
    runs: { type: 'string' },
    seed: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const maxRuns = values.runs === undefined ? Number.MAX_SAFE_INTEGER : Number(values.runs);
const firstSeed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
const targets = values.target === 'all' ? ['xml', 'parsers', 'session'] : [values.target];

interface Summary {
  target: string;
  runs: number;
  seconds: number;
  casesPerSecond: number;
  failures: { seed: number; path: string | null; error: string; counterexample: string }[];
  extra: Record<string, unknown>;
}

/** Runs `property` under seeds firstSeed, firstSeed+1, … until runs or time are spent. */
async function campaign<T>(
  target: string,
  check: (seed: number, runs: number, ms: number) => Promise<fc.RunDetails<T>>,
  extra: () => Record<string, unknown>,
): Promise<Summary> {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const summary: Summary = {
    target,
    runs: 0,
    seconds: 0,
    casesPerSecond: 0,
    failures: [],
    extra: {},
  };
  for (let seed = firstSeed; summary.runs < maxRuns && performance.now() < deadline; seed++) {
    const details = await check(seed, maxRuns - summary.runs, deadline - performance.now());
    summary.runs += details.numRuns;
    if (details.failed) {
      summary.failures.push({
        seed,
        path: details.counterexamplePath,
        error: String(
          (details.errorInstance as Error | undefined)?.message ?? details.errorInstance,
        ),
        counterexample: fc.stringify(details.counterexample).slice(0, 4000),
      });
      console.error(`[${target}] failure under seed ${seed}:\n${fc.defaultReportMessage(details)}`);
    }
    if (!details.failed) break; // the run ended by time or count
  }
  summary.seconds = (performance.now() - started) / 1000;
  summary.casesPerSecond = Math.round((summary.runs / summary.seconds) * 10) / 10;
  summary.extra = extra();
  return summary;
}

/** Best of three re-runs of the slowest file: a real hang stays slow, a GC pause does not. */
function retime(file: Buffer | undefined): number | undefined {
  if (file === undefined) return undefined;
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    tryParseAgentXml(file, { nowSec: 1, mtimeSec: 1 });
    best = Math.min(best, performance.now() - t0);
  }
  return Math.round(best * 10) / 10;
}

const summaries: Summary[] = [];
for (const target of targets) {
  if (target === 'xml') {
    const stats = newXmlStats();
    summaries.push(
      await campaign(
        'xml',
        (seed, numRuns, ms) =>
          Promise.resolve(
            fc.check(
              fc.property(xmlCase, (c) => {
                checkXmlCase(c, stats);
              }),
              { seed, numRuns, interruptAfterTimeLimit: ms, markInterruptAsFailure: false },
            ),
          ),
        () => ({
          files: stats.files,
          parsed: stats.parsed,
          refused: Object.fromEntries(stats.refused),
          slowestFileMs: Math.round(stats.slowestMs * 10) / 10,
          slowestFileBytes: stats.slowestBytes,
          slowestFileRetimedMs: retime(stats.slowestFile),
          slowestFileBase64: stats.slowestFile?.toString('base64').slice(0, 20_000),
        }),
      ),
    );
  } else if (target === 'parsers') {
    summaries.push(
      await campaign(
        'parsers',
        (seed, numRuns, ms) =>
          Promise.resolve(
            fc.check(fc.property(xmlFile, checkParsersAgree), {
              seed,
              numRuns,
              interruptAfterTimeLimit: ms,
              markInterruptAsFailure: false,
            }),
          ),
        () => ({}),
      ),
    );
  } else if (target === 'session') {
    const env = await startSessionFuzz();
    try {
      summaries.push(
        await campaign(
          'session',
          (seed, numRuns, ms) =>
            fc.check(
              fc.asyncProperty(sessionCase, (c) => checkSessionCase(env, c)),
              { seed, numRuns, interruptAfterTimeLimit: ms, markInterruptAsFailure: false },
            ),
          () => ({ ...env.stats, maxBufferedBytes: env.maxBuffered }),
        ),
      );
    } finally {
      await env.close();
    }
  } else {
    throw new Error(`unknown target ${target} (session, xml, parsers or all)`);
  }
}
console.log(JSON.stringify({ firstSeed, summaries }, null, 2));
process.exitCode = summaries.some((s) => s.failures.length > 0) ? 1 : 0;
