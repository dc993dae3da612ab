/**
 * Local wall-clock DATETIME text ↔ epoch seconds. The reference reads and writes every DATETIME
 * in the server process's local zone (MySQL DATETIME has none), so we do too; tests pin TZ=UTC.
 */
import { DATETIME_MAX_YEAR } from '../../db/column-limits.js';

/** Agent timestamps: `YYYY/MM/DD HH:MM:SS` or `YYYY-MM-DD HH:MM:SS` (spec §3.1 [NEW]). */
const DATA_TIMESTAMP = /^\s*(\d{4})[-/](\d{1,2})[-/](\d{1,2})[ T]+(\d{1,2}):(\d{2}):(\d{2})\s*$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Epoch s of a valid calendar timestamp in local time; undefined when invalid. */
export function parseLocalDateTime(text: string): number | undefined {
  const m = DATA_TIMESTAMP.exec(text);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  return Math.floor(new Date(year, month - 1, day, hour, minute, second).getTime() / 1000);
}

/** Epoch s of local '10000-01-01 00:00:00' and '0000-01-01 00:00:00': the DATETIME range. */
function localYearStart(year: number): number {
  const d = new Date(2000, 0, 1);
  d.setFullYear(year); // new Date(y, …) would read 0–99 as 1900–1999
  return Math.floor(d.getTime() / 1000);
}
const STORABLE_FROM = localYearStart(0);
const STORABLE_UNTIL = localYearStart(DATETIME_MAX_YEAR + 1);

/** True when the epoch formats to a DATETIME the database accepts (years 0000–9999). */
export function isStorableEpoch(epochSec: number): boolean {
  return epochSec >= STORABLE_FROM && epochSec < STORABLE_UNTIL;
}

function pad2(n: number): string {
  return n < 10 ? `0${String(n)}` : String(n);
}

let lastFormattedEpoch = NaN;
let lastFormattedText = '';

/**
 * `YYYY-MM-DD HH:MM:SS` in local time. Memoises the last value: a packet's modules share one
 * data time, so this formats once per packet rather than once per module.
 */
export function formatLocalDateTime(epochSec: number): string {
  if (epochSec === lastFormattedEpoch) return lastFormattedText;
  const d = new Date(epochSec * 1000);
  const text = `${String(d.getFullYear()).padStart(4, '0')}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  lastFormattedEpoch = epochSec;
  lastFormattedText = text;
  return text;
}

/** '1970-01-01 00:00:00' local: what tagente_estado.last_try holds before any stored row. */
export const NEVER_TEXT = '1970-01-01 00:00:00';
export const NEVER_EPOCH = parseLocalDateTime(NEVER_TEXT) ?? 0;
