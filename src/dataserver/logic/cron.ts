/**
 * "Next cron slot" of a module with a `cron_interval` (spec §4.6, §5.1): seconds from now to
 * the next minute matching the 5-field expression (minute hour day-of-month month day-of-week,
 * each `*`, `n`, `a-b`, lists and `/step`), in local time. Standard cron: when both day fields
 * are restricted a day matches either.
 */

interface CronSpec {
  readonly minutes: readonly boolean[];
  readonly hours: readonly boolean[];
  readonly days: readonly boolean[];
  readonly months: readonly boolean[];
  readonly weekdays: readonly boolean[];
  readonly daysRestricted: boolean;
  readonly weekdaysRestricted: boolean;
}

const FIELD_RANGES: readonly (readonly [number, number])[] = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];
const PART = /^(\*|\d+)(?:-(\d+))?(?:\/(\d+))?$/;
/** A year and a bit: any valid expression matches within it (Feb 29 within 4 years aside). */
const SEARCH_DAYS = 4 * 366;

function parseField(text: string, min: number, max: number): boolean[] | undefined {
  const allowed = new Array<boolean>(max + 1).fill(false);
  for (const part of text.split(',')) {
    const m = PART.exec(part);
    if (m === null) return undefined;
    const star = m[1] === '*';
    const from = star ? min : Number(m[1]);
    const to = star ? max : m[2] !== undefined ? Number(m[2]) : m[3] !== undefined ? max : from;
    const step = m[3] !== undefined ? Number(m[3]) : 1;
    if (from < min || to > max || from > to || step < 1) return undefined;
    for (let v = from; v <= to; v += step) allowed[v] = true;
  }
  return allowed;
}

const specs = new Map<string, CronSpec | null>();
const SPEC_CACHE_LIMIT = 1000;

function parseCron(expression: string): CronSpec | null {
  const cached = specs.get(expression);
  if (cached !== undefined) return cached;
  const fields = expression.trim().split(/\s+/);
  let spec: CronSpec | null = null;
  if (fields.length === 5) {
    const parsed = fields.map((f, i) => {
      const [min, max] = FIELD_RANGES[i] ?? [0, 0];
      return parseField(f, min, max);
    });
    const [minutes, hours, days, months, weekdays] = parsed;
    if (minutes && hours && days && months && weekdays) {
      if (weekdays[7] === true) weekdays[0] = true; // 7 = Sunday too
      spec = {
        minutes,
        hours,
        days,
        months,
        weekdays,
        daysRestricted: fields[2] !== '*',
        weekdaysRestricted: fields[4] !== '*',
      };
    }
  }
  if (specs.size >= SPEC_CACHE_LIMIT) specs.clear();
  specs.set(expression, spec);
  return spec;
}

function dayMatches(spec: CronSpec, date: Date): boolean {
  if (spec.months[date.getMonth() + 1] !== true) return false;
  const dom = spec.days[date.getDate()] === true;
  const dow = spec.weekdays[date.getDay()] === true;
  if (spec.daysRestricted && spec.weekdaysRestricted) return dom || dow;
  return dom && dow;
}

/** Seconds until the next slot strictly after `nowSec`; undefined for an invalid expression. */
export function secondsToNextCronSlot(expression: string, nowSec: number): number | undefined {
  const spec = parseCron(expression);
  if (spec === null) return undefined;
  const start = new Date((Math.floor(nowSec / 60) + 1) * 60 * 1000);
  for (let d = 0; d < SEARCH_DAYS; d++) {
    const day = new Date(start.getFullYear(), start.getMonth(), start.getDate() + d);
    if (!dayMatches(spec, day)) continue;
    const firstHour = d === 0 ? start.getHours() : 0;
    for (let h = firstHour; h < 24; h++) {
      if (spec.hours[h] !== true) continue;
      const firstMinute = d === 0 && h === start.getHours() ? start.getMinutes() : 0;
      for (let m = firstMinute; m < 60; m++) {
        if (spec.minutes[m] !== true) continue;
        const slot = new Date(day.getFullYear(), day.getMonth(), day.getDate(), h, m).getTime();
        return Math.max(1, Math.round(slot / 1000 - nowSec));
      }
    }
  }
  return undefined;
}

/** Whether a `crontab` tag is stored at module creation (§4.3 step 3). */
export function isValidCron(expression: string): boolean {
  return parseCron(expression) !== null;
}
