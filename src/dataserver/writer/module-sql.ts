import type { PoolConnection } from 'mysql2/promise';
import { COLUMN_LIMITS, fitToColumn } from '../../db/index.js';
import { MODULE_INSERT_COLUMNS } from '../module-columns.js';
import type { NewModuleRow, PacketOutcome } from '../types.js';
import { insertReturningIds } from './insert-ids.js';
import { clamp, fmt } from './sql-values.js';

/** SQL for tagente_modulo and its tags (ttag_module). */

const MODULE = COLUMN_LIMITS.tagente_modulo;

function newModuleValues(m: NewModuleRow): unknown[] {
  return MODULE_INSERT_COLUMNS.map((c) => {
    if (c === 'id_agente') return m.agentRef.id;
    const v = m[c];
    return c === 'custom_id' || c === 'cron_interval' ? fitToColumn(String(v), MODULE[c]) : v;
  });
}

/** INSERTs auto-created modules and fills their refs with the new ids. */
export async function insertModules(
  conn: PoolConnection,
  modules: readonly NewModuleRow[],
  consecutiveIds: boolean,
): Promise<void> {
  const ids = await insertReturningIds(
    conn,
    'tagente_modulo',
    MODULE_INSERT_COLUMNS,
    modules.map(newModuleValues),
    consecutiveIds,
  );
  modules.forEach((m, i) => (m.ref.id = ids[i] ?? 0));
}

/** One outcome's module updates (§4.4 config, §4.1 parent links), appended to `sql`. */
export function moduleConfigStatements(o: PacketOutcome, sql: string[]): void {
  for (const c of o.moduleConfigUpdates) {
    sql.push(
      fmt(
        'UPDATE tagente_modulo SET descripcion = ?, extended_info = ?, module_interval = ? WHERE id_agente_modulo = ?',
        [c.descripcion, c.extended_info, clamp(c.module_interval, 0, 4294967295), c.ref.id],
      ),
    );
  }
}

export function moduleParentStatements(o: PacketOutcome, sql: string[]): void {
  for (const l of o.parentLinks) {
    sql.push(
      fmt('UPDATE tagente_modulo SET parent_module_id = ? WHERE id_agente_modulo = ?', [
        l.parentRef?.id ?? 0,
        l.ref.id,
      ]),
    );
  }
}

/** ttag_module rows of the new modules: (id_tag, id_agente_modulo). */
export function addModuleTags(o: PacketOutcome, tagRows: unknown[][]): void {
  for (const m of o.newModules) for (const tag of m.tagIds) tagRows.push([tag, m.ref.id]);
}

export const MODULE_TAGS_INSERT =
  'INSERT IGNORE INTO ttag_module (id_tag, id_agente_modulo) VALUES ?';
