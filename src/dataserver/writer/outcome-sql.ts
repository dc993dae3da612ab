import mysql from 'mysql2/promise';
import { COLUMN_LIMITS, fitToColumn } from '../../db/index.js';
import { LEDGER_TABLE } from '../../db/index.js';

const AGENT = COLUMN_LIMITS.tagente;
import type { AgentUpdate, EventRow, PacketOutcome, StatusWrite } from '../types.js';
import { statusUpdateStatements } from './status-sql.js';
import { chunks } from './insert-ids.js';
import { clamp, sqlRows } from './sql-values.js';

/**
 * SQL for the parts of a batch that need no ids back: built as one multi-statement string so the
 * whole tail of a batch (updates, history, events, ledger, COMMIT) is one round trip. Every value
 * goes through mysql2's escaping; nothing is interpolated raw.
 */

/** mysql2's format, except that a `VALUES ?` list of rows goes through the faster sqlRows. */
function fmt(sql: string, values: unknown[]): string {
  const rows = values[0];
  if (values.length === 1 && Array.isArray(rows) && sql.includes('VALUES ?')) {
    return sql.replace('VALUES ?', `VALUES ${sqlRows(rows as unknown[][])}`);
  }
  return mysql.format(sql, values as Parameters<typeof mysql.format>[1]);
}

const EVENT_COLUMNS = [
  'id_agente',
  'id_grupo',
  'evento',
  'timestamp',
  'utimestamp',
  'estado',
  'event_type',
  'id_agentmodule',
  'id_alert_am',
  'criticity',
  'tags',
  'source',
  'id_extra',
  'id_usuario',
  'critical_instructions',
  'warning_instructions',
  'unknown_instructions',
  'ack_utimestamp',
  'custom_data',
  'data',
  'module_status',
] as const;

function eventRow(e: EventRow): unknown[] {
  return [
    e.agentRef?.id ?? 0,
    e.id_grupo,
    e.evento,
    e.timestamp,
    e.utimestamp,
    e.estado,
    e.event_type,
    e.moduleRef?.id ?? 0,
    0,
    e.criticity,
    e.tags,
    e.source,
    '',
    '',
    e.critical_instructions,
    e.warning_instructions,
    e.unknown_instructions,
    e.ack_utimestamp,
    '',
    e.data,
    e.module_status < 0 ? 0 : e.module_status,
  ];
}

/**
 * The per-packet tagente UPDATE of every agent of a batch as one statement: an upsert on the
 * primary key of rows the batch holds locked (so it always updates). Columns a packet leaves
 * alone are sent as NULL (nullable columns) or -1 (NOT NULL flags) and keep their value.
 */
const AGENT_UPSERT =
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

