/**
 * The alert record of spec alerts.md §1.3 and typed reads of its columns. The record is what
 * the queue row carries (§5.2), so the reference's column shadowing is reproduced exactly: the
 * template's `id` and `priority` win over the alert row's.
 */
import type { AlertRecord, Row, TemplateType } from './types.js';
import { TEMPLATE_TYPES, WEEKDAYS } from './types.js';

/**
 * Copies `source`'s own columns onto `target`, in order (what `{ ...source }` does). Rows of
 * ~90 columns are dictionary-mode objects in V8, and object spread of those is slow: two
 * spreads per evaluation cost about 1 ms of CPU under load in the capacity-study bench (the
 * largest single cost of alert evaluation); this loop gives the same object 20-40x faster.
 */
function copyColumns(target: Row, source: Row): Row {
  for (const column in source) if (Object.hasOwn(source, column)) target[column] = source[column];
  return target;
}

/** Alert row columns first, template columns over them, plus `id_template_module`. */
export function buildAlertRecord(alertRow: Row, templateRow: Row): AlertRecord {
  const record = copyColumns(copyColumns({}, alertRow), templateRow);
  record['id_template_module'] = Number(alertRow['id']);
  return record as AlertRecord;
}

/**
 * The columns evaluation reads (evaluate.ts, conditions.ts, schedule.ts, counterUpdate, the
 * template-type filter and the incomplete-complex warning). A test checks the list against what
 * those functions actually read.
 */
export const EVALUATION_COLUMNS = [
  'id',
  'type',
  'value',
  'matches_value',
  'max_value',
  'min_value',
  'math_function',
  'condition',
  'time_window',
  'time_threshold',
  'last_reference',
  'times_fired',
  'internal_counter',
  'min_alerts',
  'max_alerts',
  'min_alerts_reset_counter',
  'recovery_notify',
  'special_day',
  'id_group',
  ...WEEKDAYS,
  'holiday',
  'schedule',
  'time_from',
  'time_to',
] as const;

/**
 * The alert record reduced to {@link EVALUATION_COLUMNS}, with the same shadowing as
 * {@link buildAlertRecord}. Most evaluations end in nothing or a count; only a fired, recovered
 * or ceased alert needs the full ~90 columns (for the queue row and events), so the full record
 * is built then ({@link fullAlertRecord}); building it for every evaluation was about half of
 * the evaluation's CPU in the capacity-study bench.
 */
export function evaluationRecord(alertRow: Row, templateRow: Row): AlertRecord {
  const record: Row = {};
  for (const column of EVALUATION_COLUMNS) {
    if (Object.hasOwn(templateRow, column)) record[column] = templateRow[column];
    else if (Object.hasOwn(alertRow, column)) record[column] = alertRow[column];
  }
  record['id_template_module'] = Number(alertRow['id']);
  return record as AlertRecord;
}

/**
 * The full record of an evaluated alert: `alertRow` as it was when evaluated (before its
 * counter update), with the counters the evaluation left in `evaluated` (§3.2 (c) may zero
 * them), exactly what evaluating the full record would have given.
 */
export function fullAlertRecord(alertRow: Row, templateRow: Row, evaluated: Row): AlertRecord {
  const record = buildAlertRecord(alertRow, templateRow);
  for (const column of ['times_fired', 'internal_counter'])
    if (Object.hasOwn(evaluated, column)) record[column] = evaluated[column];
  return record;
}

/** A numeric column; NULL, missing and non-numbers read as 0 (as the reference's Perl does). */
export function alertNumber(record: Row, column: string): number {
  const value = record[column];
  if (value === null || value === undefined || value === '') return 0;
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

/** Scalar column values as text; NULL, missing and non-scalars read as ''. */
export function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  return '';
}

/** A text column; NULL and missing read as ''. */
export function alertText(record: Row, column: string): string {
  return textOf(record[column]);
}

export function templateType(record: Row): TemplateType | undefined {
  const type = record['type'];
  return (TEMPLATE_TYPES as readonly unknown[]).includes(type) ? (type as TemplateType) : undefined;
}

/** The same record with new counter values (§4: the queued record carries them). */
export function withCounters(
  record: AlertRecord,
  timesFired: number,
  internalCounter: number,
): AlertRecord {
  const copy = copyColumns({}, record) as AlertRecord;
  copy['times_fired'] = timesFired;
  copy['internal_counter'] = internalCounter;
  return copy;
}
