/** The file handler's admission gate by bytes (issue 12) and the budget the heap gives it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { packetByteBudget } from '../../src/dataserver/packet-heap.js';
import { createByteBudget } from '../../src/dataserver/stages/byte-budget.js';
import { DEFAULT_PARSE_OPTIONS } from '../../src/dataserver/xml/index.js';

const MB = 1024 * 1024;

/** Admissions in the order they happen. */
function track(budget: ReturnType<typeof createByteBudget>) {
  const admitted: string[] = [];
  const ask = (name: string, bytes: number) =>
    void budget.acquire(bytes).then(() => admitted.push(name));
  return { admitted, ask };
}

const settle = () => new Promise((r) => setImmediate(r));

test('files are admitted while they fit, first come first served; a release lets the next in', async () => {
  const budget = createByteBudget(100);
  const { admitted, ask } = track(budget);
  ask('a', 60);
  ask('b', 30);
  ask('c', 30); // 120 > 100: waits
  ask('d', 5); // fits, but c came first: waits behind it (a large file is never starved)
  await settle();
  assert.deepEqual(admitted, ['a', 'b']);
  assert.equal(budget.held, 90);
  assert.equal(budget.waiting, 2);
  budget.release(60);
  await settle();
  assert.deepEqual(admitted, ['a', 'b', 'c', 'd']);
  assert.equal(budget.held, 65);
  assert.equal(budget.waiting, 0);
});

test('a file larger than the budget is admitted alone once nothing is held (no deadlock)', async () => {
  const budget = createByteBudget(100);
  const { admitted, ask } = track(budget);
  ask('small', 10);
  ask('huge', 500);
  ask('after', 10);
  await settle();
  assert.deepEqual(admitted, ['small']);
  budget.release(10);
  await settle();
  assert.deepEqual(admitted, ['small', 'huge'], 'alone, and nothing beside it');
  assert.equal(budget.held, 500);
  budget.release(500);
  await settle();
  assert.deepEqual(admitted, ['small', 'huge', 'after']);
});

test('the budget comes from the heap: a packet at the limits always fits, a bigger heap holds more', () => {
  const heap256 = 304 * MB; // heap_size_limit under --max-old-space-size=256
  const { maxXmlSize } = DEFAULT_PARSE_OPTIONS;
  const workers = packetByteBudget(DEFAULT_PARSE_OPTIONS, 2, 150_000, heap256);
  // Beside the default cache, one packet at the limits and ordinary traffic, not two at the limits.
  assert.ok(workers >= maxXmlSize && workers < 2 * maxXmlSize, String(workers));
  // Parsing on the main thread leaves no room beside one packet: still never below one file.
  assert.equal(packetByteBudget(DEFAULT_PARSE_OPTIONS, 0, 150_000, heap256), maxXmlSize);
  // Without a full cache, or with a larger heap, more is admitted.
  assert.ok(packetByteBudget(DEFAULT_PARSE_OPTIONS, 2, 0, heap256) > workers);
  assert.ok(packetByteBudget(DEFAULT_PARSE_OPTIONS, 2, 150_000, 1024 * MB) > 5 * maxXmlSize);
});
