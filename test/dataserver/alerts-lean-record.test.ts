/**
 * The engine evaluates a reduced alert record (EVALUATION_COLUMNS) and builds the full one only
 * for fired, recovered and ceased alerts. These tests pin that the reduced record holds every
 * column evaluation reads, for every template type and window state, and that it gives the same
 * result and counters as the full record; the byte-level outputs are pinned by the database tests.
 */
process.env['TZ'] = 'UTC';

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  alertClock,
  buildAlertRecord,
  counterUpdate,
  evaluateAlert,
  type AlertDatum,
  type AlertRecord,
  type Row,
} from '../../src/dataserver/alerts/index.js';
import {
  EVALUATION_COLUMNS,
  evaluationRecord,
  fullAlertRecord,
} from '../../src/dataserver/alerts/record.js';
import { specialDayCode } from '../../src/dataserver/alerts/schedule.js';
import { TEMPLATE_TYPES } from '../../src/dataserver/alerts/types.js';

const NOW = Date.parse('2026-12-07T12:00:00Z') / 1000;
const clock = alertClock(NOW);

/** Records every column read that the record lacks and the full record holds. */
function watched(record: AlertRecord, full: AlertRecord, missing: Set<string>): AlertRecord {
  return new Proxy(record, {
    get(target, key, receiver) {
      if (typeof key === 'string' && !Object.hasOwn(target, key) && Object.hasOwn(full, key))
        missing.add(key);
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
}

function alertRow(state: { timesFired: number; counter: number; reference: number }): Row {
  return {
    id: 42,
    id_agent_module: 5,
    id_alert_template: 3,
    internal_counter: state.counter,
    last_fired: 0,
    last_reference: state.reference,
    times_fired: state.timesFired,
    disabled: 0,
    standby: 0,
    priority: 0,
    force_execution: 0,
    id_policy_alerts: 0,
    last_status: 0,
    special_day: 1,
  };
}

function templateRow(type: string, extra: Row): Row {
  return {
    id: 3,
    name: 'T',
    description: '',
    id_alert_action: 1,
    field1: 'x',
    type,
    value: type === 'regex' ? 'a.c' : '10',
    matches_value: 1,
    max_value: 50,
    min_value: 5,
    time_threshold: 300,
    max_alerts: 2,
    min_alerts: 0,
    time_from: '00:00:00',
    time_to: '00:00:00',
    monday: 1,
    tuesday: 1,
    wednesday: 1,
    thursday: 1,
    friday: 1,
    saturday: 1,
    sunday: 1,
    recovery_notify: 1,
    priority: 4,
    id_group: 0,
    special_day: 2,
    min_alerts_reset_counter: 0,
    disable_event: 0,
    math_function: 'avg',
    condition: 'greater',
    time_window: 'one_day',
    schedule: null,
    ...extra,
  };
}

test('the reduced record holds every column evaluation reads and gives the same result', () => {
  const missing = new Set<string>();
  const specialDays = [1, 2, 3, 8].map((code) => ({
    id_calendar: 2,
    id_group: 0,
    date: clock.date,
    day_code: code,
  }));
  let cases = 0;
  for (const type of TEMPLATE_TYPES)
    for (const timesFired of [0, 1, 2])
      for (const reference of [NOW - 1000, NOW])
        for (const extra of [
          {},
          { recovery_notify: 0, min_alerts_reset_counter: 1 },
          { schedule: '{"monday":[{"start":"00:00:00","end":"23:00:00"}]}' },
          { math_function: null },
        ])
          for (const days of [[], specialDays.slice(0, 1), specialDays.slice(3)])
            for (const value of ['1', '12', '60', 'abc'])
              for (const status of [0, 1, 2, 3]) {
                const row = alertRow({ timesFired, counter: timesFired + 1, reference });
                const template = templateRow(type, extra);
                const full = buildAlertRecord(row, template);
                const lean = watched(evaluationRecord(row, template), full, missing);
                const datum: AlertDatum = { value, status, utimestamp: NOW, previousValue: '1' };
                const run = (record: AlertRecord) =>
                  evaluateAlert({
                    record,
                    datum,
                    clock,
                    specialDayCode: specialDayCode(record, days, clock),
                    history: 20,
                    timeSource: 'now',
                  });
                const a = run(full);
                const b = run(lean);
                assert.equal(b.rc, a.rc);
                assert.deepEqual(counterUpdate(b, NOW), counterUpdate(a, NOW));
                assert.deepEqual(fullAlertRecord(row, template, b.record), a.record);
                cases++;
              }
  assert.ok(cases > 10_000);
  assert.deepEqual([...missing], []);
});

test('the reduced record shadows alert columns with the template, as the full record does', () => {
  const row = alertRow({ timesFired: 1, counter: 1, reference: NOW });
  const template = templateRow('max', {});
  const lean = evaluationRecord(row, template);
  const full = buildAlertRecord(row, template);
  assert.equal(lean['id'], 3);
  assert.equal(lean['special_day'], 2);
  assert.equal(lean.id_template_module, 42);
  for (const column of EVALUATION_COLUMNS) assert.equal(lean[column], full[column]);
  assert.deepEqual(Object.keys(fullAlertRecord(row, template, lean)), Object.keys(full));
});
