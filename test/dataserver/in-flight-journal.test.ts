/**
 * The in-flight journal behind the poison-file guard, run by run on a real folder: which claimed
 * files a death is blamed on (see poison-file.test.ts for the guard end to end with SIGKILLs).
 */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import {
  InFlightJournal,
  inFlightJournalPath,
} from '../../src/dataserver/spool/in-flight-journal.js';
import { tempDir } from '../helpers/tmp.js';

function journalIn(t: TestContext): string {
  const tmp = tempDir('ti-journal-');
  t.after(() => {
    tmp.cleanup();
  });
  return inFlightJournalPath(tmp.path, 'srv');
}

/** One start: what the previous runs left says, then this run's record (as the guard does). */
async function start(path: string, claimed: string[]) {
  const journal = new InFlightJournal(path);
  const deaths = await journal.deathsOf(claimed);
  await journal.startRun(deaths, claimed);
  return { journal, deaths: Object.fromEntries(deaths) };
}

test('no journal yet (a first start, or the first with the guard): nothing is blamed', async (t) => {
  const path = journalIn(t);
  assert.deepEqual((await start(path, ['a.1.data'])).deaths, {});
});

test('a death blames the files claimed fresh and the re-queued ones handed to processing, not those still waiting', async (t) => {
  const path = journalIn(t);
  await start(path, []); // run A claims x and dies
  let run = await start(path, ['x.1.data']);
  assert.deepEqual(run.deaths, { 'x.1.data': 1 });
  // Run B dies at startup, before x's turn came: x is not blamed again.
  run = await start(path, ['x.1.data']);
  assert.deepEqual(run.deaths, { 'x.1.data': 1 });
  // Run C hands x to processing, claims z fresh, and dies: both are blamed.
  run.journal.begun('x.1.data');
  run = await start(path, ['x.1.data', 'z.1.data']);
  assert.deepEqual(run.deaths, { 'x.1.data': 2, 'z.1.data': 1 });
});

test('a clean shutdown blames nothing, and the deaths carried stay', async (t) => {
  const path = journalIn(t);
  await start(path, []);
  let run = await start(path, ['x.1.data']);
  run.journal.begun('x.1.data');
  await run.journal.markClean();
  run = await start(path, ['x.1.data']);
  assert.deepEqual(run.deaths, { 'x.1.data': 1 });
});

test('a line torn by a crash mid-append is ignored; the rest of the record holds', async (t) => {
  const path = journalIn(t);
  await start(path, []);
  const run = await start(path, ['x.1.data', 'y.1.data']);
  run.journal.begun('x.1.data');
  appendFileSync(path, '{"k":"beg');
  assert.match(readFileSync(path, 'utf8'), /\{"k":"beg$/);
  const next = await start(path, ['x.1.data', 'y.1.data']);
  assert.deepEqual(next.deaths, { 'x.1.data': 2, 'y.1.data': 1 });
});
