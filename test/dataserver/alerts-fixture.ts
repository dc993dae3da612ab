/**
 * Fixture of spec alerts.md §8 at the level the alert module works at: a real MariaDB database
 * with the Pandora schema and seeds, agent `host1` (group Servers) with modules `cpu`, `load`
 * (min_warning 70, min_critical 90) and a string module `log`, and `send()`, which does what the
 * batch will do for one accepted datum — update the status row, insert history, evaluate the
 * module's alerts — in one transaction. The server clock is a fake one the tests move forward,
 * so "wait 7 s" is a clock step, not a sleep.
 */
process.env['TZ'] = 'UTC';

import mysql from 'mysql2/promise';
import { connectionOptions } from '../../src/db/pool.js';
import { silentLogger } from '../../src/core/log.js';
import {
  AlertDefinitionCache,
  AlertEngine,
  AlertWarmUp,
  DEFAULT_ALERT_CONFIG,
  DeferredAlertWrites,
  deferringConnection,
  alertClock,
  decodeQueueData,
  type AlertConfig,
  type AlertOutcome,
} from '../../src/dataserver/alerts/index.js';
import { safeInput } from '../../src/pandora/index.js';
import { createSchemaDatabase, testDbServer, type TestDatabase } from '../helpers/db.js';

type Rows = mysql.RowDataPacket[];

export interface FakeClock {
  now: number;
  advance(seconds: number): void;
}

export interface SendOptions {
  readonly status?: number;
  /** The previous value the batch read (defaults to the status row's datos). */
  readonly previous?: string;
  readonly timestampText?: string;
}

export interface AlertFixture {
  readonly db: TestDatabase;
  readonly clock: FakeClock;
  readonly engine: AlertEngine;
  readonly definitions: AlertDefinitionCache;
  readonly hostId: number;
  readonly cpu: number;
  readonly load: number;
  readonly log: number;
  /** The action of `Tmax` (command `echo _field1_ …`, internal 0). */
  readonly actionId: number;
  send(moduleId: number, value: string | number, options?: SendOptions): Promise<AlertOutcome>;
  seq(moduleId: number, ...values: (string | number)[]): Promise<[number, number][]>;
  /** Clears alerts, queue and events; inserts a template (Tmax + overrides) and its alert. */
  fresh(template?: Record<string, unknown>, alert?: Record<string, unknown>): Promise<number>;
  counters(alertId: number): Promise<[number, number]>;
  alertRow(alertId: number): Promise<Record<string, unknown>>;
  queue(): Promise<{ row: Record<string, unknown>; dec: unknown[] }[]>;
  events(where?: string): Promise<Record<string, unknown>[]>;
  sql(sql: string, values?: unknown[]): Promise<Rows>;
  close(): Promise<void>;
}

/** `Tmax` of §8. */
export const TMAX: Record<string, unknown> = {
  name: safeInput('Tmax'),
  type: 'max',
  max_value: 50,
  time_threshold: 86400,
  max_alerts: 1,
  min_alerts: 0,
  recovery_notify: 1,
  priority: 4,
  schedule: null,
};

function statusOf(moduleRow: Record<string, unknown>, value: string): number {
  const minCritical = Number(moduleRow['min_critical'] ?? 0);
  const minWarning = Number(moduleRow['min_warning'] ?? 0);
  const n = Number(value);
  if (minCritical !== 0 && n >= minCritical) return 1;
  if (minWarning !== 0 && n >= minWarning) return 2;
  return 0;
}

function dataTimestamp(epoch: number): string {
  const c = alertClock(epoch);
  return `${c.date.replaceAll('-', '/')} ${c.hms}`;
}

