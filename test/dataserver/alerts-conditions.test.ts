/**
 * spec alerts.md §8 "Conditions" (tests 13–21): one fresh alert per case against real MariaDB;
 * "fires" = counters (1, 1) and one queue row.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { safeInput } from '../../src/pandora/index.js';
import { createAlertFixture, type AlertFixture } from './alerts-fixture.js';

let f: AlertFixture;
before(async () => {
  f = await createAlertFixture();
});
after(() => f.close());

interface Case {
  readonly template: Record<string, unknown>;
  readonly module?: 'cpu' | 'load' | 'log';
  readonly value: string | number;
  readonly fires: boolean;
  readonly previous?: string;
}

async function check(c: Case): Promise<void> {
  const moduleId = f[c.module ?? 'cpu'];
  const a = await f.fresh(c.template, { id_agent_module: moduleId });
  await f.send(moduleId, c.value, c.previous === undefined ? {} : { previous: c.previous });
  const label = `${JSON.stringify(c.template)} ${String(c.value)}`;
  assert.deepEqual(await f.counters(a), c.fires ? [1, 1] : [0, 0], label);
  assert.equal((await f.queue()).length, c.fires ? 1 : 0, label);
}

test('§8.13 max and min are strict', async () => {
  await check({ template: { type: 'max', max_value: 50 }, value: 50, fires: false });
  await check({ template: { type: 'max', max_value: 50 }, value: 50.00001, fires: true });
  await check({ template: { type: 'min', min_value: 10 }, value: 10, fires: false });
  await check({ template: { type: 'min', min_value: 10 }, value: 9.99, fires: true });
});

test('§8.14 max_min with matches_value 0 and 1; bounds belong to "inside"', async () => {
  const out = { type: 'max_min', min_value: 10, max_value: 20, matches_value: 0 };
  for (const [v, fires] of [
    [10, false],
    [20, false],
    [9, true],
    [21, true],
  ] as const)
    await check({ template: out, value: v, fires });
  const inside = { ...out, matches_value: 1 };
  for (const [v, fires] of [
    [15, true],
    [10, false],
    [20, false],
  ] as const)
    await check({ template: inside, value: v, fires });
});

test('§8.15 equal / not_equal compare numerically, also on string modules', async () => {
  await check({ template: { type: 'equal', value: '5' }, value: 5, fires: true });
  await check({ template: { type: 'equal', value: '5' }, value: '5,0', fires: true });
  await check({ template: { type: 'equal', value: '5' }, value: 6, fires: false });
  await check({ template: { type: 'not_equal', value: '5' }, value: 6, fires: true });
  await check({ template: { type: 'not_equal', value: '5' }, value: 5, fires: false });
  await check({
    template: { type: 'equal', value: 'xyz' },
    module: 'log',
    value: 'abc',
    fires: true,
  });
});

test('§8.16 regex: case-insensitive on the stored form; invalid never matches', async () => {
  const err = { type: 'regex', value: 'err', matches_value: 1 };
  await check({ template: err, module: 'log', value: 'ERROR 42', fires: true });
  await check({ template: err, module: 'log', value: 'all good', fires: false });
  await check({
    template: { ...err, matches_value: 0 },
    module: 'log',
    value: 'all good',
    fires: true,
  });
  await check({
    template: { type: 'regex', value: '^5$', matches_value: 1 },
    value: 5,
    fires: false,
  });
  for (const matches of [0, 1])
    await check({
      template: { type: 'regex', value: '(', matches_value: matches },
      module: 'log',
      value: 'x',
      fires: false,
    });
});

test('§8.17 onchange (evaluation part): first datum of a new module, same and changed values', async () => {
  const oc = { type: 'onchange', matches_value: 1, name: safeInput('OC') };
  await check({ template: oc, value: 5, previous: '', fires: true });
  await check({ template: oc, value: 5, previous: '5.00000', fires: false });
  await check({ template: oc, value: 6, previous: '5.00000', fires: true });
  await check({
    template: { ...oc, matches_value: 0 },
    value: 5,
    previous: '5.00000',
    fires: true,
  });
});

test('§8.18 status types on load (thresholds 70/90)', async () => {
  await check({ template: { type: 'warning' }, module: 'load', value: 75, fires: true });
  await check({ template: { type: 'critical' }, module: 'load', value: 75, fires: false });
  await check({ template: { type: 'not_normal' }, module: 'load', value: 75, fires: true });
  await check({ template: { type: 'critical' }, module: 'load', value: 95, fires: true });
  // Flip-flop is the batch's job: with min_ff_event 2 it hands us estado 0, which does not fire.
  const a = await f.fresh({ type: 'critical' }, { id_agent_module: f.load });
  await f.send(f.load, 95, { status: 0 });
  assert.deepEqual(await f.counters(a), [0, 0]);
});

test('§8.19 always fires on any datum', async () => {
  await check({ template: { type: 'always' }, value: 1, fires: true });
  await check({ template: { type: 'always' }, module: 'log', value: 'anything', fires: true });
});

test('§8.20 unknown: data never fire it; a fired one recovers on the next datum', async () => {
  await check({ template: { type: 'unknown' }, value: 95, fires: false });
  const a = await f.fresh({ type: 'unknown', recovery_notify: 1 });
  await f.sql(
    'UPDATE talert_template_modules SET times_fired = 1, internal_counter = 1, last_reference = ? WHERE id = ?',
    [f.clock.now, a],
  );
  await f.send(f.cpu, 10);
  assert.deepEqual(await f.counters(a), [0, 0]);
  const q = await f.queue();
  assert.equal(q.length, 1);
  assert.equal(q[0]?.dec[4], 0);
});

test('§8.21 complex: sum over one day greater than 100 fires; without math_function never', async () => {
  await f.sql('DELETE FROM tagente_datos WHERE id_agente_modulo = ?', [f.cpu]);
  await f.sql(
    'INSERT INTO tagente_datos (id_agente_modulo, datos, utimestamp) VALUES (?, 70, ?), (?, 70, ?), (?, 999, ?)',
    [f.cpu, f.clock.now - 3600, f.cpu, f.clock.now - 7200, f.cpu, f.clock.now - 3 * 86400],
  );
  // 70 + 70 in the last day, plus the datum itself (10): 150.
  const complex = {
    type: 'complex',
    math_function: 'sum',
    condition: 'greater',
    value: '100',
    time_window: 'one_day',
  };
  await check({ template: complex, value: 10, fires: true });
  await f.sql('DELETE FROM tagente_datos WHERE id_agente_modulo = ?', [f.cpu]);
  await f.sql(
    'INSERT INTO tagente_datos (id_agente_modulo, datos, utimestamp) VALUES (?, 70, ?), (?, 70, ?)',
    [f.cpu, f.clock.now - 3600, f.cpu, f.clock.now - 7200],
  );
  await check({ template: { ...complex, math_function: null }, value: 10, fires: false });
});
