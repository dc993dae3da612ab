/**
 * The pure parts of the alert module that the database tests cannot reach at every edge: the
 * configuration keys of spec alerts.md §6, Perl's numeric reading (§3.3), and the time-of-day
 * rules of §3.2 (b) around midnight and special days.
 */
process.env['TZ'] = 'UTC';

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/core/errors.js';
import {
  alertClock,
  buildAlertRecord,
  DEFAULT_ALERT_CONFIG,
  resolveAlertConfig,
} from '../../src/dataserver/alerts/index.js';
import { perlNumber } from '../../src/dataserver/alerts/perl-number.js';
import { withinSchedule } from '../../src/dataserver/alerts/schedule.js';

const ALL_DAYS = {
  monday: 1,
  tuesday: 1,
  wednesday: 1,
  thursday: 1,
  friday: 1,
  saturday: 1,
  sunday: 1,
};
const at = (iso: string) => alertClock(Date.parse(`${iso}Z`) / 1000);
const record = (template: Record<string, unknown>) =>
  buildAlertRecord(
    { id: 7 },
    { id: 1, schedule: null, time_from: '00:00:00', time_to: '00:00:00', ...ALL_DAYS, ...template },
  );

test('§6 keys: defaults, the warm-up alias, and refused values', () => {
  const defaults = resolveAlertConfig({});
  assert.deepEqual(defaults, DEFAULT_ALERT_CONFIG);
  assert.deepEqual(
    [defaults.execution, defaults.configRefreshSeconds, defaults.warnSeconds],
    ['queue', 10, 180],
  );
  const env = {
    PANDORA_ALERT_EXECUTION: 'events',
    PANDORA_WARMUP_ALERT_INTERVAL: '30',
    PANDORA_ALERTSERVER: '1',
  };
  const set = resolveAlertConfig({ env }, 60);
  assert.deepEqual(
    [set.execution, set.warmupSeconds, set.delegatedToAlertServer],
    ['events', 60, true],
  );
  assert.equal(resolveAlertConfig({ env }, 0).warmupSeconds, 30);
  assert.throws(
    () => resolveAlertConfig({ env: { PANDORA_ALERT_EXECUTION: 'inline' } }),
    ConfigError,
  );
  assert.throws(
    () => resolveAlertConfig({ env: { PANDORA_ALERT_TIME_SOURCE: 'agent' } }),
    ConfigError,
  );
  assert.throws(() => resolveAlertConfig({ env: { PANDORA_ALERTSERVER_WARN: '-1' } }), ConfigError);
});

test('§3.3 Perl numeric reading of text', () => {
  assert.equal(perlNumber('95.00000'), 95);
  assert.equal(perlNumber('abc'), 0);
  assert.equal(perlNumber('12ab'), 12);
  assert.equal(perlNumber('  -1.5e2x'), -150);
  assert.equal(perlNumber(null), 0);
  assert.equal(perlNumber(''), 0);
});

test('§3.2 (b) time_from/time_to: both ends excluded; a window across midnight', () => {
  const day = record({ time_from: '08:00:00', time_to: '18:00:00' });
  assert.equal(withinSchedule(day, 0, at('2026-12-07T08:00:00')), false);
  assert.equal(withinSchedule(day, 0, at('2026-12-07T08:00:01')), true);
  assert.equal(withinSchedule(day, 0, at('2026-12-07T18:00:00')), false);
  const night = record({ time_from: '22:00:00', time_to: '06:00:00' });
  assert.equal(withinSchedule(night, 0, at('2026-12-07T23:00:00')), true);
  assert.equal(withinSchedule(night, 0, at('2026-12-07T05:00:00')), true);
  assert.equal(withinSchedule(night, 0, at('2026-12-07T12:00:00')), false);
});

test('§3.2 (b) JSON schedule: slots, end 00:00:00 = until midnight, garbage = idle', () => {
  const monday = at('2026-12-07T10:30:00');
  assert.equal(monday.weekday, 'monday');
  const slots = (list: unknown) => record({ schedule: JSON.stringify({ monday: list }) });
  assert.equal(withinSchedule(slots([{ start: '10:00:00', end: '11:00:00' }]), 0, monday), true);
  assert.equal(withinSchedule(slots([{ start: '11:00:00', end: '12:00:00' }]), 0, monday), false);
  assert.equal(withinSchedule(slots([{ start: '10:00:00', end: '00:00:00' }]), 0, monday), true);
  assert.equal(
    withinSchedule(record({ schedule: JSON.stringify({ tuesday: [] }) }), 0, monday),
    false,
  );
  assert.equal(withinSchedule(record({ schedule: '{not json' }), 0, monday), false);
  // A special day (code 6 = saturday) takes the saturday slots, and idles without them.
  const sat = (list: unknown) =>
    record({ schedule: JSON.stringify({ monday: [], saturday: list }) });
  assert.equal(withinSchedule(sat([{ start: '10:00:00', end: '11:00:00' }]), 6, monday), true);
  assert.equal(withinSchedule(sat([{ start: '11:00:00', end: '12:00:00' }]), 6, monday), false);
  assert.equal(withinSchedule(slots([{ start: '00:00:00', end: '00:00:00' }]), 6, monday), false);
  // Weekday columns: a special day selects its own column.
  assert.equal(withinSchedule(record({ saturday: 0 }), 6, monday), false);
  assert.equal(withinSchedule(record({ monday: 0 }), 6, monday), true);
  assert.equal(withinSchedule(record({}), 8, monday), false, 'holiday has no column');
});
