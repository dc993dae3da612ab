/**
 * The capacity study's alert scenario (alerts.md §9) on a Pandora database whose agents and
 * modules exist (after the creation pass): the seeded template 1 "Critical condition" on the
 * first `perAgent` critical-capable `generic_data` modules of every agent, each with the seeded
 * action 3 "Monitoring Event" (an event, never mail), and the counts a pass leaves behind.
 * Plain SQL, so it works on any Pandora database, ours or the Perl reference's.
 */
import type mysql from 'mysql2/promise';

/** Seeded template 1 "Critical condition" (type critical, priority 4). */
export const CRITICAL_TEMPLATE_ID = 1;
/** Seeded action 3 "Monitoring Event" (command 3): creates an event, sends nothing. */
export const EVENT_ACTION_ID = 3;

export interface AlertSetupCounts {
  /** Agents in the database. */
  readonly agents: number;
  /** Agents that got at least one alert. */
  readonly agentsWithAlerts: number;
  /** `talert_template_modules` rows on the critical template. */
  readonly alerts: number;
  /** `talert_template_module_actions` rows attaching the event action to them. */
  readonly actions: number;
}

type Queryable = Pick<mysql.Connection, 'query'>;

async function count(db: Queryable, sql: string, values: unknown[] = []): Promise<number> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(sql, values);
  return Number(rows[0]?.['n'] ?? 0);
}

/**
 * Attaches the alerts (idempotent: an agent's modules already carrying the template keep their
 * one row, the unique key of `talert_template_modules`) and returns what exists afterwards.
 */
export async function setupCapacityStudyAlerts(
  db: Queryable,
  perAgent: number,
): Promise<AlertSetupCounts> {
  // A module is critical-capable when it has a critical range (min_critical <> max_critical).
  await db.query(
    `INSERT IGNORE INTO talert_template_modules (id_agent_module, id_alert_template, last_reference)
     SELECT id_agente_modulo, ?, UNIX_TIMESTAMP() FROM (
       SELECT m.id_agente_modulo,
              ROW_NUMBER() OVER (PARTITION BY m.id_agente ORDER BY m.id_agente_modulo) AS rn
       FROM tagente_modulo m JOIN ttipo_modulo t ON t.id_tipo = m.id_tipo_modulo
       WHERE t.nombre = 'generic_data' AND m.delete_pending = 0
         AND m.min_critical <> m.max_critical) x
     WHERE rn <= ?`,
    [CRITICAL_TEMPLATE_ID, perAgent],
  );
  await db.query(
    `INSERT INTO talert_template_module_actions (id_alert_template_module, id_alert_action)
     SELECT a.id, ? FROM talert_template_modules a
     WHERE a.id_alert_template = ? AND NOT EXISTS (
       SELECT 1 FROM talert_template_module_actions x
       WHERE x.id_alert_template_module = a.id AND x.id_alert_action = ?)`,
    [EVENT_ACTION_ID, CRITICAL_TEMPLATE_ID, EVENT_ACTION_ID],
  );
  return {
    agents: await count(db, 'SELECT COUNT(*) AS n FROM tagente'),
    agentsWithAlerts: await count(
      db,
      `SELECT COUNT(DISTINCT m.id_agente) AS n FROM talert_template_modules a
       JOIN tagente_modulo m ON m.id_agente_modulo = a.id_agent_module
       WHERE a.id_alert_template = ?`,
      [CRITICAL_TEMPLATE_ID],
    ),
    alerts: await count(
      db,
      'SELECT COUNT(*) AS n FROM talert_template_modules WHERE id_alert_template = ?',
      [CRITICAL_TEMPLATE_ID],
    ),
    actions: await count(
      db,
      `SELECT COUNT(*) AS n FROM talert_template_module_actions x
       JOIN talert_template_modules a ON a.id = x.id_alert_template_module
       WHERE a.id_alert_template = ? AND x.id_alert_action = ?`,
      [CRITICAL_TEMPLATE_ID, EVENT_ACTION_ID],
    ),
  };
}

/** What the alerts left in the database so far (no Alert Server drains the queue here). */
export interface AlertTableCounts {
  /** `talert_execution_queue` rows (each one fired or recovered alert for the Alert Server). */
  readonly queueRows: number;
  /** Alerts currently fired (`times_fired > 0`). */
  readonly firedAlerts: number;
}

export async function readAlertTableCounts(db: Queryable): Promise<AlertTableCounts> {
  return {
    queueRows: await count(db, 'SELECT COUNT(*) AS n FROM talert_execution_queue'),
    firedAlerts: await count(
      db,
      'SELECT COUNT(*) AS n FROM talert_template_modules WHERE times_fired > 0',
    ),
  };
}
