import type { EventRow, PacketOutcome, StatusWrite } from '../types.js';
import { AGENT_UPSERT, CUSTOM_DATA_UPSERT, agentUpdateRow } from './agent-sql.js';
import { eventStatements } from './event-sql.js';
import { addHistory, emptyHistoryRows, historyStatements } from './history-sql.js';
import { chunks } from './insert-ids.js';
import {
  MODULE_TAGS_INSERT,
  addModuleTags,
  moduleConfigStatements,
  moduleParentStatements,
} from './module-sql.js';
import { fmt } from './sql-values.js';
import { statusUpdateStatements } from './status-sql.js';

/**
 * SQL for the parts of a batch that need no ids back: built as one multi-statement string so the
 * whole tail of a batch (updates, history, events, ledger, COMMIT) is one round trip. Every value
 * goes through mysql2's escaping or sqlLiteral; nothing is interpolated raw. Each table family
 * has its own module (agent-sql, module-sql, status-sql, history-sql, event-sql, ledger-sql);
 * this one walks the outcomes once and puts their statements in dependency order.
 */

/** Rows and statements of every outcome of a batch except the ledger, in dependency order. */
export function outcomeStatements(
  outcomes: readonly PacketOutcome[],
  extraEvents: readonly EventRow[],
): string[] {
  const sql: string[] = [];
  const estado: StatusWrite[] = [];
  const history = emptyHistoryRows();
  const tagRows: unknown[][] = [];
  const customData: unknown[][] = [];
  const events: EventRow[] = [];
  const agentRows: unknown[][] = [];
  for (const o of outcomes) {
    if (o.agentUpdate) agentRows.push(agentUpdateRow(o.agentUpdate));
    addModuleTags(o, tagRows);
    moduleConfigStatements(o, sql);
    for (const w of o.statusWrites) if (!w.insert) estado.push(w);
    addHistory(o, history, sql);
    for (const c of o.customData) customData.push([c.id_field, c.agentRef.id, c.description]);
    moduleParentStatements(o, sql);
    events.push(...o.events);
  }
  events.push(...extraEvents);
  for (const c of chunks(agentRows)) sql.push(fmt(AGENT_UPSERT, [c]));
  sql.push(...statusUpdateStatements(estado));
  historyStatements(history, sql);
  for (const c of chunks(tagRows)) sql.push(fmt(MODULE_TAGS_INSERT, [c]));
  for (const c of chunks(customData)) sql.push(fmt(CUSTOM_DATA_UPSERT, [c]));
  eventStatements(events, sql);
  return sql;
}
