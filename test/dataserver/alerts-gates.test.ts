/**
 * spec alerts.md §8 "Calendar and time" (22–25), "Gates" (26–31) and config refresh (42),
 * against real MariaDB. The server clock is the fixture's fake clock, so "today", "now" and
 * "after 60 s" are exact.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { alertClock, WEEKDAYS } from '../../src/dataserver/alerts/index.js';
import { createAlertFixture, type AlertFixture } from './alerts-fixture.js';

let f: AlertFixture;
before(async () => {
  f = await createAlertFixture();
});
after(() => f.close());

const today = () => alertClock(f.clock.now);
const hour = (h: number) => `${String(((h % 24) + 24) % 24).padStart(2, '0')}:00:00`;

/** Fires on 95 → (1, 1), else untouched (0, 0) and no row. */
async function firesOn95(a: number): Promise<boolean> {
  await f.send(f.cpu, 95);
  const [tf] = await f.counters(a);
  assert.equal((await f.queue()).length, tf);
  return tf === 1;
}

/** Sets (1, 1) by SQL and sends 10: a gated alert keeps (1, 1). */
async function staysFired(a: number): Promise<void> {
  await f.sql(
    'UPDATE talert_template_modules SET times_fired = 1, internal_counter = 1 WHERE id = ?',
    [a],
  );
  await f.send(f.cpu, 10);
  assert.deepEqual(await f.counters(a), [1, 1]);
}

test("§8.22 today's weekday column 0: nothing, and a fired alert does not recover", async () => {
  const a = await f.fresh({ [today().weekday]: 0 });
  assert.equal(await firesOn95(a), false);
  assert.deepEqual(await f.counters(a), [0, 0]);
  await staysFired(a);
});

test('§8.23 time window excluding now: as 22; with the reset flag the counter goes to 0', async () => {
  const h = Number(today().hms.slice(0, 2));
  const away = { time_from: hour(h + 2), time_to: hour(h + 3) };
  const a = await f.fresh(away);
  assert.equal(await firesOn95(a), false);
  await staysFired(a);
  const b = await f.fresh({ ...away, min_alerts_reset_counter: 1 });
  await f.sql('UPDATE talert_template_modules SET internal_counter = 3 WHERE id = ?', [b]);
  await f.send(f.cpu, 95);
  assert.deepEqual(await f.counters(b), [0, 0]);
  // The window containing now fires (both ends excluded, so start an hour before).
  const c = await f.fresh({ time_from: hour(h - 1), time_to: hour(h + 2) });
  assert.equal(await firesOn95(c), true);
});

test('§8.24 schedule: seed "all day" fires; a slot excluding now does not; start == end fires', async () => {
  const [seed] = await f.sql('SELECT schedule FROM talert_templates WHERE id = 1');
  const a = await f.fresh({ schedule: seed?.['schedule'] });
  assert.equal(await firesOn95(a), true);
  const h = Number(today().hms.slice(0, 2));
  const slot = (start: string, end: string) =>
    JSON.stringify({ [today().weekday]: [{ start, end }] });
  const b = await f.fresh({ schedule: slot(hour(h + 1), hour(h + 2)) });
  assert.equal(await firesOn95(b), false);
  const c = await f.fresh({ schedule: slot('08:30:00', '08:30:00') });
  assert.equal(await firesOn95(c), true);
});

test('§8.25 calendar special days: a blocked weekday code, holiday, and the every-year date', async () => {
  const weekdayCodes: readonly string[] = WEEKDAYS;
  const other = today().weekday === 'monday' ? 'tuesday' : 'monday';
  const code = weekdayCodes.indexOf(other) === 0 ? 7 : weekdayCodes.indexOf(other);
  const cases: [string, number, Record<string, unknown>][] = [
    [today().date, code, { [other]: 0 }],
    [today().date, 8, {}],
    [`0001${today().date.slice(4)}`, 8, {}],
  ];
  for (const [date, dayCode, columns] of cases) {
    await f.sql('DELETE FROM talert_special_days');
    await f.sql(
      'INSERT INTO talert_special_days (id_calendar, id_group, `date`, day_code) VALUES (1, 0, ?, ?)',
      [date, dayCode],
    );
    const a = await f.fresh({ special_day: 1, ...columns });
    assert.equal(await firesOn95(a), false, `${date} code ${String(dayCode)}`);
  }
  // Control: the same calendar with a day code whose column is on fires.
  await f.sql('UPDATE talert_special_days SET `date` = ?, day_code = ?', [today().date, code]);
  const ok = await f.fresh({ special_day: 1 });
  assert.equal(await firesOn95(ok), true);
  await f.sql('DELETE FROM talert_special_days');
});

