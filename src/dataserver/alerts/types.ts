/**
 * The alert model of spec alerts.md §1 and the inputs/outputs of one evaluation (§3).
 *
 * A database row is kept as a plain column → value object (`Row`): the queue payload (§5.2)
 * carries every column by name, so the record must keep columns we do not otherwise read.
 */

/** One database row by column name, as mysql2 returns it (DATETIME/DATE/TIME as strings). */
export type Row = Record<string, unknown>;

export const TEMPLATE_TYPES = [
  'regex',
  'max_min',
  'max',
  'min',
  'equal',
  'not_equal',
  'warning',
  'critical',
  'onchange',
  'unknown',
  'always',
  'not_normal',
  'complex',
] as const;
export type TemplateType = (typeof TEMPLATE_TYPES)[number];

/** §3.1 result codes. */
export const AlertResult = {
  Fire: 0,
  Nothing: 1,
  Count: 2,
  Cease: 3,
  Recover: 4,
  ResetCounter: 5,
} as const;
export type AlertResultCode = (typeof AlertResult)[keyof typeof AlertResult];

/**
 * The alert record of §1.3: every `talert_template_modules` column, then every
 * `talert_templates` column over it (the template's `id` and `priority` win), plus
 * `id_template_module`. Typed accessors are in record.ts.
 */
export type AlertRecord = Row & { readonly id_template_module: number };

/** What one datum contributes to an evaluation (§2.1 step 6). */
export interface AlertDatum {
  /** The stored form: `%.5f` text for numeric modules, raw text for string modules. */
  readonly value: string;
  /** The module's new `estado` (after flip-flop, NOT-INIT and UNKNOWN handling). */
  readonly status: number;
  /** Data epoch `u` (seconds). */
  readonly utimestamp: number;
  /** `tagente_estado.datos` before this datum ('' for a new module). */
  readonly previousValue: string;
}

/** The clock an evaluation runs under: server now and its local calendar fields. */
export interface AlertClock {
  /** Server wall clock, whole seconds. */
  readonly now: number;
  /** Local weekday name of now (`sunday`..`saturday`). */
  readonly weekday: Weekday;
  /** Local `HH:MM:SS` of now. */
  readonly hms: string;
  /** Local `YYYY-MM-DD` of now. */
  readonly date: string;
}

export const WEEKDAYS = [
  'sunday',
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface Evaluation {
  readonly rc: AlertResultCode;
  /** The record after §3.2 (c): counters possibly zeroed by the window end. */
  readonly record: AlertRecord;
  /** §3.2 asks for `tagente.update_alert_count = 1` (rc 0, or the window logic gave 3/4). */
  readonly touchesAlertCount: boolean;
}
