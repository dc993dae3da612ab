// "Next cron slot" intervals of modules with a crontab (spec §4.6, §5.1).
import './logic-tz.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isValidCron, secondsToNextCronSlot } from '../../src/dataserver/logic/cron.js';
import { createHarness, T0, X } from './logic-fixtures.js';

const HOUR = 3600;
const DAY = 24 * HOUR;

describe('secondsToNextCronSlot (T0 = Friday 2024-03-01 10:00:00 UTC)', () => {
  const cases: [string, number, number | undefined][] = [
    ['*/5 * * * *', T0, 300],
    ['5/15 * * * *', T0, 300],
    ['* * * * *', T0 + 30, 30],
    ['0 12 * * *', T0, 2 * HOUR],
    ['30 9 * * *', T0, DAY - 30 * 60],
    ['0 0 1 * *', T0, 31 * DAY - 10 * HOUR],
    ['0 0 * * 0', T0, 2 * DAY - 10 * HOUR],
    ['0 0 * * 7', T0, 2 * DAY - 10 * HOUR],
    ['0 0 15 * 1', T0, 3 * DAY - 10 * HOUR],
    ['0 10 1 3 *', T0, 365 * DAY],
    ['0,30 10-11 * * 1-5', T0, 30 * 60],
    ['61 * * * *', T0, undefined],
    ['* * *', T0, undefined],
    ['a b c d e', T0, undefined],
    ['5-1 * * * *', T0, undefined],
  ];
  for (const [expression, now, expected] of cases) {
    it(`'${expression}' → ${String(expected)}`, () => {
      assert.equal(secondsToNextCronSlot(expression, now), expected);
      assert.equal(isValidCron(expression), expected !== undefined);
    });
  }
});

describe('cron modules', () => {
  it('current_interval is the time to the next slot; an invalid crontab is not stored', () => {
    const h = createHarness();
    h.feed(X('10:00:00', '5', '<crontab>0 12 * * *</crontab>'), { nowSec: T0 });
    assert.equal(h.module('cpu').config.cronInterval, '0 12 * * *');
    assert.equal(h.status('cpu').currentInterval, 2 * HOUR);
    h.feed(X('10:05:00', 'bad'), { nowSec: T0 + HOUR });
    assert.equal(h.status('cpu').currentInterval, HOUR, 'rejected datum: next slot too');
    const invalid = createHarness();
    invalid.feed(X('10:00:00', '5', '<crontab>every day</crontab>'), { nowSec: T0 });
    assert.equal(invalid.module('cpu').config.cronInterval, '');
    assert.equal(invalid.status('cpu').currentInterval, 300);
  });
});
