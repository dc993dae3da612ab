/**
 * Perl's numeric reading of text (spec alerts.md §3.3): the longest leading number — optional
 * leading white space, sign, digits, fraction, exponent — or 0 when there is none. Templates
 * compare string data this way, so `"12ab"` is 12 and `"abc"` is 0.
 */
import { textOf } from './record.js';

const LEADING_NUMBER = /^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)/;

export function perlNumber(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? value : 0;
  const m = LEADING_NUMBER.exec(textOf(value));
  return m === null ? 0 : Number(m[1]);
}

/** `dataserver.md` 4.6: a previous value counts as numeric when it is a plain number. */
const PLAIN_NUMBER = /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

export function looksNumeric(text: string): boolean {
  return PLAIN_NUMBER.test(text.replace(',', '.'));
}
