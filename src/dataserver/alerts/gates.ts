/**
 * The per-datum gates of spec alerts.md §2.2 that need the database: cascade protection (1),
 * quiet agent/module (4) and a disabled primary group (5). Storm protection (2) comes from the
 * definition cache, warm-up (3) from warm-up.ts. A gated datum leaves every alert row untouched.
 */
import type mysql from 'mysql2/promise';
import type { AlertConnection } from './apply-sql.js';
import type { Row } from './types.js';

const MAX_CASCADE_DEPTH = 1024;

async function firstNumber(conn: AlertConnection, sql: string, values: unknown[]) {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(sql, values);
  const row = rows[0];
  return row === undefined ? undefined : Number(Object.values(row)[0]);
}

/**
 * Gate 1: with `cascade_protection = 1`, an ancestor holding a fired alert of a priority-4
 * (critical) template on an enabled module blocks this agent's alerts. The agent's
 * `cascade_protection_module`, when set, restricts the check on its direct parent to that
 * module (a module id belongs to one agent, so it cannot apply further up). [ENT] service
 * cascade protection is not part of the open server.
 */
export async function cascadeBlocks(conn: AlertConnection, agent: Row): Promise<boolean> {
  if (Number(agent['cascade_protection']) !== 1) return false;
  let parent = Number(agent['id_parent'] ?? 0);
  let onlyModule = Number(agent['cascade_protection_module'] ?? 0);
  const seen = new Set<number>([Number(agent['id_agente'])]);
  for (let depth = 0; parent !== 0 && depth < MAX_CASCADE_DEPTH && !seen.has(parent); depth++) {
    seen.add(parent);
    const fired = await firstNumber(
      conn,
      'SELECT COUNT(*) FROM talert_template_modules a' +
        ' JOIN talert_templates t ON t.id = a.id_alert_template' +
        ' JOIN tagente_modulo m ON m.id_agente_modulo = a.id_agent_module' +
        ' WHERE m.id_agente = ? AND a.times_fired > 0 AND m.disabled = 0 AND t.priority = 4' +
        (onlyModule !== 0 ? ' AND m.id_agente_modulo = ?' : ''),
      onlyModule !== 0 ? [parent, onlyModule] : [parent],
    );
    if ((fired ?? 0) > 0) return true;
    onlyModule = 0;
    parent =
      (await firstNumber(conn, 'SELECT id_parent FROM tagente WHERE id_agente = ?', [parent])) ?? 0;
  }
  return false;
}

/** Gates 4 and 5; `groupDisabled` when the caller already read the group. */
export async function quietOrDisabled(
  conn: AlertConnection,
  agent: Row,
  module: Row,
  groupDisabled?: boolean,
): Promise<boolean> {
  if (Number(agent['quiet']) === 1 || Number(module['quiet']) === 1) return true;
  if (groupDisabled !== undefined) return groupDisabled;
  const disabled = await firstNumber(conn, 'SELECT disabled FROM tgrupo WHERE id_grupo = ?', [
    agent['id_grupo'],
  ]);
  return (disabled ?? 0) !== 0;
}
