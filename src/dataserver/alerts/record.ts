/**
 * The alert record of spec alerts.md §1.3 and typed reads of its columns. The record is what
 * the queue row carries (§5.2), so the reference's column shadowing is reproduced exactly: the
 * template's `id` and `priority` win over the alert row's.
 */
import type { AlertRecord, Row, TemplateType } from './types.js';
import { TEMPLATE_TYPES } from './types.js';

/** Alert row columns first, template columns over them, plus `id_template_module`. */
export function buildAlertRecord(alertRow: Row, templateRow: Row): AlertRecord {
  return { ...alertRow, ...templateRow, id_template_module: Number(alertRow['id']) };
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
  return { ...record, times_fired: timesFired, internal_counter: internalCounter };
}
