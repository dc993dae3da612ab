import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { ASYNC_TYPE_IDS, KEEP_ALIVE_TYPE_ID, safeInput } from '../pandora/index.js';
import { DB_CLOCK, eventInsertSql, eventRow, sqlExpression } from '../db/index.js';
import type { FencedContext } from './coordinator.js';

/** The alert side of a module going UNKNOWN (alerts.md §2.4), run in the same transaction. */
export interface UnknownAlertHook {
  unknownModules(
    conn: FencedContext['conn'],
    modules: readonly { agentId: number; moduleId: number; lastStatusChange: number }[],
  ): Promise<void>;
}

/** Module types the unknown task skips: async (21–23) and keep-alive (100), as the reference. */
const SKIPPED_MODULE_TYPES = [...ASYNC_TYPE_IDS, KEEP_ALIVE_TYPE_ID];
const UNKNOWN_STATUS = 3;
/** A module is unknown after this many intervals without data (Pandora's `unknown_interval`). */
const UNKNOWN_INTERVALS = 2;
/** Modules handled per transaction; keeps fenced transactions short (ha.md §2.9.3). */
export const UNKNOWN_BLOCK_SIZE = 1000;

/**
 * `Module '<name>' is going to UNKNOWN`, in `safe_input` form: module names are stored encoded,
 * so only the constant parts are encoded here.
 */
const EVENT_PREFIX = safeInput("Module '");
const EVENT_SUFFIX = safeInput("' is going to UNKNOWN");
/** `going_unknown` events are "minor" (5) in the reference. */
const GOING_UNKNOWN_CRITICITY = 5;

/**
 * The `going_unknown` event of each module selected by `lockedModulesOf`: the module's name,
 * tags and instructions read in the same statement, stamped on the database clock.
 */
const GOING_UNKNOWN_EVENT = eventRow({
  id_agente: sqlExpression('te.id_agente'),
  id_grupo: sqlExpression('ta.id_grupo'),
  evento: sqlExpression('CONCAT(?, tm.nombre, ?)', EVENT_PREFIX, EVENT_SUFFIX),
  event_type: 'going_unknown',
  id_agentmodule: sqlExpression('tm.id_agente_modulo'),
  criticity: GOING_UNKNOWN_CRITICITY,
  tags: sqlExpression(
    `IFNULL((SELECT GROUP_CONCAT(t.name SEPARATOR ',') FROM ttag_module tt
               JOIN ttag t ON t.id_tag = tt.id_tag
             WHERE tt.id_agente_modulo = tm.id_agente_modulo), '')`,
  ),
  critical_instructions: sqlExpression("IFNULL(tm.critical_instructions, '')"),
  warning_instructions: sqlExpression("IFNULL(tm.warning_instructions, '')"),
  unknown_instructions: sqlExpression("IFNULL(tm.unknown_instructions, '')"),
  module_status: UNKNOWN_STATUS,
  at: DB_CLOCK,
});

/** The modules of `ids` that raise an event: neither they nor their agent are quiet. */
function lockedModulesOf(ids: readonly number[]) {
  return sqlExpression(
    `FROM tagente_estado te
       JOIN tagente_modulo tm ON tm.id_agente_modulo = te.id_agente_modulo
       JOIN tagente ta ON ta.id_agente = te.id_agente
     WHERE te.id_agente_estado IN (?) AND tm.quiet = 0 AND ta.quiet = 0`,
    ids,
  );
}

/**
 * One block of unknown-module detection (dataserver.md §5.4, a master duty): modules whose last
 * data is older than twice their interval go to UNKNOWN (status 3) with one `going_unknown`
 * event each, all inside the caller's fenced transaction. Returns how many modules changed.
 * Async modules (reset to NORMAL by the reference) are left to the data path.
 */
export async function markUnknownModules(
  ctx: FencedContext,
  alerts?: UnknownAlertHook,
): Promise<number> {
  const { conn } = ctx;
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT te.id_agente_estado AS id, te.id_agente, te.id_agente_modulo, te.last_status_change
     FROM tagente_estado te
       JOIN tagente_modulo tm ON tm.id_agente_modulo = te.id_agente_modulo
       JOIN tagente ta ON ta.id_agente = te.id_agente
     WHERE te.estado <> ? AND te.utimestamp <> 0 AND te.current_interval > 0
       AND te.utimestamp + te.current_interval * ? < UNIX_TIMESTAMP()
       AND tm.disabled = 0 AND ta.disabled = 0 AND tm.id_tipo_modulo NOT IN (?)
     ORDER BY te.id_agente_estado LIMIT ? FOR UPDATE`,
    [UNKNOWN_STATUS, UNKNOWN_INTERVALS, SKIPPED_MODULE_TYPES, UNKNOWN_BLOCK_SIZE],
  );
  const ids = rows.map((row) => Number(row['id']));
  if (ids.length === 0) return 0;
  // Events first, while the rows still show the old status (the locks keep peers out).
  await conn.query(eventInsertSql(GOING_UNKNOWN_EVENT, lockedModulesOf(ids)));
  const [updated] = await conn.query<ResultSetHeader>(
    `UPDATE tagente_estado SET estado = ?, last_status = ?, last_unknown_update = UNIX_TIMESTAMP()
     WHERE id_agente_estado IN (?)`,
    [UNKNOWN_STATUS, UNKNOWN_STATUS, ids],
  );
  // Their `unknown` / `not_normal` alerts, gated and counted by the dataserver's engine.
  await alerts?.unknownModules(
    conn,
    rows.map((row) => ({
      agentId: Number(row['id_agente']),
      moduleId: Number(row['id_agente_modulo']),
      lastStatusChange: Number(row['last_status_change']),
    })),
  );
  return updated.affectedRows;
}
