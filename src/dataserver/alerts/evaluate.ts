/**
 * One alert against one datum: the algorithm of spec alerts.md §3.2. Pure — the caller passes
 * the locked alert record, the special-day code, and for `complex` templates the history
 * aggregate; the writes each result implies are in apply.ts.
 */
import { conditionMet } from './conditions.js';
import { alertNumber, withCounters } from './record.js';
import { withinSchedule } from './schedule.js';
import {
  AlertResult,
  type AlertClock,
  type AlertDatum,
  type AlertRecord,
  type AlertResultCode,
  type Evaluation,
} from './types.js';

export interface EvaluateInputs {
  readonly record: AlertRecord;
  readonly datum: AlertDatum;
  readonly clock: AlertClock;
  /** §3.2 (a): today's `talert_special_days.day_code` for the alert's calendar, 0 = none. */
  readonly specialDayCode: number;
  /** `complex` templates: the aggregate over the window (NULL → 0). */
  readonly history?: number | null;
  /**
   * D-A4: the time compared with `last_reference + time_threshold`. `now` (our default) uses
   * the server clock on both sides; `data` uses the datum's epoch as the reference does.
   */
  readonly timeSource: 'now' | 'data';
}

export function evaluateAlert(inputs: EvaluateInputs): Evaluation {
  const { datum, clock } = inputs;
  let record = inputs.record;
  const idle: AlertResultCode =
    alertNumber(record, 'min_alerts_reset_counter') !== 0
      ? AlertResult.ResetCounter
      : AlertResult.Nothing;

  // (a), (b): outside its days and hours the alert is idle, before any window logic.
  if (!withinSchedule(record, inputs.specialDayCode, clock)) {
    return { rc: idle, record, touchesAlertCount: false };
  }

  // (c) the window.
  let rc: AlertResultCode = idle;
  const t = inputs.timeSource === 'data' ? datum.utimestamp : clock.now;
  const limit = alertNumber(record, 'last_reference') + alertNumber(record, 'time_threshold');
  if (alertNumber(record, 'times_fired') > 0) {
    if (t > limit) {
      rc = AlertResult.Cease;
      record = withCounters(record, 0, 0);
    }
    if (alertNumber(record, 'recovery_notify') === 1) rc = AlertResult.Recover;
  } else if (t > limit && alertNumber(record, 'internal_counter') > 0) {
    rc = AlertResult.ResetCounter;
  }
  const windowTouches = rc === AlertResult.Cease || rc === AlertResult.Recover;

  // (d) the condition; not met → the window's verdict.
  if (!conditionMet(record, datum, inputs.history ?? null)) {
    return { rc, record, touchesAlertCount: windowTouches };
  }

  // (e) the limits, with the counters as (c) left them.
  if (
    alertNumber(record, 'internal_counter') < alertNumber(record, 'min_alerts') ||
    alertNumber(record, 'times_fired') >= alertNumber(record, 'max_alerts')
  ) {
    return { rc: AlertResult.Count, record, touchesAlertCount: windowTouches };
  }
  return { rc: AlertResult.Fire, record, touchesAlertCount: true };
}
