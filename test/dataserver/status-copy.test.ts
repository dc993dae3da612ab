import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getHeapSnapshot } from 'node:v8';
import { copyStatus } from '../../src/dataserver/logic/module-config.js';
import type { ModuleStatus } from '../../src/dataserver/types.js';

function row(i: number): ModuleStatus {
  return {
    datos: `v${String(i)}`,
    estado: 1,
    knownStatus: 2,
    lastStatus: 3,
    lastKnownStatus: 4,
    statusChanges: 5,
    timestamp: '2026-12-06 15:00:00',
    lastTry: '2026-12-06 14:00:00',
    lastTryEpoch: 1_796_565_600,
    utimestamp: 1_796_569_200 + i,
    currentInterval: 300,
    runningBy: 7,
    lastExecutionTry: 1_796_569_201,
    lastError: 8,
    ffStartUtimestamp: 9,
    ffNormal: 10,
    ffWarning: 11,
    ffCritical: 12,
    lastStatusChange: 1_796_569_100.5,
    warningCount: 13,
  };
}

/** Out-of-object property stores on the heap now (V8 names them in its snapshot). */
async function propertyArrays(): Promise<number> {
  let text = '';
  for await (const chunk of getHeapSnapshot()) text += String(chunk);
  const snap = JSON.parse(text) as {
    snapshot: { meta: { node_fields: string[] } };
    nodes: number[];
    strings: string[];
  };
  const width = snap.snapshot.meta.node_fields.length;
  const nameAt = snap.snapshot.meta.node_fields.indexOf('name');
  let count = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    if (snap.strings[snap.nodes[i + nameAt] ?? 0] === 'system / PropertyArray') count++;
  }
  return count;
}

test('copyStatus copies every field into an independent object', () => {
  const stored = row(1);
  const copy = copyStatus(stored) as { -readonly [K in keyof ModuleStatus]: ModuleStatus[K] };
  assert.deepEqual(copy, stored);
  assert.notEqual(copy, stored);
  copy.datos = 'changed';
  assert.equal(stored.datos, 'v1');
});

test('copies of status rows keep their fields inside the object (no property array each)', async () => {
  // Rows as the cache holds them after many packets: copied again and again, with epochs
  // beyond V8's small-integer range and a fractional one, which generalise the row's shape.
  let rows = Array.from({ length: 2000 }, (_, i) => row(i));
  for (let round = 0; round < 5; round++) rows = rows.map((r) => copyStatus(r));
  const before = await propertyArrays();
  const copies = rows.map((r) => copyStatus(r));
  const after = await propertyArrays();
  assert.equal(copies.length, 2000);
  // Object spread gives each of the 2,000 copies a property array; a literal gives none.
  assert.ok(after - before < 200, `${String(after - before)} new property arrays`);
});
