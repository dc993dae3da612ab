import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import {
  lookupKey,
  type AgentState,
  type IncrementalSample,
  type ModuleConfig,
  type ModuleState,
  type ModuleStatus,
} from '../types.js';
import { MODULE_SETTINGS_COLUMNS, MODULE_STATE_COLUMNS } from '../module-columns.js';
import { datetimeToEpoch } from './datetime.js';

/** An agent with all its modules, as the hot path caches it. */
export interface AgentSnapshot {
  readonly agent: AgentState;
  /** Keyed by lookupKey(module nameEncoded). */
  readonly modules: Map<string, ModuleState>;
  /** {@link SIGNATURES_SQL} of the rows this snapshot was built from (or we last wrote). */
  readonly signature: string;
}

/**
 * What other writers change without going through us, summarised per agent so a batch can tell
 * in one cheap query whether its cached state still holds: the console editing or deleting
 * modules (count and a checksum of the settings we read but never write), and the master's
 * unknown task marking modules UNKNOWN (it stamps `last_unknown_update`, which we never write).
 */
const MODULE_SETTINGS_CHECKSUM = `SUM(CRC32(CONCAT_WS('|', ${MODULE_SETTINGS_COLUMNS.map((c) => `\`${c}\``).join(', ')})))`;

/** Two statements: module signature, then status signature (optionally locking). */
export function signaturesSql(lockStatus: boolean): string {
  return `SELECT id_agente, COUNT(*) AS n, ${MODULE_SETTINGS_CHECKSUM} AS s FROM tagente_modulo
      WHERE id_agente IN (?) GROUP BY id_agente;
    SELECT id_agente, COUNT(*) AS n, SUM(last_unknown_update) AS u FROM tagente_estado
      WHERE id_agente IN (?) GROUP BY id_agente${lockStatus ? ' FOR UPDATE' : ''}`;
}

/** Agent id → signature, from the two result sets of {@link signaturesSql}. */
export function parseSignatures(
  modules: readonly RowDataPacket[],
  statuses: readonly RowDataPacket[],
): Map<number, string> {
  const out = new Map<number, string>();
  const statusById = new Map<number, string>();
  for (const r of statuses) statusById.set(num(r['id_agente']), `${str(r['n'])}/${str(r['u'])}`);
  for (const r of modules) {
    const id = num(r['id_agente']);
    out.set(id, `${str(r['n'])}:${str(r['s'])}|${statusById.get(id) ?? '0/0'}`);
  }
  for (const [id, sig] of statusById) if (!out.has(id)) out.set(id, `0:0|${sig}`);
  return out;
}

/** Signature of an agent with no module rows at all. */
export const EMPTY_SIGNATURE = 'none';

/** The agent columns the logic reads, as a comparable key (detects console edits of tagente). */
export function agentKey(a: AgentState): string {
  return JSON.stringify([
    a.nameEncoded,
    a.aliasEncoded,
    a.groupId,
    a.osId,
    a.mode,
    a.disabled,
    a.interval,
    a.address,
    a.fixedIp,
    a.parentId,
    a.timezoneOffset,
    a.osVersion,
    a.agentVersion,
    a.quiet,
    a.satelliteServer,
  ]);
}

type Row = RowDataPacket;

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const str = (v: unknown): string =>
  v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
const bool = (v: unknown): boolean => num(v) !== 0;

export function agentStateFromRow(r: Row): AgentState {
  return {
    ref: { id: num(r['id_agente']) },
    nameEncoded: str(r['nombre']),
    aliasEncoded: str(r['alias']),
    groupId: num(r['id_grupo']),
    osId: num(r['id_os']),
    mode: num(r['modo']),
    disabled: bool(r['disabled']),
    interval: num(r['intervalo']),
    address: str(r['direccion']),
    fixedIp: bool(r['fixed_ip']),
    parentId: num(r['id_parent']),
    timezoneOffset: num(r['timezone_offset']),
    osVersion: str(r['os_version']),
    agentVersion: str(r['agent_version']),
    quiet: bool(r['quiet']),
    satelliteServer: num(r['satellite_server']),
  };
}

function moduleConfigFromRow(r: Row, typeName: string, tags: string): ModuleConfig {
  return {
    typeId: num(r['id_tipo_modulo']),
    typeName,
    description: str(r['descripcion']),
    extendedInfo: str(r['extended_info']),
    moduleInterval: num(r['module_interval']),
    cronInterval: str(r['cron_interval']),
    moduleFfInterval: num(r['module_ff_interval']),
    min: num(r['min']),
    max: num(r['max']),
    postProcess: num(r['post_process']),
    historyData: bool(r['history_data']),
    minWarning: num(r['min_warning']),
    maxWarning: num(r['max_warning']),
    minCritical: num(r['min_critical']),
    maxCritical: num(r['max_critical']),
    strWarning: str(r['str_warning']),
    strCritical: str(r['str_critical']),
    warningInverse: bool(r['warning_inverse']),
    criticalInverse: bool(r['critical_inverse']),
    percentageWarning: bool(r['percentage_warning']),
    percentageCritical: bool(r['percentage_critical']),
    warningTime: num(r['warning_time']),
    minFfEvent: num(r['min_ff_event']),
    minFfEventNormal: num(r['min_ff_event_normal']),
    minFfEventWarning: num(r['min_ff_event_warning']),
    minFfEventCritical: num(r['min_ff_event_critical']),
    ffTimeout: num(r['ff_timeout']),
    ffType: num(r['ff_type']),
    eachFf: bool(r['each_ff']),
    disabled: bool(r['disabled']),
    deletePending: bool(r['delete_pending']),
    quiet: bool(r['quiet']),
    criticalInstructions: str(r['critical_instructions']),
    warningInstructions: str(r['warning_instructions']),
    unknownInstructions: str(r['unknown_instructions']),
    disabledTypesEvent: str(r['disabled_types_event']),
    idPolicyModule: num(r['id_policy_module']),
    policyLinked: bool(r['policy_linked']),
    policyAdopted: bool(r['policy_adopted']),
    parentModuleId: num(r['parent_module_id']),
    tags,
  };
}

function moduleStatusFromRow(r: Row): ModuleStatus {
  const lastTry = str(r['last_try']) || '1970-01-01 00:00:00';
  return {
    datos: str(r['datos']),
    estado: num(r['estado']),
    knownStatus: num(r['known_status']),
    lastStatus: num(r['last_status']),
    lastKnownStatus: num(r['last_known_status']),
    statusChanges: num(r['status_changes']),
    timestamp: str(r['timestamp']),
    lastTry,
    lastTryEpoch: datetimeToEpoch(lastTry),
    utimestamp: num(r['e_utimestamp']),
    currentInterval: num(r['current_interval']),
    runningBy: num(r['running_by']),
    lastExecutionTry: num(r['last_execution_try']),
    lastError: num(r['last_error']),
    ffStartUtimestamp: num(r['ff_start_utimestamp']),
    ffNormal: num(r['ff_normal']),
    ffWarning: num(r['ff_warning']),
    ffCritical: num(r['ff_critical']),
    lastStatusChange: num(r['last_status_change']),
    warningCount: num(r['e_warning_count']),
  };
}

export const AGENT_COLUMNS =
  'id_agente, nombre, alias, id_grupo, id_os, modo, disabled, intervalo, direccion, fixed_ip, ' +
  'id_parent, timezone_offset, os_version, agent_version, quiet, satellite_server';

const MODULE_COLUMNS = MODULE_STATE_COLUMNS.map((c) => `m.\`${c}\``).join(', ');

