/**
 * Status of a stored value (spec §4.7): forced status, numeric thresholds with inverse ranges,
 * `_proc` defaults, percentage thresholds, string regex thresholds, warning escalation.
 */
import { ModuleStatusCode, type ModuleConfig } from '../types.js';
import type { TypeClass } from '../../pandora/index.js';
import { parseNumeric } from './values.js';
import { safeOutput } from '../../pandora/index.js';

const { Normal, Critical, Warning } = ModuleStatusCode;

/** Compiled string thresholds by pattern text; null = not a valid regex (counts as empty). */
const regexCache = new Map<string, RegExp | null>();
const REGEX_CACHE_LIMIT = 10_000;

function compiledThreshold(pattern: string): RegExp | null {
  let regex = regexCache.get(pattern);
  if (regex === undefined) {
    try {
      regex = new RegExp(safeOutput(pattern), 'u');
    } catch {
      regex = null;
    }
    if (regexCache.size >= REGEX_CACHE_LIMIT) regexCache.clear();
    regexCache.set(pattern, regex);
  }
  return regex;
}

/** Whether `pattern` is a usable string threshold (for logging invalid ones once). */
export function isValidStringThreshold(pattern: string): boolean {
  return pattern === '' || compiledThreshold(pattern) !== null;
}

/** Range test shared by critical and warning thresholds. */
function inRange(v: number, min: number, max: number, inverse: boolean): boolean {
  if (min === max) return false;
  return inverse ? v < min || (max >= min && v >= max) : v >= min && (v < max || max < min);
}

/** Percentage thresholds around the previous value: the band of "normal" values. */
function outsidePercentageBand(v: number, prev: number, minPct: number, maxPct: number): boolean {
  if (minPct === 0 && maxPct === 0) return false;
  const low = prev * (1 - minPct / 100);
  const high = prev * (1 + maxPct / 100);
  if (minPct !== 0 && maxPct !== 0) return v < low || v >= high;
  return minPct !== 0 ? v < low : v >= high;
}

function numericStatus(
  v: number,
  config: ModuleConfig,
  type: TypeClass,
  previousDatos: string,
): ModuleStatusCode {
  let cmin = config.minCritical;
  let cmax = config.maxCritical;
  if (type.hasBooleanDefaults && cmin === cmax) {
    cmin = 0;
    cmax = 1;
  }
  const prev =
    config.percentageCritical || config.percentageWarning ? parseNumeric(previousDatos) : undefined;
  if (config.percentageCritical && prev !== undefined) {
    if (outsidePercentageBand(v, prev, cmin, cmax)) return Critical;
  } else if (inRange(v, cmin, cmax, config.criticalInverse)) {
    return Critical;
  }
  if (config.percentageWarning && prev !== undefined) {
    if (outsidePercentageBand(v, prev, config.minWarning, config.maxWarning)) return Warning;
  } else if (inRange(v, config.minWarning, config.maxWarning, config.warningInverse)) {
    return Warning;
  }
  return Normal;
}

function stringMatches(value: string, pattern: string, inverse: boolean): boolean {
  if (pattern === '') return false;
  const regex = compiledThreshold(pattern);
  return regex !== null && regex.test(value) !== inverse;
}

/**
 * status_of of §4.7 for an accepted stored value (before flip-flop). `previousDatos` is the
 * stored value before this datum (percentage thresholds).
 */
export function statusOf(
  value: string,
  config: ModuleConfig,
  type: TypeClass,
  forced: ModuleStatusCode | undefined,
  previousDatos: string,
): ModuleStatusCode {
  if (forced !== undefined) return forced;
  if (type.isString) {
    if (stringMatches(value, config.strCritical, config.criticalInverse)) return Critical;
    if (stringMatches(value, config.strWarning, config.warningInverse)) return Warning;
    return Normal;
  }
  return numericStatus(Number(value), config, type, previousDatos);
}

/**
 * Warning escalation (`warning_time`): consecutive WARNING data while the module is WARNING
 * (or already escalated) count up; past `warning_time` they become CRITICAL.
 */
export function escalateWarning(
  status: ModuleStatusCode,
  knownStatus: number,
  warningCount: number,
  warningTime: number,
): { status: ModuleStatusCode; warningCount: number } {
  if (warningTime <= 0) return { status, warningCount };
  if (status !== Warning) return { status, warningCount: 0 };
  if (knownStatus !== Warning && warningCount <= warningTime) return { status, warningCount };
  const count = Math.min(warningCount + 1, warningTime + 1);
  return { status: count > warningTime ? Critical : Warning, warningCount: count };
}
