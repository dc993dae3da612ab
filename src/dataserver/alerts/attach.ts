/**
 * Alerts attached from the agent XML (spec alerts.md §2.3): only when a module is created, each
 * `<alert_template>` name is looked up as `talert_templates.name = safe_input(name)`; found →
 * one alert row with `last_reference = now`. Unknown names are ignored, and [NEW] D-A10: a name
 * listed twice is attached once (the reference hit the UNIQUE key and lost the rest of the file).
 */
import type mysql from 'mysql2/promise';
import { safeInput } from '../../pandora/index.js';
import type { AlertConnection } from './apply-sql.js';

/** Runs in the transaction that creates the module; returns the ids of the rows inserted. */
export async function attachAlertTemplates(
  conn: AlertConnection,
  moduleId: number,
  names: readonly string[],
  now: number,
): Promise<number[]> {
  const encoded = [...new Set(names.map(safeInput))];
  if (encoded.length === 0) return [];
  const [templates] = await conn.query<mysql.RowDataPacket[]>(
    'SELECT MIN(id) AS id FROM talert_templates WHERE name IN (?) GROUP BY name ORDER BY MIN(id)',
    [encoded],
  );
  const ids: number[] = [];
  for (const t of templates) {
    const [result] = await conn.query<mysql.ResultSetHeader>(
      'INSERT IGNORE INTO talert_template_modules (id_agent_module, id_alert_template, id_policy_alerts, disabled, standby, last_reference) VALUES (?, ?, 0, 0, 0, ?)',
      [moduleId, t['id'], now],
    );
    if (result.affectedRows > 0) ids.push(result.insertId);
  }
  return ids;
}