const STATUS_COLUMNS =
  'e.id_agente_estado, e.datos, e.estado, e.known_status, e.last_status, e.last_known_status, ' +
  'e.status_changes, e.timestamp, e.last_try, e.utimestamp AS e_utimestamp, e.current_interval, ' +
  'e.running_by, e.last_execution_try, e.last_error, e.ff_start_utimestamp, e.ff_normal, ' +
  'e.ff_warning, e.ff_critical, e.last_status_change, e.warning_count AS e_warning_count';

/**
 * Reads agents and every module with its status row, incremental sample and tags, in one round
 * trip (four statements), for the agents whose ids are given. Inside a batch transaction this
 * runs after the agents are locked, so what it returns is what the next writer must start from.
 */
export async function loadAgents(
  conn: PoolConnection,
  ids: readonly number[],
  typeNameById: (id: number) => string,
): Promise<Map<number, AgentSnapshot>> {
  const out = new Map<number, AgentSnapshot>();
  if (ids.length === 0) return out;
  const [results] = await conn.query<Row[][]>(
    `SELECT ${AGENT_COLUMNS} FROM tagente WHERE id_agente IN (?);
     SELECT ${MODULE_COLUMNS}, ${STATUS_COLUMNS}
       FROM tagente_modulo m LEFT JOIN tagente_estado e ON e.id_agente_modulo = m.id_agente_modulo
      WHERE m.id_agente IN (?) ORDER BY m.id_agente_modulo, e.id_agente_estado;
     SELECT i.id_agente_modulo, i.datos, i.utimestamp FROM tagente_datos_inc i
       JOIN tagente_modulo m ON m.id_agente_modulo = i.id_agente_modulo WHERE m.id_agente IN (?);
     SELECT tm.id_agente_modulo, GROUP_CONCAT(t.name ORDER BY t.id_tag SEPARATOR ',') AS tags
       FROM ttag_module tm JOIN ttag t ON t.id_tag = tm.id_tag
       JOIN tagente_modulo m ON m.id_agente_modulo = tm.id_agente_modulo
      WHERE m.id_agente IN (?) GROUP BY tm.id_agente_modulo;
     ${signaturesSql(false)}`,
    [ids, ids, ids, ids, ids, ids],
  );
  const [agents = [], modules = [], incs = [], tags = [], moduleSigs = [], statusSigs = []] =
    results;
  const signatures = parseSignatures(moduleSigs, statusSigs);
  for (const r of agents) {
    const agent = agentStateFromRow(r);
    out.set(agent.ref.id, {
      agent,
      modules: new Map(),
      signature: signatures.get(agent.ref.id) ?? EMPTY_SIGNATURE,
    });
  }
  const incById = new Map<number, IncrementalSample>();
  for (const r of incs) {
    incById.set(num(r['id_agente_modulo']), {
      datos: num(r['datos']),
      utimestamp: num(r['utimestamp']),
    });
  }
  const tagsById = new Map<number, string>();
  for (const r of tags) tagsById.set(num(r['id_agente_modulo']), str(r['tags']));
  for (const r of modules) {
    const snapshot = out.get(num(r['id_agente']));
    if (!snapshot) continue;
    const id = num(r['id_agente_modulo']);
    const nameEncoded = str(r['nombre']);
    const key = lookupKey(nameEncoded);
    // No unique index on (id_agente, nombre): like the reference, the first row wins; a second
    // status row for one module (by convention there is one) is ignored the same way.
    if (snapshot.modules.has(key)) continue;
    const typeId = num(r['id_tipo_modulo']);
    const hasStatus = r['id_agente_estado'] !== null && r['id_agente_estado'] !== undefined;
    snapshot.modules.set(key, {
      ref: { id },
      statusRef: { id: hasStatus ? num(r['id_agente_estado']) : 0 },
      nameEncoded,
      config: moduleConfigFromRow(r, typeNameById(typeId), tagsById.get(id) ?? ''),
      status: hasStatus ? moduleStatusFromRow(r) : undefined,
      inc: incById.get(id),
    });
  }
  return out;
}

/** Agent ids by encoded name (the collation decides, as in the reference; first id wins). */
export async function findAgentIds(
  conn: PoolConnection,
  namesEncoded: readonly string[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (namesEncoded.length === 0) return out;
  const [rows] = await conn.query<Row[]>(
    'SELECT id_agente, nombre FROM tagente WHERE nombre IN (?) ORDER BY id_agente',
    [namesEncoded],
  );
  const wanted = new Map(namesEncoded.map((n) => [lookupKey(n), n]));
  for (const r of rows) {
    const key = lookupKey(str(r['nombre']));
    if (wanted.has(key) && !out.has(key)) out.set(key, num(r['id_agente']));
  }
  // Rows the collation matched but our key does not (accent-insensitive collations): the first.
  for (const [key] of wanted) {
    if (!out.has(key) && rows.length > 0) {
      const match = rows.find(
        (r) =>
          lookupKey(str(r['nombre'])).localeCompare(key, undefined, { sensitivity: 'base' }) === 0,
      );
      if (match) out.set(key, num(match['id_agente']));
    }
  }
  return out;
}