function agentUpdateRow(u: AgentUpdate): unknown[] {
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

export interface LedgerRow {
  readonly sha256: Buffer;
  readonly fileName: string;
  readonly agentId: number;
}

/** Everything after the id-returning INSERTs, for all outcomes of a batch, in dependency order. */
export function tailStatements(
  outcomes: readonly PacketOutcome[],
  extraEvents: readonly EventRow[],
  ledger: readonly LedgerRow[],
  ctx: { serverName: string; nowSec: number },
): string[] {
  const sql: string[] = [];
  const estado: StatusWrite[] = [];
  const numeric: unknown[][] = [];
  const strings: unknown[][] = [];
  const incInserts: unknown[][] = [];
  const tagRows: unknown[][] = [];
  const customData: unknown[][] = [];
  const events: EventRow[] = [];
  const agentRows: unknown[][] = [];
  for (const o of outcomes) {
    if (o.agentUpdate) agentRows.push(agentUpdateRow(o.agentUpdate));
    for (const m of o.newModules) for (const tag of m.tagIds) tagRows.push([tag, m.ref.id]);
    for (const c of o.moduleConfigUpdates) {
      sql.push(
        fmt(
          'UPDATE tagente_modulo SET descripcion = ?, extended_info = ?, module_interval = ? WHERE id_agente_modulo = ?',
          [c.descripcion, c.extended_info, clamp(c.module_interval, 0, 4294967295), c.ref.id],
        ),
      );
    }
    for (const w of o.statusWrites) if (!w.insert) estado.push(w);
    for (const w of o.incrementalWrites) {
      const sample = [w.sample.datos, clamp(w.sample.utimestamp, 0, 4294967295)];
      if (w.insert) incInserts.push([w.ref.id, ...sample]);
      else {
        sql.push(
          fmt('UPDATE tagente_datos_inc SET datos = ?, utimestamp = ? WHERE id_agente_modulo = ?', [
            ...sample,
            w.ref.id,
          ]),
        );
      }
    }
    for (const h of o.numericHistory) numeric.push([h.ref.id, h.datos, h.utimestamp]);
    for (const h of o.stringHistory) {
      strings.push([h.ref.id, h.datos, clamp(h.utimestamp, 0, 4294967295)]);
    }
    for (const c of o.customData) customData.push([c.id_field, c.agentRef.id, c.description]);
    for (const l of o.parentLinks) {
      sql.push(
        fmt('UPDATE tagente_modulo SET parent_module_id = ? WHERE id_agente_modulo = ?', [
          l.parentRef?.id ?? 0,
          l.ref.id,
        ]),
      );
    }
    events.push(...o.events);
  }
  events.push(...extraEvents);
  for (const c of chunks(agentRows)) sql.push(fmt(AGENT_UPSERT, [c]));
  sql.push(...statusUpdateStatements(estado));
  for (const c of chunks(incInserts)) {
    sql.push(
      fmt('INSERT INTO tagente_datos_inc (id_agente_modulo, datos, utimestamp) VALUES ?', [c]),
    );
  }
  for (const c of chunks(numeric)) {
    sql.push(fmt('INSERT INTO tagente_datos (id_agente_modulo, datos, utimestamp) VALUES ?', [c]));
  }
  for (const c of chunks(strings)) {
    sql.push(
      fmt('INSERT INTO tagente_datos_string (id_agente_modulo, datos, utimestamp) VALUES ?', [c]),
    );
  }
  for (const c of chunks(tagRows)) {
    sql.push(fmt('INSERT IGNORE INTO ttag_module (id_tag, id_agente_modulo) VALUES ?', [c]));
  }
  for (const c of chunks(customData)) {
    sql.push(
      fmt(
        'INSERT INTO tagent_custom_data (id_field, id_agent, description) VALUES ? ON DUPLICATE KEY UPDATE description = VALUES(description)',
        [c],
      ),
    );
  }
  // Auto-validation must precede the new events (spec §7); one outcome per agent per batch, so
  // validating every affected module once before the insert equals doing it event by event.
  const validate = new Map<number, number[]>();
  for (const e of events) {
    if (!e.autoValidate || !e.moduleRef) continue;
    const modules = validate.get(e.utimestamp) ?? [];
    if (modules.length === 0) validate.set(e.utimestamp, modules);
    modules.push(e.moduleRef.id);
  }
  for (const [ack, modules] of validate) {
    for (const c of chunks(modules)) {
      sql.push(
        fmt(
          'UPDATE tevento SET estado = 1, ack_utimestamp = ? WHERE estado = 0 AND id_agentmodule IN (?)',
          [ack, c],
        ),
      );
    }
  }
  for (const c of chunks(events.map(eventRow))) {
    sql.push(
      fmt(`INSERT INTO tevento (${EVENT_COLUMNS.map((c) => `\`${c}\``).join(', ')}) VALUES ?`, [c]),
    );
  }
  for (const c of chunks(
    ledger.map((l) => [l.sha256, l.fileName.slice(0, 255), ctx.serverName, l.agentId, ctx.nowSec]),
  )) {
    sql.push(
      fmt(
        `INSERT INTO ${LEDGER_TABLE} (file_sha256, file_name, server_name, id_agente, utimestamp) VALUES ?`,
        [c],
      ),
    );
  }
  return sql;
}
