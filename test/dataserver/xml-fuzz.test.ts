/**
 * Property-based fuzz of agent XML → packet → processPacket (fast-check, seeded and bounded).
 * Generators and properties are in xml-fuzz-cases.ts; `npm run fuzz` runs them longer. A
 * failure prints the seed and the shrunk case; replay with FUZZ_SEED=<seed> FUZZ_PATH=<path>.
 */
import './logic-tz.js';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  checkParsersAgree,
  checkXmlCase,
  newXmlStats,
  xmlCase,
  xmlFile,
} from './xml-fuzz-cases.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 20261206);
/** With FUZZ_PATH (printed next to the seed), replays one failing case directly. */
const PATH = process.env['FUZZ_PATH'];
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 400);

test(`XML fuzz: ${RUNS} generated cases (seed ${SEED})`, (t) => {
  const stats = newXmlStats();
  fc.assert(
    fc.property(xmlCase, (c) => {
      checkXmlCase(c, stats);
    }),
    { seed: SEED, numRuns: RUNS, ...(PATH ? { path: PATH } : {}) },
  );
  t.diagnostic(
    `${stats.files} files: ${stats.parsed} parsed, refused ${JSON.stringify(Object.fromEntries(stats.refused))}`,
  );
});

test(`XML fuzz: both parsers agree on ${RUNS / 2} generated files (seed ${SEED})`, () => {
  fc.assert(fc.property(xmlFile, checkParsersAgree), {
    seed: SEED,
    numRuns: RUNS / 2,
    ...(PATH ? { path: PATH } : {}),
  });
});
