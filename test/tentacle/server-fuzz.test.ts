/**
 * Property-based fuzz of live sessions (fast-check, seeded and bounded): generated sessions of
 * valid and hostile commands over real sockets into real servers. The properties and the model
 * that predicts each reply are in fixtures/session-fuzz.ts; `npm run fuzz` runs them longer.
 * A failure prints the seed and the shrunk case; replay with FUZZ_SEED=<seed> FUZZ_PATH=<path>.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  BYTES_PER_CONNECTION,
  checkSessionCase,
  MAX_SESSIONS_PER_CASE,
  sessionCase,
  startSessionFuzz,
} from './fixtures/session-fuzz.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 20261206);
/** With FUZZ_PATH (printed next to the seed), replays one failing case directly. */
const PATH = process.env['FUZZ_PATH'];
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 150);

test(`session fuzz: ${RUNS} generated cases (seed ${SEED})`, async (t) => {
  const env = await startSessionFuzz();
  t.after(() => env.close());
  await fc.assert(
    fc.asyncProperty(sessionCase, (c) => checkSessionCase(env, c)),
    { seed: SEED, numRuns: RUNS, ...(PATH ? { path: PATH } : {}) },
  );
  // Sessions plus the probe, on two servers: never more than their per-connection bound.
  const bound = BYTES_PER_CONNECTION * (MAX_SESSIONS_PER_CASE + 1) * 2;
  assert.ok(env.maxBuffered <= bound, `held ${env.maxBuffered} bytes (bound ${bound})`);
  t.diagnostic(`${env.cases} cases, max buffered ${env.maxBuffered} bytes`);
});
