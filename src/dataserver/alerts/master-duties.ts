/**
 * The alert side of master duties (spec alerts.md §2.4, `ha.md` 2.7), for when our master
 * replaces the Perl one: forced executions are queued with `forced = 1` instead of executed,
 * and `fired_count` is recomputed for flagged agents. (The unknown path is
 * `AlertEngine.evaluateUnknown`.) Each runs in one transaction on the caller's connection.
 */
import type mysql from 'mysql2/promise';
import { run, queueInsertSql, type AlertConnection } from './apply-sql.js';
import type { AlertDefinitions } from './definitions.js';
import { encodeQueuePayload, QueueMode } from './queue-row.js';
import { buildAlertRecord } from './record.js';
import type { Row } from './types.js';

async function rowsOf(conn: AlertConnection, sql: string, values: unknown[] = []) {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(sql, values);
  return rows as Row[];
}

/**
 * Alerts with `force_execution = 1` (disabled ones too): one fired-mode row each with value
 * `N/A`, no timestamp, `forced = 1`, no macros; counters unchanged; the flag cleared.
 */
export async function queueForcedExecutions(
  conn: AlertConnection,
  defs: AlertDefinitions,
  now: number,
): Promise<number> {
  // A plain read first: the locking one scans every alert row, which batches hold.
  const flagged = await rowsOf(
    conn,
    'SELECT id FROM talert_template_modules WHERE force_execution = 1',
  );
  if (flagged.length === 0) return 0;
  const alerts = await rowsOf(
    conn,
    'SELECT * FROM talert_template_modules WHERE id IN (?) AND force_execution = 1 ORDER BY id FOR UPDATE',
    [flagged.map((r) => r['id'])],
  );
  let queued = 0;
  for (const alert of alerts) {
    const template = defs.templates.get(Number(alert['id_alert_template']));
    const [module] = await rowsOf(conn, 'SELECT * FROM tagente_modulo WHERE id_agente_modulo = ?', [
      alert['id_agent_module'],
    ]);
    const [agent] = module
      ? await rowsOf(conn, 'SELECT * FROM tagente WHERE id_agente = ?', [module['id_agente']])
      : [];
    if (template !== undefined && module !== undefined && agent !== undefined) {
      const data = encodeQueuePayload({
        value: 'N/A',
        agent,
        module,
        forcedStatus: null,
        alert: buildAlertRecord(alert, template),
        mode: QueueMode.Fired,
        timestamp: null,
        forced: 1,
        macros: null,
      });
      await run(conn, queueInsertSql(data, now));
      queued++;
    }
    await run(conn, {
      sql: 'UPDATE talert_template_modules SET force_execution = 0 WHERE id = ?',
      values: [alert['id']],
    });
  }
  return queued;
}

/** `fired_count` of agents with `update_alert_count = 1`, then the flag cleared. */
export async function recomputeFiredCounts(conn: AlertConnection): Promise<number> {
  // A plain read first, then primary-key updates: a scanning UPDATE would wait on every agent
  // row a batch holds (new agents included), and hold the master's fenced transaction with it.
  const flagged = await rowsOf(conn, 'SELECT id_agente FROM tagente WHERE update_alert_count = 1');
  if (flagged.length === 0) return 0;
  const [result] = await conn.query<mysql.ResultSetHeader>(
    'UPDATE tagente a SET a.fired_count = (' +
      ' SELECT COUNT(*) FROM talert_template_modules t' +
      ' JOIN tagente_modulo m ON m.id_agente_modulo = t.id_agent_module' +
      ' WHERE m.id_agente = a.id_agente AND t.times_fired > 0 AND t.disabled = 0 AND m.disabled = 0),' +
      ' a.update_alert_count = 0 WHERE a.id_agente IN (?) AND a.update_alert_count = 1',
    [flagged.map((r) => r['id_agente'])],
  );
  return result.affectedRows;
}
