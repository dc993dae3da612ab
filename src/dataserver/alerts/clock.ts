/** The local calendar fields an evaluation needs (spec alerts.md §3.2: "local time"). */
import { WEEKDAYS, type AlertClock } from './types.js';

const pad2 = (n: number): string => String(n).padStart(2, '0');

export function alertClock(now: number): AlertClock {
  const d = new Date(now * 1000);
  return {
    now,
    weekday: WEEKDAYS[d.getDay()] ?? 'sunday',
    hms: `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`,
    date: `${String(d.getFullYear()).padStart(4, '0')}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`,
  };
}

/** `YYYY-MM-DD HH:MM:SS` local, as tevento.timestamp is written. */
export function localDateTimeText(now: number): string {
  const c = alertClock(now);
  return `${c.date} ${c.hms}`;
}
