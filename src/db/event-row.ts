/**
 * The one shape of the `tevento` rows tentacle-ingest writes (dataserver.md §5.3): the column
 * list, what a column holds when a writer says nothing, how the text is stored (`safe_input`,
 * fitted to the column) and where the time comes from (the server's clock as local DATETIME
 * text + epoch, or the database clock). The dataserver's batch, HA's no-master notice and
 * unknown detection all build their rows here, so their columns cannot drift apart.
 */
import { safeInput } from '../pandora/index.js';
import { COLUMN_LIMITS, fitEncodedToColumn } from './column-limits.js';

/** A value the database computes (its clock, a column of the SELECT an insert reads from). */
export interface SqlExpression {
  readonly sql: string;
  /** Bound to the `?` in `sql`, in order. */
  readonly params: readonly unknown[];
}

export function sqlExpression(sql: string, ...params: unknown[]): SqlExpression {
  return { sql, params };
}

/** A column's value: bound as a parameter, stored as NULL, or computed by the database. */
export type EventValue = string | number | null | SqlExpression;

export const EVENT_COLUMNS = [
  'id_agente',
  'id_grupo',
  'evento',
  'timestamp',
  'utimestamp',
  'estado',
  'event_type',
  'id_agentmodule',
  'id_alert_am',
  'criticity',
  'tags',
  'source',
  'id_extra',
  'id_usuario',
  'critical_instructions',
  'warning_instructions',
  'unknown_instructions',
  'ack_utimestamp',
  'custom_data',
  'data',
  'module_status',
  'event_custom_id',
] as const;

export type EventColumn = (typeof EVENT_COLUMNS)[number];
export type EventFields = { readonly [C in EventColumn]: EventValue };

/** Events of the server itself carry this source. */
export const EVENT_SOURCE = 'monitoring_server';

/** What a column holds when the writer says nothing (unlike some of the table's defaults). */
const EVENT_DEFAULTS = {
  id_agente: 0,
  id_grupo: 0,
  estado: 0,
  id_agentmodule: 0,
  id_alert_am: 0,
  criticity: 0,
  tags: '',
  source: EVENT_SOURCE,
  id_extra: '',
  id_usuario: '',
  critical_instructions: '',
  warning_instructions: '',
  unknown_instructions: '',
  ack_utimestamp: 0,
  custom_data: '',
  data: '',
  module_status: 0,
  event_custom_id: '',
} as const satisfies Partial<EventFields>;

/** When an event happened: the server's clock (local DATETIME text and epoch) or the DB's. */
export type EventTime =
  { readonly timestamp: string; readonly utimestamp: number } | typeof DB_CLOCK;

/** `NOW()` and `UNIX_TIMESTAMP()`: HA stamps its events on the clock it compares leases with. */
export const DB_CLOCK = {
  timestamp: sqlExpression('NOW()'),
  utimestamp: sqlExpression('UNIX_TIMESTAMP()'),
} as const;

/** What a writer says about an event; every other column takes its default. */
export type EventSpec = Partial<Omit<EventFields, 'evento' | 'timestamp' | 'utimestamp'>> & {
  /** The stored text: `eventText(plain)`, or SQL that yields stored text. */
  readonly evento: string | SqlExpression;
  readonly event_type: EventValue;
  readonly at: EventTime;
};

/** Plain text as `tevento.evento` stores it: `safe_input`, cut to the column. */
export function eventText(plain: string): string {
  return fitEncodedToColumn(safeInput(plain), COLUMN_LIMITS.tevento.evento);
}

/** A column the spec leaves unsaid takes its default (an explicit `null` stays NULL). */
function given(spec: EventSpec, column: keyof typeof EVENT_DEFAULTS): EventValue {
  const value = spec[column];
  return value === undefined ? EVENT_DEFAULTS[column] : value;
}

export function eventRow(spec: EventSpec): EventFields {
  // Written out column by column: the batch builds one per event, and a rest/spread copy made
  // every row a slow dictionary object (issue 16: the steady packet's cost).
  return {
    id_agente: given(spec, 'id_agente'),
    id_grupo: given(spec, 'id_grupo'),
    evento: spec.evento,
    timestamp: spec.at.timestamp,
    utimestamp: spec.at.utimestamp,
    estado: given(spec, 'estado'),
    event_type: spec.event_type,
    id_agentmodule: given(spec, 'id_agentmodule'),
    id_alert_am: given(spec, 'id_alert_am'),
    criticity: given(spec, 'criticity'),
    tags: given(spec, 'tags'),
    source: given(spec, 'source'),
    id_extra: given(spec, 'id_extra'),
    id_usuario: given(spec, 'id_usuario'),
    critical_instructions: given(spec, 'critical_instructions'),
    warning_instructions: given(spec, 'warning_instructions'),
    unknown_instructions: given(spec, 'unknown_instructions'),
    ack_utimestamp: given(spec, 'ack_utimestamp'),
    custom_data: given(spec, 'custom_data'),
    data: given(spec, 'data'),
    module_status: given(spec, 'module_status'),
    event_custom_id: given(spec, 'event_custom_id'),
  };
}

/** The row's values in `EVENT_COLUMNS` order (for a multi-row `VALUES ?`; literals only). */
export function eventValues(row: EventFields): EventValue[] {
  return EVENT_COLUMNS.map((c) => row[c]);
}

/** `INSERT INTO tevento (<every column>)`, the head of every event insert. */
export const EVENT_INSERT_HEAD = `INSERT INTO tevento (${EVENT_COLUMNS.map((c) => `\`${c}\``).join(', ')})`;

function isExpression(value: EventValue): value is SqlExpression {
  return typeof value === 'object' && value !== null;
}

/**
 * One row's insert: `VALUES (…)`, or with `from`, `SELECT … <from>` (one row per row selected,
 * the expressions reading its columns). Literals are bound as parameters.
 */
export function eventInsertSql(
  row: EventFields,
  from?: SqlExpression,
): { sql: string; values: unknown[] } {
  const values: unknown[] = [];
  const exprs = EVENT_COLUMNS.map((c) => {
    const value = row[c];
    if (!isExpression(value)) {
      values.push(value);
      return '?';
    }
    values.push(...value.params);
    return value.sql;
  });
  if (from === undefined)
    return { sql: `${EVENT_INSERT_HEAD} VALUES (${exprs.join(', ')})`, values };
  values.push(...from.params);
  return { sql: `${EVENT_INSERT_HEAD} SELECT ${exprs.join(', ')} ${from.sql}`, values };
}
