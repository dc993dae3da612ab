import type { PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { COLUMN_LIMITS, fitToColumn } from '../../db/index.js';
import { AGENT_COLUMNS } from '../state/load-state.js';
import type { AgentUpdate, NewAgentRow, PacketOutcome } from '../types.js';
import { insertReturningIds } from './insert-ids.js';
import { clamp } from './sql-values.js';

/** SQL for tagente and what hangs off an agent: taddress links, tagent_custom_data. */

const AGENT = COLUMN_LIMITS.tagente;

/** Locks the agents of a batch (callers pass ids in ascending order) and reads their rows. */
export const LOCK_AGENTS_SQL = `SELECT ${AGENT_COLUMNS} FROM tagente WHERE id_agente IN (?) ORDER BY id_agente FOR UPDATE`;

/**
 * Serialises creation of new agent names across servers (tagente has no unique index on
 * nombre): a named lock per name, held until after COMMIT. Refused when another server held a
 * name for `timeoutSec`: going on could create the agent twice, so the batch is retried like
 * any lock conflict.
 */
export async function lockNewAgentNames(
  conn: PoolConnection,
  keys: readonly string[],
  timeoutSec: number,
): Promise<void> {
  const [granted] = await conn.query<RowDataPacket[]>(
    { sql: `SELECT ${keys.map(() => 'GET_LOCK(?, ?)').join(', ')}`, rowsAsArray: true },
    keys.flatMap((n) => [`ti_agent:${n}`.slice(0, 64), timeoutSec]),
  );
  // 0: another server held a name that long (NULL: an error).
  if (!(granted[0] as unknown[] | undefined)?.every((v) => Number(v) === 1)) {
    throw Object.assign(
      new Error(`lock for creating a new agent not granted within ${String(timeoutSec)} s`),
      { code: 'ER_LOCK_WAIT_TIMEOUT' },
    );
  }
}

const NEW_AGENT_COLUMNS = [
  'nombre',
  'alias',
  'direccion',
  'comentarios',
  'id_grupo',
  'id_os',
  'server_name',
  'intervalo',
  'id_parent',
  'modo',
  'custom_id',
  'url_address',
  'timezone_offset',
  'os_version',
  'agent_version',
  'ultimo_contacto',
  'ultimo_contacto_remoto',
  'satellite_server',
  'update_module_count',
] as const;

function newAgentValues(a: NewAgentRow): unknown[] {
  return [
    a.nombre,
    a.alias,
    fitToColumn(a.direccion, AGENT.direccion),
    fitToColumn(a.comentarios, AGENT.comentarios),
    a.id_grupo,
    a.id_os,
    a.server_name.slice(0, 100),
    a.intervalo,
    a.id_parent,
    a.modo,
    fitToColumn(a.custom_id ?? '', AGENT.custom_id),
    a.url_address ?? null,
    Math.max(-128, Math.min(127, a.timezone_offset)),
    fitToColumn(a.os_version, AGENT.os_version),
    fitToColumn(a.agent_version, AGENT.agent_version),
    a.ultimo_contacto,
    a.ultimo_contacto_remoto,
    a.satellite_server,
    1,
  ];
}

/** INSERTs new agents and fills their refs with the new ids. */
export async function insertAgents(
  conn: PoolConnection,
  agents: readonly NewAgentRow[],
  consecutiveIds: boolean,
): Promise<void> {
  const ids = await insertReturningIds(
    conn,
    'tagente',
    NEW_AGENT_COLUMNS,
    agents.map(newAgentValues),
    consecutiveIds,
  );
  agents.forEach((a, i) => (a.ref.id = ids[i] ?? 0));
}

/**
 * The per-packet tagente UPDATE of every agent of a batch as one statement: an upsert on the
 * primary key of rows the batch holds locked (so it always updates). Columns a packet leaves
 * alone are sent as NULL (nullable columns) or -1 (NOT NULL flags) and keep their value.
 */
export const AGENT_UPSERT =
  'INSERT INTO tagente (id_agente, intervalo, ultimo_contacto_remoto, ultimo_contacto, ' +
  'timezone_offset, id_parent, satellite_server, direccion, agent_version, os_version, disabled, ' +
  'update_module_count) VALUES ? ON DUPLICATE KEY UPDATE intervalo = VALUES(intervalo), ' +
  'ultimo_contacto_remoto = VALUES(ultimo_contacto_remoto), ' +
  'ultimo_contacto = VALUES(ultimo_contacto), timezone_offset = VALUES(timezone_offset), ' +
  'id_parent = VALUES(id_parent), satellite_server = VALUES(satellite_server), ' +
  'direccion = COALESCE(VALUES(direccion), direccion), ' +
  'agent_version = COALESCE(VALUES(agent_version), agent_version), ' +
  'os_version = COALESCE(VALUES(os_version), os_version), ' +
  'disabled = IF(VALUES(disabled) < 0, disabled, VALUES(disabled)), ' +
  'update_module_count = IF(VALUES(update_module_count) < 0, update_module_count, VALUES(update_module_count))';

export function agentUpdateRow(u: AgentUpdate): unknown[] {
  return [
    u.ref.id,
    clamp(u.intervalo, 0, 4294967295),
    u.ultimo_contacto_remoto,
    u.ultimo_contacto,
    clamp(u.timezone_offset, -128, 127),
    u.id_parent,
    u.satellite_server,
    u.direccion === undefined ? null : fitToColumn(u.direccion, AGENT.direccion),
    u.agent_version === undefined ? null : fitToColumn(u.agent_version, AGENT.agent_version),
    u.os_version === undefined ? null : fitToColumn(u.os_version, AGENT.os_version),
    u.disabled ?? -1,
    u.update_module_count ?? -1,
  ];
}

export const CUSTOM_DATA_UPSERT =
  'INSERT INTO tagent_custom_data (id_field, id_agent, description) VALUES ? ON DUPLICATE KEY UPDATE description = VALUES(description)';

/** taddress / taddress_agent links (spec §3.5); rare, so plain statements. */
export function createAddressWriter(): (
  conn: PoolConnection,
  outcomes: readonly PacketOutcome[],
) => Promise<void> {
  /** Links known to exist; only for this process: a rolled-back batch costs one extra check. */
  const linked = new Set<string>();
  return async (conn, outcomes) => {
    for (const o of outcomes) {
      const agentId = o.agentState?.ref.id ?? 0;
      if (agentId === 0) continue;
      for (const ip of o.addresses) {
        const key = `${agentId}|${ip}`;
        if (linked.has(key)) continue;
        await linkAddress(conn, agentId, fitToColumn(ip, COLUMN_LIMITS.taddress.ip));
        linked.add(key);
      }
    }
  };
}

async function linkAddress(conn: PoolConnection, agentId: number, ip: string): Promise<void> {
  const [found] = await conn.query<RowDataPacket[]>(
    'SELECT id_a FROM taddress WHERE ip = ? ORDER BY id_a LIMIT 1',
    [ip],
  );
  let idA = Number(found[0]?.['id_a'] ?? 0);
  if (idA === 0) {
    const [res] = await conn.query<ResultSetHeader>('INSERT INTO taddress (ip) VALUES (?)', [ip]);
    idA = res.insertId;
  }
  const [link] = await conn.query<RowDataPacket[]>(
    'SELECT 1 FROM taddress_agent WHERE id_a = ? AND id_agent = ? LIMIT 1',
    [idA, agentId],
  );
  if (link.length === 0) {
    await conn.query('INSERT INTO taddress_agent (id_a, id_agent) VALUES (?, ?)', [idA, agentId]);
  }
}
