import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFileQueue, type QueuedFile } from '../../src/dataserver/spool/file-queue.js';
import { agentKeyOf } from '../../src/pandora/index.js';

const f = (name: string, mtimeMs: number, recovered = false): QueuedFile => ({
  name,
  key: agentKeyOf(name) ?? '',
  mtimeMs,
  recovered,
});

test('agent keys follow the reference file-name rule', () => {
  assert.equal(agentKeyOf('host.example.com.12345.data'), 'host.example.com');
  assert.equal(agentKeyOf('a b.123.data'), 'a b');
  assert.equal(agentKeyOf('x_1.data'), 'x');
  assert.equal(agentKeyOf('.x.1.data'), '.x');
  for (const n of ['foo.data', 'x_1.DATA', 'x_1.data_BADXML', 'x.1.data.tmp', '.x.1.data.part']) {
    assert.equal(agentKeyOf(n), undefined, n);
  }
});

test('one file per agent key in flight, oldest first, the next handed out when done', () => {
  const q = createFileQueue({ capacity: 100, lifo: false });
  q.add([f('a.3.data', 3000), f('a.1.data', 1000), f('b.2.data', 2000), f('a.2.data', 2000)]);
  const first = q.next();
  const second = q.next();
  assert.deepEqual([first?.name, second?.name], ['a.1.data', 'b.2.data']);
  assert.equal(q.next(), undefined, 'a is in flight, b has nothing else');
  assert.equal(q.inFlight, 2);
  if (first) q.done(first);
  assert.equal(q.next()?.name, 'a.2.data');
  assert.equal(q.size, 3);
});

test('LIFO takes the newest first; ties by name descending', () => {
  const q = createFileQueue({ capacity: 100, lifo: true });
  q.add([f('a.1.data', 1000), f('a.3.data', 3000), f('a.2.data', 3000)]);
  const order: string[] = [];
  for (let file = q.next(); file; file = q.next()) {
    order.push(file.name);
    q.done(file);
  }
  assert.deepEqual(order, ['a.3.data', 'a.2.data', 'a.1.data']);
});

test('recovered (already claimed) files go before newer spool files of the same key', () => {
  const q = createFileQueue({ capacity: 100, lifo: false });
  q.add([f('a.1.data', 1000)]);
  q.add([f('a.9.data', 9000, true)]);
  assert.equal(q.next()?.name, 'a.9.data');
});

test('capacity bounds the queue and duplicates are ignored', () => {
  const q = createFileQueue({ capacity: 2, lifo: false });
  assert.equal(q.add([f('a.1.data', 1), f('a.1.data', 1), f('b.1.data', 1), f('c.1.data', 1)]), 2);
  assert.equal(q.size, 2);
  assert.ok(q.names.has('a.1.data') && q.names.has('b.1.data'));
});

test('backlog lists keys with more files than the limit (in flight included)', () => {
  const q = createFileQueue({ capacity: 100, lifo: false });
  q.add(Array.from({ length: 12 }, (_, i) => f(`a.${String(i)}.data`, i)));
  q.add([f('b.1.data', 1)]);
  q.next();
  assert.deepEqual(q.backlog(10), [{ key: 'a', count: 12 }]);
});
