/**
 * One `tevento` insert (db/event-row.ts, the columns of `dataserver.md` 5.3) — shared by the ceased event
 * (§4), the warm-up and executor-delay notices, and the events-only execution mode (§5.5).
 * Text columns arrive already in their stored (safe_input) form.
 */
import { eventInsertSql, eventRow } from '../../db/index.js';
import type { SqlStatement } from './apply-sql.js';
import { localDateTimeText } from './clock.js';

export interface AlertEventRow {
  readonly id_agente: number;
  readonly id_grupo: number;
  readonly evento: string;
  readonly event_type: string;
  readonly id_agentmodule: number;
  readonly id_alert_am: number;
  readonly criticity: number;
  readonly tags: string;
  readonly source: string;
  readonly id_extra: string;
  readonly critical_instructions: string;
  readonly warning_instructions: string;
  readonly unknown_instructions: string;
  readonly custom_data: string;
  readonly data: string;
  readonly module_status: number;
}

/** tevento.data is TINYTEXT: cut to 255 bytes on a character boundary. */
export function truncateBytes(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  let out = '';
  for (const ch of text) {
    if (Buffer.byteLength(out + ch) > max) break;
    out += ch;
  }
  return out;
}

export function insertEventSql(e: AlertEventRow, now: number): SqlStatement {
  const { evento, ...rest } = e;
  return eventInsertSql(
    eventRow({
      ...rest,
      evento,
      data: truncateBytes(e.data, 255),
      at: { timestamp: localDateTimeText(now), utimestamp: now },
    }),
  );
}
