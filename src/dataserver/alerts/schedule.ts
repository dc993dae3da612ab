/**
 * The calendar and time-of-day gates of spec alerts.md §3.2 (a) and (b): whether an alert may
 * act at all right now. Outside its days or hours an alert is idle (rc 1, or 5 with
 * `min_alerts_reset_counter`) and neither fires, recovers nor ceases.
 */
import { alertNumber, alertText, textOf } from './record.js';
import { WEEKDAYS, type AlertClock, type AlertRecord, type Row } from './types.js';

/** `talert_special_days.day_code` 1..8 → the template column it selects (8 has none). */
const DAY_CODE_COLUMNS = [undefined, ...WEEKDAYS.slice(1), 'sunday', 'holiday'] as const;

/**
 * The special-day code for today: rows of the alert's calendar dated today or `0001-MM-DD`
 * (every year), of group 0 or the template's group, latest date first; 0 when none.
 */
export function specialDayCode(
  record: AlertRecord,
  specialDays: readonly Row[],
  clock: AlertClock,
): number {
  const calendar = alertNumber(record, 'special_day');
  if (calendar === 0) return 0;
  const everyYear = `0001${clock.date.slice(4)}`;
  const group = alertNumber(record, 'id_group');
  let best: { date: string; code: number } | undefined;
  for (const day of specialDays) {
    if (Number(day['id_calendar']) !== calendar) continue;
    const date = textOf(day['date']);
    if (date !== clock.date && date !== everyYear) continue;
    const dayGroup = Number(day['id_group']);
    if (dayGroup !== 0 && dayGroup !== group) continue;
    if (best === undefined || date > best.date) best = { date, code: Number(day['day_code']) };
  }
  return best?.code ?? 0;
}

interface Slot {
  readonly start?: unknown;
  readonly end?: unknown;
}

function slotContains(slot: Slot, hms: string): boolean {
  const start = textOf(slot.start);
  const end = textOf(slot.end);
  if (start === end) return true; // a whole-day slot
  return start <= hms && (end === '00:00:00' || end >= hms);
}

function parseSchedule(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** §3.2 (a) + (b): true when the alert may be evaluated at `clock`. */
export function withinSchedule(record: AlertRecord, code: number, clock: AlertClock): boolean {
  // (a) the day: a special day replaces today's weekday; "holiday" has no column, so blocks.
  const day = code !== 0 ? DAY_CODE_COLUMNS[code] : clock.weekday;
  if (day === undefined) return false;
  if (code !== 0) {
    if (alertNumber(record, day) === 0) return false;
  } else if (alertNumber(record, clock.weekday) !== 1) return false;

  // (b) the time of day: the JSON schedule when present, else time_from/time_to.
  const schedule = alertText(record, 'schedule');
  if (schedule !== '') {
    const parsed = parseSchedule(schedule);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return false;
    const byDay = parsed as Record<string, unknown>;
    // On a special day the schedule must have slots for the day it stands for. (The spec writes
    // "no key `day`"; read as that variable: a literal "day" key is never written by consoles.)
    if (code !== 0 && !(day in byDay)) return false;
    if (!Array.isArray(byDay[clock.weekday])) return false;
    const special = code !== 0 ? byDay[day] : undefined;
    const slots = (Array.isArray(special) ? special : byDay[clock.weekday]) as unknown[];
    return slots.some((s) => typeof s === 'object' && s !== null && slotContains(s, clock.hms));
  }
  const from = alertText(record, 'time_from');
  const to = alertText(record, 'time_to');
  if (from === to) return true;
  if (from < to) return !(clock.hms <= from || clock.hms >= to);
  return !(clock.hms <= from && clock.hms >= to); // the window wraps midnight
}
