/**
 * Raw datum → stored value (spec §4.6). The stored string is what compaction compares, so the
 * number formatting must be byte-identical to the reference's C printf("%.5f").
 */
import type { IncrementalSample, ModuleConfig } from '../types.js';
import type { TypeClass } from '../../pandora/index.js';

/** D-6: after ',' → '.' and trimming, only plain decimal/exponent numbers (no inf/nan/hex). */
const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The number a raw datum stands for, or undefined when it is not numeric. */
export function parseNumeric(raw: string): number | undefined {
  const text = raw.replace(',', '.').trim();
  if (!NUMERIC.test(text)) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

const BIG_FIXED_LIMIT = 1e21;

/**
 * C `printf("%.<digits>f")`: the exact binary value rounded half-to-even, never an exponent.
 * `toFixed` is exact too except that it breaks exact ties upwards and switches to exponent
 * form at 1e21; both cases are handled here.
 */
export function formatFixed(value: number, digits: number): string {
  if (!Number.isFinite(value)) return String(value);
  const negativeZero = value === 0 && Object.is(value, -0);
  if (Math.abs(value) >= BIG_FIXED_LIMIT) {
    // Every double this large is an integer.
    const integer = BigInt(value).toString();
    return digits > 0 ? `${integer}.${'0'.repeat(digits)}` : integer;
  }
  const fixed = value.toFixed(digits);
  const scaled = value * 10 ** (digits + 1);
  // An exact tie needs value·10^(digits+1) to be an integer ending in 5 (cheap pre-filter).
  if (Number.isInteger(scaled) && Math.abs(scaled % 10) === 5) {
    const fixedTie = roundTieToEven(value, digits);
    if (fixedTie !== undefined) return fixedTie;
  }
  return negativeZero ? `-${fixed}` : fixed;
}

/** Resolves an exact decimal tie to even; undefined when `value` is not exactly a tie. */
function roundTieToEven(value: number, digits: number): string | undefined {
  const long = value.toFixed(Math.min(100, digits + 40));
  const point = long.indexOf('.');
  const tail = long.slice(point + digits + 1);
  if (!/^50*$/.test(tail)) return undefined;
  const truncated = digits > 0 ? long.slice(0, point + digits + 1) : long.slice(0, point);
  const lastDigit = truncated.charCodeAt(truncated.length - 1) - 0x30;
  return lastDigit % 2 === 0 ? truncated : value.toFixed(digits);
}

/** %.5f as stored in tagente_estado.datos / tagente_datos. */
export function formatStored(value: number): string {
  return formatFixed(value, 5);
}

/** §4.6 within_min_max: equal bounds accept all; one-sided bounds when max < min. */
export function withinMinMax(value: number, min: number, max: number): boolean {
  if (min === max) return true;
  if (value >= min && value <= max) return true;
  if (max < min) return !((max === 0 && value < min) || (min === 0 && value > max));
  return false;
}

function postProcess(value: number, factor: number): number {
  return factor !== 0 ? value * factor : value;
}

/** Result of `processData`; `value` undefined = REJECT. */
export interface DataResult {
  readonly value: string | undefined;
  /** tagente_datos_inc after this datum (same object when untouched). */
  readonly inc: IncrementalSample | undefined;
  /** A counter reset: the reference refreshes tagente_estado.utimestamp. */
  readonly counterReset: boolean;
}

const REJECT_UNCHANGED = (inc: IncrementalSample | undefined): DataResult => ({
  value: undefined,
  inc,
  counterReset: false,
});

/** process_data of spec §4.6 (log4x is obsolete and treated as numeric severity text). */
export function processData(
  raw: string | undefined,
  config: ModuleConfig,
  type: TypeClass,
  epoch: number,
  inc: IncrementalSample | undefined,
): DataResult {
  if (raw === undefined) return REJECT_UNCHANGED(inc);
  if (type.isString) return { value: raw === '' ? undefined : raw, inc, counterReset: false };
  const v = parseNumeric(raw);
  if (v === undefined) return REJECT_UNCHANGED(inc);
  if (type.isIncremental) return incremental(v, config, type.isIncrementalAbsolute, epoch, inc);
  const processed = postProcess(v, config.postProcess);
  // Overflow (1e300 × 1e300): no DOUBLE column holds it; rejected like any non-number.
  if (!Number.isFinite(processed)) return REJECT_UNCHANGED(inc);
  if (!withinMinMax(processed, config.min, config.max)) return REJECT_UNCHANGED(inc);
  return { value: formatStored(processed), inc, counterReset: false };
}

/** `_inc` (rate per second) and `_inc_abs` (absolute delta) against tagente_datos_inc. */
function incremental(
  v: number,
  config: ModuleConfig,
  absolute: boolean,
  epoch: number,
  previous: IncrementalSample | undefined,
): DataResult {
  const sample: IncrementalSample = { datos: v, utimestamp: epoch };
  if (previous === undefined) return { value: undefined, inc: sample, counterReset: false };
  if (!absolute && epoch <= previous.utimestamp) return REJECT_UNCHANGED(previous);
  if (v < previous.datos) return { value: undefined, inc: sample, counterReset: true };
  if (absolute && epoch === previous.utimestamp) return REJECT_UNCHANGED(previous);
  const delta = v - previous.datos;
  const result = postProcess(
    absolute ? delta : delta / (epoch - previous.utimestamp),
    config.postProcess,
  );
  if (!Number.isFinite(result) || !withinMinMax(result, config.min, config.max)) {
    return { value: undefined, inc: sample, counterReset: false };
  }
  return { value: formatStored(result), inc: sample, counterReset: false };
}
