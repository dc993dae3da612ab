/**
 * Template conditions of spec alerts.md §3.3: is the condition met for this datum. Pure; the
 * one input that needs the database (the `complex` aggregate over history) is passed in.
 */
import { alertNumber, alertText, templateType } from './record.js';
import { looksNumeric, perlNumber } from './perl-number.js';
import type { AlertDatum, AlertRecord } from './types.js';

const COMPLEX_FUNCTIONS = ['avg', 'min', 'max', 'sum'] as const;
const COMPLEX_CONDITIONS = ['lower', 'greater', 'equal'] as const;
const COMPLEX_WINDOWS = [
  'thirty_days',
  'this_month',
  'seven_days',
  'this_week',
  'one_day',
  'today',
] as const;
export type ComplexWindow = (typeof COMPLEX_WINDOWS)[number];
export type ComplexFunction = (typeof COMPLEX_FUNCTIONS)[number];

/** The parts of a `complex` template, or undefined when one is missing or unknown (D-A7). */
export function complexSpec(
  record: AlertRecord,
): { fn: ComplexFunction; condition: string; window: ComplexWindow } | undefined {
  const fn = record['math_function'];
  const condition = record['condition'];
  const window = record['time_window'];
  if (!(COMPLEX_FUNCTIONS as readonly unknown[]).includes(fn)) return undefined;
  if (!(COMPLEX_CONDITIONS as readonly unknown[]).includes(condition)) return undefined;
  if (!(COMPLEX_WINDOWS as readonly unknown[]).includes(window)) return undefined;
  return {
    fn: fn as ComplexFunction,
    condition: condition as string,
    window: window as ComplexWindow,
  };
}

/** Start (epoch s) of a complex window; local midnights as the reference computes them. */
export function complexWindowStart(window: ComplexWindow, now: number): number {
  const local = new Date(now * 1000);
  switch (window) {
    case 'thirty_days':
      return now - 30 * 86400;
    case 'seven_days':
      return now - 7 * 86400;
    case 'one_day':
      return now - 86400;
    case 'this_week':
      return now - local.getDay() * 86400; // not aligned to midnight, as the reference
    case 'today':
      return new Date(local.getFullYear(), local.getMonth(), local.getDate()).getTime() / 1000;
    case 'this_month':
      return new Date(local.getFullYear(), local.getMonth(), 1).getTime() / 1000;
  }
}

function compare(left: number, condition: string, right: number): boolean {
  if (condition === 'lower') return left < right;
  if (condition === 'greater') return left > right;
  return left === right;
}

/** Case-insensitive unanchored match; an invalid pattern matches nothing either way. */
function regexMatches(pattern: string, value: string): boolean | undefined {
  try {
    return new RegExp(pattern, 'i').test(value);
  } catch {
    return undefined;
  }
}

function changed(value: string, previous: string): boolean {
  if (looksNumeric(previous)) return perlNumber(value) !== perlNumber(previous);
  return value !== previous;
}

/**
 * §3.3. `history` is the complex template's aggregate H (NULL → 0); ignored by other types.
 * Numeric comparisons use Perl's reading of the stored text (`"95.00000"` → 95).
 */
export function conditionMet(
  record: AlertRecord,
  datum: AlertDatum,
  history: number | null = null,
): boolean {
  const v = datum.value;
  const matches = alertNumber(record, 'matches_value') === 1;
  switch (templateType(record)) {
    case 'max':
      return perlNumber(v) > alertNumber(record, 'max_value');
    case 'min':
      return perlNumber(v) < alertNumber(record, 'min_value');
    case 'max_min': {
      const n = perlNumber(v);
      const min = alertNumber(record, 'min_value');
      const max = alertNumber(record, 'max_value');
      return matches ? min < n && n < max : n < min || n > max;
    }
    case 'equal':
      return perlNumber(v) === perlNumber(record['value']);
    case 'not_equal':
      return perlNumber(v) !== perlNumber(record['value']);
    case 'regex': {
      const hit = regexMatches(alertText(record, 'value'), v);
      return hit === undefined ? false : hit === matches;
    }
    case 'onchange':
      return changed(v, datum.previousValue) === matches;
    case 'always':
      return true;
    case 'critical':
      return datum.status === 1;
    case 'warning':
      return datum.status === 2;
    case 'unknown':
      return datum.status === 3;
    case 'not_normal':
      return datum.status !== 0;
    case 'complex': {
      const spec = complexSpec(record);
      if (spec === undefined) return false; // [NEW] D-A7: an incomplete template is not met
      const h = history ?? 0;
      const value = perlNumber(record['value']);
      return spec.fn === 'avg'
        ? compare(perlNumber(v), spec.condition, h)
        : compare(h, spec.condition, value);
    }
    case undefined:
      return false;
  }
}