export async function createAlertFixture(
  config: Partial<AlertConfig> = {},
  startedAt?: number,
): Promise<AlertFixture> {
  const db = await createSchemaDatabase('ti_alerts');
  // The server's connection options (DATETIME/DATE as strings, utf8mb4), not the helper's.
  const pool = mysql.createPool({
    ...connectionOptions({ ...testDbServer(), database: db.name }),
    connectionLimit: 4,
  });
  const sql = async (text: string, values: unknown[] = []): Promise<Rows> => {
    const [rows] = await pool.query<Rows>(text, values);
    return rows;
  };
  const clock: FakeClock = {
    now: Math.floor(Date.now() / 1000),
    advance(seconds) {
      this.now += seconds;
    },
  };
  const insertId = async (text: string, values: unknown[]) => {
    const [result] = await pool.query<mysql.ResultSetHeader>(text, values);
    return result.insertId;
  };
  const hostId = await insertId(
    "INSERT INTO tagente (nombre, alias, id_grupo, id_os, server_name) VALUES ('host1', 'host1', 2, 1, 'ours')",
    [],
  );
  const addModule = async (name: string, type: number, extra: Record<string, unknown> = {}) => {
    const cols = ['id_agente', 'nombre', 'id_tipo_modulo', 'descripcion', ...Object.keys(extra)];
    const id = await insertId(
      `INSERT INTO tagente_modulo (${cols.map((c) => `\`${c}\``).join(', ')}) VALUES (?)`,
      [[hostId, name, type, '', ...Object.values(extra)]],
    );
    await sql(
      'INSERT INTO tagente_estado (id_agente_modulo, id_agente, datos, estado, utimestamp, last_status_change) VALUES (?, ?, ?, 0, ?, ?)',
      [id, hostId, type === 3 ? 'start' : '10.00000', clock.now - 60, clock.now - 600],
    );
    return id;
  };
  const cpu = await addModule('cpu', 1);
  const load = await addModule('load', 1, { min_warning: 70, min_critical: 90 });
  const log = await addModule('log', 3);
  const commandId = await insertId(
    'INSERT INTO talert_commands (name, command, internal) VALUES (?, ?, 0)',
    [
      safeInput('Echo to file'),
      safeInput('echo _field1_ _agent_ _module_ _data_ _alert_times_fired_ >> /tmp/alerts-out'),
    ],
  );
  const actionId = await insertId(
    'INSERT INTO talert_actions (name, id_alert_command, field1, field1_recovery) VALUES (?, ?, ?, ?)',
    [safeInput('Echo action'), commandId, 'FIRED', 'RECOVERED'],
  );

  const fullConfig: AlertConfig = { ...DEFAULT_ALERT_CONFIG, ...config };
  const definitions = new AlertDefinitionCache(
    pool,
    fullConfig.configRefreshSeconds,
    () => clock.now,
  );
  const engine = new AlertEngine({
    config: fullConfig,
    definitions,
    warmUp: new AlertWarmUp(startedAt ?? clock.now, fullConfig.warmupSeconds),
    logger: silentLogger(),
    nowSeconds: () => clock.now,
  });

  async function send(moduleId: number, value: string | number, options: SendOptions = {}) {
    const [moduleRow] = await sql('SELECT * FROM tagente_modulo WHERE id_agente_modulo = ?', [
      moduleId,
    ]);
    const [state] = await sql('SELECT * FROM tagente_estado WHERE id_agente_modulo = ?', [
      moduleId,
    ]);
    if (moduleRow === undefined || state === undefined) throw new Error('no such module');
    const isString = Number(moduleRow['id_tipo_modulo']) === 3;
    const stored = isString ? String(value) : Number(String(value).replace(',', '.')).toFixed(5);
    const status = options.status ?? (isString ? 0 : statusOf(moduleRow, stored));
    const u = clock.now;
    const lastStatusChange = Number(state['last_status_change']);
    const conn = await pool.getConnection();
    try {
      await conn.beginTransaction();
      await conn.query(
        'UPDATE tagente_estado SET datos = ?, estado = ?, utimestamp = ?, last_status_change = ? WHERE id_agente_modulo = ?',
        [stored, status, u, status !== Number(state['estado']) ? u : lastStatusChange, moduleId],
      );
      if (!isString)
        await conn.query(
          'INSERT INTO tagente_datos (id_agente_modulo, datos, utimestamp) VALUES (?, ?, ?)',
          [moduleId, stored, u],
        );
      // The batch's path: writes held back and sent just before COMMIT (deferred-writes.ts).
      const deferred = new DeferredAlertWrites();
      const outcome = await engine.evaluateDatum(deferringConnection(conn, deferred), {
        agentId: Number(moduleRow['id_agente']),
        moduleId,
        datum: {
          value: stored,
          status,
          utimestamp: u,
          previousValue: options.previous ?? String(state['datos'] ?? ''),
        },
        timestampText: options.timestampText ?? dataTimestamp(u),
        lastStatusChange,
        forcedStatus: null,
      });
      for (const statement of deferred.take()) await conn.query(statement);
      await conn.commit();
      return outcome;
    } catch (err) {
      await conn.rollback();
      throw err;
    } finally {
      conn.release();
    }
  }

  async function counters(alertId: number): Promise<[number, number]> {
    const [row] = await sql(
      'SELECT times_fired, internal_counter FROM talert_template_modules WHERE id = ?',
      [alertId],
    );
    return [Number(row?.['times_fired']), Number(row?.['internal_counter'])];
  }

  let currentAlert = 0;
  return {
    db,
    clock,
    engine,
    definitions,
    hostId,
    cpu,
    load,
    log,
    actionId,
    send,
    async seq(moduleId, ...values) {
      const out: [number, number][] = [];
      for (const v of values) {
        await send(moduleId, v);
        out.push(await counters(currentAlert));
      }
      return out;
    },
    async fresh(template = {}, alert = {}) {
      await sql('DELETE FROM talert_template_modules');
      await sql('DELETE FROM talert_execution_queue');
      await sql('DELETE FROM tevento');
      await sql(
        'UPDATE tagente SET update_alert_count = 0, quiet = 0, cascade_protection = 0, id_parent = 0',
      );
      await sql('UPDATE tagente_modulo SET quiet = 0');
      await sql('UPDATE tgrupo SET disabled = 0');
      const t = { ...TMAX, ...template };
      const templateId = await insertId(
        `INSERT INTO talert_templates (${Object.keys(t)
          .map((c) => `\`${c}\``)
          .join(', ')}) VALUES (?)`,
        [Object.values(t)],
      );
      const a: Record<string, unknown> = {
        id_agent_module: cpu,
        id_alert_template: templateId,
        ...alert,
      };
      currentAlert = await insertId(
        `INSERT INTO talert_template_modules (${Object.keys(a)
          .map((c) => `\`${c}\``)
          .join(', ')}) VALUES (?)`,
        [Object.values(a)],
      );
      await sql(
        'INSERT INTO talert_template_module_actions (id_alert_template_module, id_alert_action) VALUES (?, ?)',
        [currentAlert, actionId],
      );
      definitions.invalidate();
      return currentAlert;
    },
    counters,
    async alertRow(alertId) {
      const [row] = await sql('SELECT * FROM talert_template_modules WHERE id = ?', [alertId]);
      return row ?? {};
    },
    async queue() {
      const rows = await sql('SELECT * FROM talert_execution_queue ORDER BY id');
      return rows.map((row) => ({ row, dec: decodeQueueData(String(row['data'])) as unknown[] }));
    },
    async events(where = '1') {
      return sql(`SELECT * FROM tevento WHERE ${where} ORDER BY id_evento`);
    },
    sql,
    async close() {
      await pool.end();
      await db.drop();
    },
  };
}
