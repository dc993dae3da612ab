/** spec alerts.md §8.30: warm-up, with its own server start time and a real database. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createAlertFixture, type AlertFixture } from './alerts-fixture.js';

let f: AlertFixture;
before(async () => {
  f = await createAlertFixture({ warmupSeconds: 60 });
});
after(() => f.close());

test('§8.30 warm-up: no evaluation for 60 s, then one "ended" event and evaluation', async () => {
  const a = await f.fresh();
  await f.send(f.cpu, 95);
  assert.deepEqual(await f.counters(a), [0, 0]);
  f.clock.advance(59);
  await f.send(f.cpu, 95);
  assert.deepEqual(await f.counters(a), [0, 0]);
  f.clock.advance(2);
  await f.send(f.cpu, 95);
  assert.deepEqual(await f.counters(a), [1, 1]);
  f.clock.advance(1);
  await f.send(f.cpu, 96);
  const ended = await f.events("event_type = 'system'");
  assert.equal(ended.length, 1);
  assert.equal(ended[0]?.['evento'], 'Warmup&#x20;mode&#x20;for&#x20;alerts&#x20;ended.');
  assert.equal(Number(ended[0]['criticity']), 0);
  assert.equal(Number(ended[0]['id_agente']), 0);
});
