/**
 * A batch's alert writes, held back and sent with the batch's COMMIT (alerts.md §2.1 step 6,
 * D-A1, D-A8: same transaction as the data, so a crash never fires twice nor loses a firing).
 *
 * Sequential evaluation sent 2–4 statements per alerted datum, each its own round trip; here
 * every counter change of the batch becomes one multi-row UPDATE (the last values per alert,
 * since §4 writes absolute counters), every queue row one multi-row INSERT in evaluation order,
 * and the agents' `update_alert_count` flags one UPDATE. Other writes (events, action links)
 * keep their order. Any read through the connection sends the held writes first, so a read
 * sees exactly what sequential evaluation would have written before it.
 */
import mysql from 'mysql2/promise';
import type { AlertConnection, CounterUpdate, SqlStatement } from './apply-sql.js';

const COUNTER_COLUMNS = [
  'times_fired',
  'internal_counter',
  'last_fired',
  'last_reference',
] as const satisfies readonly (keyof CounterUpdate)[];

export class DeferredAlertWrites {
  private readonly counters = new Map<number, CounterUpdate>();
  private readonly queueRows: [data: string, utimestamp: number][] = [];
  private readonly flaggedAgents = new Set<number>();
  private readonly others: SqlStatement[] = [];

  get isEmpty(): boolean {
    return (
      this.counters.size === 0 &&
      this.queueRows.length === 0 &&
      this.flaggedAgents.size === 0 &&
      this.others.length === 0
    );
  }

  /** Absolute counter values for one alert; a later update of the same alert wins per column. */
  counter(alertId: number, update: CounterUpdate): void {
    this.counters.set(alertId, { ...this.counters.get(alertId), ...update });
  }

  queueRow(data: string, utimestamp: number): void {
    this.queueRows.push([data, utimestamp]);
  }

  flagAgent(agentId: number): void {
    this.flaggedAgents.add(agentId);
  }

  statement(statement: SqlStatement): void {
    this.others.push(statement);
  }

  /** The held writes as formatted SQL, one statement per entry; the buffer is emptied. */
  take(): string[] {
    const out = this.others.map((s) => mysql.format(s.sql, s.values as mysql.SqlValue[]));
    if (this.counters.size > 0) out.push(countersSql(this.counters));
    if (this.queueRows.length > 0)
      out.push(
        mysql.format('INSERT INTO talert_execution_queue (`data`, `utimestamp`) VALUES ?', [
          this.queueRows,
        ]),
      );
    if (this.flaggedAgents.size > 0)
      out.push(
        mysql.format('UPDATE tagente SET update_alert_count = 1 WHERE id_agente IN (?)', [
          [...this.flaggedAgents],
        ]),
      );
    this.counters.clear();
    this.queueRows.length = 0;
    this.flaggedAgents.clear();
    this.others.length = 0;
    return out;
  }
}

/**
 * One UPDATE for many alerts: each column takes a CASE over the ids that set it and keeps its
 * value elsewhere (an update may set only some columns, e.g. a counter reset).
 */
function countersSql(counters: ReadonlyMap<number, CounterUpdate>): string {
  const sets: string[] = [];
  for (const column of COUNTER_COLUMNS) {
    const cases: string[] = [];
    for (const [id, update] of counters) {
      const value = update[column];
      if (value !== undefined) cases.push(mysql.format('WHEN ? THEN ?', [id, value]));
    }
    if (cases.length > 0)
      sets.push(`\`${column}\` = CASE id ${cases.join(' ')} ELSE \`${column}\` END`);
  }
  return mysql.format(`UPDATE talert_template_modules SET ${sets.join(', ')} WHERE id IN (?)`, [
    [...counters.keys()],
  ]);
}

/**
 * The batch's connection for the alert engine: writes go to `deferred`, reads first send what
 * is held (one extra round trip, only on the rare paths that read mid-batch: cascade
 * protection, complex templates, ceased events' tags, events-only execution).
 */
export function deferringConnection(
  conn: AlertConnection,
  deferred: DeferredAlertWrites,
): AlertConnection {
  const query = async (...args: Parameters<AlertConnection['query']>) => {
    if (!deferred.isEmpty) await conn.query(deferred.take().join(';\n'));
    return conn.query(...args);
  };
  return { query: query as AlertConnection['query'], deferred };
}
