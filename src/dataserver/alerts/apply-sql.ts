/**
 * The writes each result code implies (spec alerts.md §4), as SQL builders run on the caller's
 * connection inside the datum's transaction (D-A1, D-A8): counter updates, the agent's
 * `update_alert_count` flag, the "Alert ceased" event and the execution queue row.
 */
import type mysql from 'mysql2/promise';
import { safeInput, safeOutput } from '../../pandora/index.js';
import type { DeferredAlertWrites } from './deferred-writes.js';
import { insertEventSql } from './event-sql.js';
import { alertNumber, alertText } from './record.js';
import { AlertResult, type AlertResultCode, type Evaluation } from './types.js';

/**
 * Any connection the batch holds (a pool connection inside a transaction). With `deferred`
 * (the batch path, deferred-writes.ts) writes are held and sent with the batch's COMMIT.
 */
export type AlertConnection = Pick<mysql.Connection, 'query'> & {
  readonly deferred?: DeferredAlertWrites;
};

export interface SqlStatement {
  readonly sql: string;
  readonly values: unknown[];
}

export interface CounterUpdate {
  readonly times_fired?: number;
  readonly internal_counter: number;
  readonly last_fired?: number;
  readonly last_reference?: number;
}

/**
 * §4: the absolute counter values to write for `evaluation` at `now`, or undefined (rc 1).
 * The counters are those of the record after §3.2 (c), read under a row lock (D-A1).
 */
export function counterUpdate(evaluation: Evaluation, now: number): CounterUpdate | undefined {
  const tf = alertNumber(evaluation.record, 'times_fired');
  const ic = alertNumber(evaluation.record, 'internal_counter');
  const reference = ic === 0 ? { last_reference: now } : {};
  switch (evaluation.rc) {
    case AlertResult.Nothing:
      return undefined;
    case AlertResult.ResetCounter:
      return { internal_counter: 0 };
    case AlertResult.Count:
      return { times_fired: tf, internal_counter: ic + 1, ...reference };
    case AlertResult.Fire:
      return { times_fired: tf + 1, last_fired: now, internal_counter: ic + 1, ...reference };
    case AlertResult.Cease:
    case AlertResult.Recover:
      return { times_fired: 0, internal_counter: 0 };
  }
}

export function counterUpdateSql(alertId: number, update: CounterUpdate): SqlStatement {
  const columns = Object.keys(update) as (keyof CounterUpdate)[];
  return {
    sql: `UPDATE talert_template_modules SET ${columns.map((c) => `\`${c}\` = ?`).join(', ')} WHERE id = ?`,
    values: [...columns.map((c) => update[c]), alertId],
  };
}

/**
 * D-A6: `tagente.update_alert_count` is raised only when the alert's fired state flips
 * (times_fired between 0 and > 0), not on every datum of a fired recovery-notify alert.
 */
export function flipsFiredState(lockedTimesFired: number, update: CounterUpdate | undefined) {
  if (update?.times_fired === undefined) return false;
  return lockedTimesFired > 0 !== update.times_fired > 0;
}

export function flagAlertCountSql(agentId: number): SqlStatement {
  return {
    sql: 'UPDATE tagente SET update_alert_count = 1 WHERE id_agente = ?',
    values: [agentId],
  };
}

export function queueInsertSql(data: string, now: number): SqlStatement {
  return {
    sql: 'INSERT INTO talert_execution_queue (`data`, `utimestamp`) VALUES (?, ?)',
    values: [data, now],
  };
}

/** What a ceased event needs from the module besides the alert record. */
export interface CeasedEventContext {
  readonly agentId: number;
  readonly groupId: number;
  readonly moduleId: number;
  /** This datum's stored value (`tagente_estado.datos` after it). */
  readonly data: string;
  readonly moduleStatus: number;
  readonly instructions: {
    readonly critical: string;
    readonly warning: string;
    readonly unknown: string;
  };
  /** Module tag names joined by `,` ('' when none). */
  readonly tags: string;
  readonly now: number;
}

/**
 * §4 "Ceased event" (rc 3), written by the data server even when execution is queued; the
 * caller skips it for quiet agents/modules and templates with `disable_event = 1`.
 */
export function ceasedEventSql(
  record: Evaluation['record'],
  ctx: CeasedEventContext,
): SqlStatement {
  return insertEventSql(
    {
      id_agente: ctx.agentId,
      id_grupo: ctx.groupId,
      evento: safeInput(`Alert ceased (${safeOutput(alertText(record, 'name'))})`),
      event_type: 'alert_ceased',
      id_agentmodule: ctx.moduleId,
      id_alert_am: record.id_template_module,
      criticity: alertNumber(record, 'priority'),
      tags: ctx.tags,
      source: 'monitoring_server',
      id_extra: '',
      critical_instructions: ctx.instructions.critical,
      warning_instructions: ctx.instructions.warning,
      unknown_instructions: ctx.instructions.unknown,
      custom_data: '',
      data: safeInput(ctx.data),
      module_status: ctx.moduleStatus,
    },
    ctx.now,
  );
}

export async function run(conn: AlertConnection, statement: SqlStatement): Promise<void> {
  if (conn.deferred !== undefined) conn.deferred.statement(statement);
  else await conn.query(statement.sql, statement.values);
}

export async function writeCounters(
  conn: AlertConnection,
  alertId: number,
  update: CounterUpdate,
): Promise<void> {
  if (conn.deferred !== undefined) conn.deferred.counter(alertId, update);
  else await run(conn, counterUpdateSql(alertId, update));
}

export async function writeQueueRow(conn: AlertConnection, data: string, now: number) {
  if (conn.deferred !== undefined) conn.deferred.queueRow(data, now);
  else await run(conn, queueInsertSql(data, now));
}

export async function flagAlertCount(conn: AlertConnection, agentId: number): Promise<void> {
  if (conn.deferred !== undefined) conn.deferred.flagAgent(agentId);
  else await run(conn, flagAlertCountSql(agentId));
}

/** rc values that produce an execution (queue row or inline events). */
export function executes(rc: AlertResultCode): boolean {
  return rc === AlertResult.Fire || rc === AlertResult.Recover;
}