test('§8.26 quiet agent, quiet module: no change, no row', async () => {
  let a = await f.fresh();
  await f.sql('UPDATE tagente SET quiet = 1 WHERE id_agente = ?', [f.hostId]);
  assert.equal(await firesOn95(a), false);
  a = await f.fresh();
  await f.sql('UPDATE tagente_modulo SET quiet = 1 WHERE id_agente_modulo = ?', [f.cpu]);
  assert.equal(await firesOn95(a), false);
});

test('§8.27 disabled group: no change', async () => {
  const a = await f.fresh();
  await f.sql('UPDATE tgrupo SET disabled = 1 WHERE id_grupo = 2');
  assert.equal(await firesOn95(a), false);
});

test('§8.28 disabled alert: no change; standby: counted and queued with standby 1', async () => {
  const a = await f.fresh({}, { disabled: 1 });
  assert.equal(await firesOn95(a), false);
  const b = await f.fresh({}, { standby: 1 });
  assert.equal(await firesOn95(b), true);
  const [row] = await f.queue();
  assert.equal((row?.dec[3] as Record<string, unknown>)['standby'], 1);
});

test('§8.29 event storm protection (tconfig) stops evaluation until cleared', async () => {
  const a = await f.fresh();
  await f.sql("INSERT INTO tconfig (token, value) VALUES ('event_storm_protection', '1')");
  f.clock.advance(31); // the cache re-reads the flag at least every 30 s
  assert.equal(await firesOn95(a), false);
  await f.sql("UPDATE tconfig SET value = '0' WHERE token = 'event_storm_protection'");
  f.clock.advance(31);
  assert.equal(await firesOn95(a), true);
});

test('§8.31 cascade protection: a fired critical alert on the parent blocks the child', async () => {
  const [child] = await f.sql(
    "INSERT INTO tagente (nombre, alias, id_grupo, cascade_protection) VALUES ('child', 'child', 2, 1) RETURNING id_agente",
  );
  const childId = Number(child?.['id_agente']);
  const [mod] = await f.sql(
    "INSERT INTO tagente_modulo (id_agente, nombre, id_tipo_modulo) VALUES (?, 'c1', 1) RETURNING id_agente_modulo",
    [childId],
  );
  const childModule = Number(mod?.['id_agente_modulo']);
  await f.sql(
    "INSERT INTO tagente_estado (id_agente_modulo, id_agente, datos) VALUES (?, ?, '10.00000')",
    [childModule, childId],
  );
  const parentAlert = await f.fresh(); // Tmax, priority 4, on host1's cpu
  await f.send(f.cpu, 95);
  assert.deepEqual(await f.counters(parentAlert), [1, 1]);
  await f.sql('UPDATE tagente SET id_parent = ?, cascade_protection = 1 WHERE id_agente = ?', [
    f.hostId,
    childId,
  ]);
  const [ins] = await f.sql(
    'INSERT INTO talert_template_modules (id_agent_module, id_alert_template) SELECT ?, id_alert_template FROM talert_template_modules WHERE id = ? RETURNING id',
    [childModule, parentAlert],
  );
  const childAlert = Number(ins?.['id']);
  f.definitions.invalidate();
  await f.send(childModule, 95);
  assert.deepEqual(await f.counters(childAlert), [0, 0]);
  f.clock.advance(1);
  await f.send(f.cpu, 10); // the parent recovers
  assert.deepEqual(await f.counters(parentAlert), [0, 0]);
  await f.send(childModule, 95);
  assert.deepEqual(await f.counters(childAlert), [1, 1]);
  await f.sql('DELETE FROM tagente WHERE id_agente = ?', [childId]);
});

test('§8.42 config refresh: a new alert row applies after the refresh; disabled stops it', async () => {
  const a = await f.fresh();
  await f.send(f.cpu, 10); // loads the definitions
  const [tpl] = await f.sql('SELECT id_alert_template FROM talert_template_modules WHERE id = ?', [
    a,
  ]);
  const [ins] = await f.sql(
    "INSERT INTO talert_templates (name, type, max_value, time_threshold) VALUES ('second', 'max', 50, 86400) RETURNING id",
  );
  const [added] = await f.sql(
    'INSERT INTO talert_template_modules (id_agent_module, id_alert_template) VALUES (?, ?) RETURNING id',
    [f.cpu, ins?.['id']],
  );
  const b = Number(added?.['id']);
  await f.send(f.cpu, 95);
  assert.deepEqual(await f.counters(b), [0, 0], 'not yet: within alert_config_refresh');
  f.clock.advance(11);
  await f.send(f.cpu, 96);
  assert.deepEqual(await f.counters(b), [1, 1]);
  await f.sql(
    'UPDATE talert_template_modules SET disabled = 1, times_fired = 0, internal_counter = 0 WHERE id = ?',
    [b],
  );
  f.clock.advance(11);
  await f.send(f.cpu, 97);
  assert.deepEqual(await f.counters(b), [0, 0]);
  assert.ok(tpl);
});
