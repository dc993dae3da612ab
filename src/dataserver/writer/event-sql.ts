import { EVENT_INSERT_HEAD, eventRow, eventValues, type EventValue } from '../../db/index.js';
import type { EventRow } from '../types.js';
import { chunks } from './insert-ids.js';
import { fmt } from './sql-values.js';

/** SQL for tevento: auto-validation of older events, then the new rows. */

const EVENT_INSERT = `${EVENT_INSERT_HEAD} VALUES ?`;

/** The row of an event whose agent and module ids are known by now (after the inserts). */
function eventRowValues(e: EventRow): EventValue[] {
  return eventValues(
    eventRow({
      id_agente: e.agentRef?.id ?? 0,
      id_grupo: e.id_grupo,
      evento: e.evento,
      at: { timestamp: e.timestamp, utimestamp: e.utimestamp },
      estado: e.estado,
      event_type: e.event_type,
      id_agentmodule: e.moduleRef?.id ?? 0,
      criticity: e.criticity,
      tags: e.tags,
      source: e.source,
      critical_instructions: e.critical_instructions,
      warning_instructions: e.warning_instructions,
      unknown_instructions: e.unknown_instructions,
      ack_utimestamp: e.ack_utimestamp,
      data: e.data,
      module_status: e.module_status < 0 ? 0 : e.module_status,
      // NULL (the table's default), as the dataserver has always stored it.
      event_custom_id: null,
    }),
  );
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
  for (const c of chunks(events.map(eventRowValues))) sql.push(fmt(EVENT_INSERT, [c]));
}
