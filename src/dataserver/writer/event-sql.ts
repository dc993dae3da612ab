import type { EventRow } from '../types.js';
import { chunks } from './insert-ids.js';
import { fmt } from './sql-values.js';

/** SQL for tevento: auto-validation of older events, then the new rows. */

const EVENT_COLUMNS = [
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
] as const;

const EVENT_INSERT = `INSERT INTO tevento (${EVENT_COLUMNS.map((c) => `\`${c}\``).join(', ')}) VALUES ?`;

function eventRow(e: EventRow): unknown[] {
  return [
    e.agentRef?.id ?? 0,
    e.id_grupo,
    e.evento,
    e.timestamp,
    e.utimestamp,
    e.estado,
    e.event_type,
    e.moduleRef?.id ?? 0,
    0,
    e.criticity,
    e.tags,
    e.source,
    '',
    '',
    e.critical_instructions,
    e.warning_instructions,
    e.unknown_instructions,
    e.ack_utimestamp,
    '',
    e.data,
    e.module_status < 0 ? 0 : e.module_status,
  ];
}

/** The events of a batch, appended to `sql`. */
export function eventStatements(events: readonly EventRow[], sql: string[]): void {
  // Auto-validation must precede the new events (spec §7); one outcome per agent per batch, so
  // validating every affected module once before the insert equals doing it event by event.
  const validate = new Map<number, number[]>();
  for (const e of events) {
    if (!e.autoValidate || !e.moduleRef) continue;
    const modules = validate.get(e.utimestamp) ?? [];
    if (modules.length === 0) validate.set(e.utimestamp, modules);
    modules.push(e.moduleRef.id);
  }
  for (const [ack, modules] of validate) {
    for (const c of chunks(modules)) {
      sql.push(
        fmt(
          'UPDATE tevento SET estado = 1, ack_utimestamp = ? WHERE estado = 0 AND id_agentmodule IN (?)',
          [ack, c],
        ),
      );
    }
  }
  for (const c of chunks(events.map(eventRow))) sql.push(fmt(EVENT_INSERT, [c]));
}
