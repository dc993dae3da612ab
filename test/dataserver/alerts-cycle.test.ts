/**
 * spec alerts.md §8 "Basic cycle" (tests 1–12) and 41, at the alert module's level: each datum
 * updates the status row, writes history and evaluates alerts in one real MariaDB transaction.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createAlertFixture, type AlertFixture } from './alerts-fixture.js';

let f: AlertFixture;
before(async () => {
  f = await createAlertFixture();
});
after(() => f.close());

type Dict = Record<string, unknown>;

test('§8.1 fire: counters, timestamps, one queue row with the decoded fields, no alert event', async () => {
  const a = await f.fresh();
  const [before] = await f.sql(
    'SELECT last_status_change FROM tagente_estado WHERE id_agente_modulo = ?',
    [f.cpu],
  );
  assert.deepEqual(await f.seq(f.cpu, 95), [[1, 1]]);
  const row = await f.alertRow(a);
  assert.equal(Number(row['last_fired']), f.clock.now);
  assert.equal(Number(row['last_reference']), Number(row['last_fired']));
  const q = await f.queue();
  assert.equal(q.length, 1);
  const [entry] = q;
  assert.ok(entry);
  assert.equal(Number(entry.row['utimestamp']), f.clock.now);
  const dec = entry.dec;
  assert.equal(dec.length, 8);
  assert.equal(dec[0], '95.00000');
  assert.equal(dec[4], 1);
  assert.equal(dec[6], 0);
  const alert = dec[3] as Dict;
  assert.equal(alert['id_template_module'], a);
  assert.equal(alert['id'], alert['id_alert_template']);
  assert.equal(alert['priority'], 4);
  assert.equal(alert['times_fired'], 1);
  assert.equal(alert['internal_counter'], 1);
  assert.equal((dec[1] as Dict)['id_agente'], f.hostId);
  assert.equal((dec[2] as Dict)['id_agente_modulo'], f.cpu);
  assert.equal((dec[2] as Dict)['status'], null);
  assert.deepEqual(dec[7], { _modulelaststatuschange_: Number(before?.['last_status_change']) });
  const [agent] = await f.sql('SELECT update_alert_count FROM tagente WHERE id_agente = ?', [
    f.hostId,
  ]);
  assert.equal(Number(agent?.['update_alert_count']), 1);
  assert.equal((await f.events("event_type LIKE 'alert%'")).length, 0);
});

test('§8.2 hold and §8.3 recover: counters, unchanged timestamps, recovered row with old counters', async () => {
  const a = await f.fresh();
  await f.seq(f.cpu, 95);
  const fired = await f.alertRow(a);
  f.clock.advance(1);
  assert.deepEqual(await f.seq(f.cpu, 96), [[1, 2]]);
  const held = await f.alertRow(a);
  assert.equal(held['last_fired'], fired['last_fired']);
  assert.equal(held['last_reference'], fired['last_reference']);
  assert.equal((await f.queue()).length, 1);
  f.clock.advance(1);
  assert.deepEqual(await f.seq(f.cpu, 10), [[0, 0]]);
  const recovered = await f.alertRow(a);
  assert.equal(recovered['last_fired'], fired['last_fired']);
  assert.equal(recovered['last_reference'], fired['last_reference']);
  const q = await f.queue();
  assert.equal(q.length, 2);
  const dec = q[1]?.dec ?? [];
  assert.equal(dec[4], 0);
  assert.equal(dec[0], '10.00000');
  assert.equal((dec[3] as Dict)['times_fired'], 1);
  assert.equal((dec[3] as Dict)['internal_counter'], 2);
  assert.equal((await f.events("event_type LIKE 'alert%'")).length, 0);
});

test('§8.4 no recovery notify: stays fired, one row', async () => {
  await f.fresh({ recovery_notify: 0 });
  assert.deepEqual(await f.seq(f.cpu, 95, 96, 10), [
    [1, 1],
    [1, 2],
    [1, 2],
  ]);
  assert.equal((await f.queue()).length, 1);
});

test('§8.5 cease: counters reset, one row, the Alert ceased event', async () => {
  const a = await f.fresh({
    recovery_notify: 0,
    time_threshold: 5,
    priority: 3,
    name: 'Bar&#x20;cease',
  });
  await f.seq(f.cpu, 95);
  f.clock.advance(7);
  assert.deepEqual(await f.seq(f.cpu, 10), [[0, 0]]);
  assert.equal((await f.queue()).length, 1);
  const events = await f.events();
  assert.equal(events.length, 1);
  const e = events[0] ?? {};
  assert.equal(e['event_type'], 'alert_ceased');
  assert.equal(e['evento'], 'Alert&#x20;ceased&#x20;&#40;Bar&#x20;cease&#41;');
  assert.equal(Number(e['criticity']), 3);
  assert.equal(Number(e['estado']), 0);
  assert.equal(Number(e['id_alert_am']), a);
  assert.equal(Number(e['id_agentmodule']), f.cpu);
  assert.equal(Number(e['id_agente']), f.hostId);
  assert.equal(Number(e['id_grupo']), 2);
  assert.equal(e['source'], 'monitoring_server');
  assert.equal(e['custom_data'], '');
  assert.equal(e['data'], '10.00000');
});

test('§8.6 cease with disable_event: no event', async () => {
  await f.fresh({ recovery_notify: 0, time_threshold: 5, priority: 3, disable_event: 1 });
  await f.seq(f.cpu, 95);
  f.clock.advance(7);
  assert.deepEqual(await f.seq(f.cpu, 10), [[0, 0]]);
  assert.equal((await f.events()).length, 0);
});

test('§8.7 re-notification after the window', async () => {
  const a = await f.fresh({ time_threshold: 5 });
  assert.deepEqual(await f.seq(f.cpu, 95), [[1, 1]]);
  f.clock.advance(2);
  assert.deepEqual(await f.seq(f.cpu, 96), [[1, 2]]);
  f.clock.advance(6);
  assert.deepEqual(await f.seq(f.cpu, 97), [[1, 1]]);
  const row = await f.alertRow(a);
  assert.equal(Number(row['last_fired']), f.clock.now);
  assert.equal(Number(row['last_reference']), f.clock.now);
  assert.equal((await f.queue()).length, 2);
});

test('§8.8 recovery after the window carries zeroed counters', async () => {
  await f.fresh({ time_threshold: 5 });
  await f.seq(f.cpu, 95);
  f.clock.advance(7);
  assert.deepEqual(await f.seq(f.cpu, 10), [[0, 0]]);
  const [, recovered] = await f.queue();
  assert.ok(recovered);
  assert.equal(recovered.dec[4], 0);
  assert.equal((recovered.dec[3] as Dict)['times_fired'], 0);
});

test('§8.9 min_alerts 2 fires on the third match; last_reference from the first', async () => {
  const a = await f.fresh({ min_alerts: 2 });
  assert.deepEqual(await f.seq(f.cpu, 95), [[0, 1]]);
  const first = Number((await f.alertRow(a))['last_reference']);
  assert.equal(first, f.clock.now);
  f.clock.advance(1);
  assert.deepEqual(await f.seq(f.cpu, 96, 97), [
    [0, 2],
    [1, 3],
  ]);
  assert.equal(Number((await f.alertRow(a))['last_reference']), first);
  assert.equal((await f.queue()).length, 1);
});

test('§8.10 max_alerts 2: two fires per window', async () => {
  await f.fresh({ max_alerts: 2 });
  assert.deepEqual(await f.seq(f.cpu, 95, 96, 97), [
    [1, 1],
    [2, 2],
    [2, 3],
  ]);
  assert.equal((await f.queue()).length, 2);
});

test('§8.11 counter reset flag', async () => {
  await f.fresh({ min_alerts: 2, min_alerts_reset_counter: 1 });
  assert.deepEqual(await f.seq(f.cpu, 95, 10, 96), [
    [0, 1],
    [0, 0],
    [0, 1],
  ]);
  await f.fresh({ min_alerts: 2, min_alerts_reset_counter: 0 });
  assert.deepEqual(await f.seq(f.cpu, 95, 10, 96), [
    [0, 1],
    [0, 1],
    [0, 2],
  ]);
});

test('§8.12 window reset (rc 5)', async () => {
  await f.fresh({ min_alerts: 2, time_threshold: 5 });
  assert.deepEqual(await f.seq(f.cpu, 95), [[0, 1]]);
  f.clock.advance(7);
  assert.deepEqual(await f.seq(f.cpu, 10), [[0, 0]]);
});

test('§8.41 fresh counters: a console reset makes the next match fire again', async () => {
  const a = await f.fresh();
  await f.seq(f.cpu, 95);
  await f.sql(
    'UPDATE talert_template_modules SET times_fired = 0, internal_counter = 0 WHERE id = ?',
    [a],
  );
  f.clock.advance(1);
  assert.deepEqual(await f.seq(f.cpu, 96), [[1, 1]]);
  assert.equal((await f.queue()).length, 2);
});
