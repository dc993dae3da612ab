/**
 * The alert side of the master's unknown detection (spec alerts.md §2.4, ha.md 2.7): HA's
 * markUnknownModules, given the dataserver's alert service as its hook, evaluates the `unknown`
 * and `not_normal` alerts of the modules it sets UNKNOWN in the same transaction, with value 0
 * and status 3; other template types and other modules are left alone. Real MariaDB.
 */
process.env['TZ'] = 'UTC';

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { silentLogger } from '../../src/core/log.js';
import { createMetricsRegistry } from '../../src/core/metrics.js';
import {
  DEFAULT_ALERT_CONFIG,
  createAlertService,
  decodeQueueData,
  type AlertService,
} from '../../src/dataserver/alerts/index.js';
import { connectionOptions } from '../../src/db/pool.js';
import { markUnknownModules } from '../../src/ha/index.js';
import { safeInput } from '../../src/pandora/index.js';
import { createSchemaDatabase, testDbServer, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let pool: mysql.Pool;
let service: AlertService;

async function sql(text: string, values: unknown[] = []): Promise<mysql.RowDataPacket[]> {
  const [rows] = await pool.query<mysql.RowDataPacket[]>(text, values);
  return rows;
}

async function insertId(text: string, values: unknown[]): Promise<number> {
  const [res] = await pool.query<mysql.ResultSetHeader>(text, values);
  return res.insertId;
}

before(async () => {
  db = await createSchemaDatabase('ti_alerts_unknown');
  pool = mysql.createPool({
    ...connectionOptions({ ...testDbServer(), database: db.name }),
    connectionLimit: 4,
  });
  service = createAlertService(
    { ...DEFAULT_ALERT_CONFIG, configRefreshSeconds: 0 },
    {
      pool,
      logger: silentLogger(),
      registry: createMetricsRegistry({ defaultMetrics: false }),
      startedAtSec: 0,
    },
  );
});
after(async () => {
  service.close();
  await pool.end();
  await db.drop();
});

async function overdueModule(agent: number, name: string, lastStatusChange: number) {
  const id = await insertId(
    "INSERT INTO tagente_modulo (id_agente, id_tipo_modulo, nombre, module_interval, descripcion) VALUES (?, 1, ?, 300, '')",
    [agent, name],
  );
  await sql(
    `INSERT INTO tagente_estado (id_agente_modulo, id_agente, estado, known_status, last_status,
       utimestamp, current_interval, datos, last_status_change)
     VALUES (?, ?, 0, 0, 0, UNIX_TIMESTAMP() - 1000, 300, '10.00000', ?)`,
    [id, agent, lastStatusChange],
  );
  return id;
}

async function alertOn(module: number, type: string): Promise<number> {
  const template = await insertId(
    'INSERT INTO talert_templates (name, type, max_value, time_threshold, max_alerts, recovery_notify, priority) VALUES (?, ?, 50, 86400, 1, 1, 4)',
    [safeInput(`${type} ${String(module)}`), type],
  );
  return insertId(
    'INSERT INTO talert_template_modules (id_agent_module, id_alert_template) VALUES (?, ?)',
    [module, template],
  );
}

async function counters(alert: number): Promise<[number, number]> {
  const [row] = await sql(
    'SELECT times_fired, internal_counter FROM talert_template_modules WHERE id = ?',
    [alert],
  );
  return [Number(row?.['times_fired']), Number(row?.['internal_counter'])];
}

test('modules going UNKNOWN evaluate their unknown / not_normal alerts, value 0, status 3', async () => {
  const agent = await insertId(
    "INSERT INTO tagente (nombre, alias, id_grupo, id_os, server_name) VALUES ('host1', 'host1', 2, 1, 'ours')",
    [],
  );
  const gone = await overdueModule(agent, 'cpu', 1_700_000_000);
  const unknownAlert = await alertOn(gone, 'unknown');
  const notNormal = await alertOn(gone, 'not_normal');
  const always = await alertOn(gone, 'always'); // not a type of the unknown path
  const fresh = await insertId(
    "INSERT INTO tagente_modulo (id_agente, id_tipo_modulo, nombre, module_interval, descripcion) VALUES (?, 1, 'fresh', 300, '')",
    [agent],
  );
  await sql(
    `INSERT INTO tagente_estado (id_agente_modulo, id_agente, estado, utimestamp, current_interval, datos)
     VALUES (?, ?, 0, UNIX_TIMESTAMP(), 300, '1')`,
    [fresh, agent],
  );
  const freshAlert = await alertOn(fresh, 'unknown');

  const conn = await pool.getConnection();
  try {
    await conn.beginTransaction();
    const changed = await markUnknownModules({ conn, epoch: 1 }, service);
    await conn.commit();
    assert.equal(changed, 1);
  } finally {
    conn.release();
  }

  assert.deepEqual(await counters(unknownAlert), [1, 1]);
  assert.deepEqual(await counters(notNormal), [1, 1]);
  assert.deepEqual(await counters(always), [0, 0], 'only unknown and not_normal templates');
  assert.deepEqual(await counters(freshAlert), [0, 0], 'a module with recent data');
  const rows = await sql('SELECT data FROM talert_execution_queue ORDER BY id');
  assert.equal(rows.length, 2);
  const dec = decodeQueueData(String(rows[0]?.['data'])) as unknown[];
  assert.equal(dec[0], 0, 'the unknown path queues the number 0');
  assert.equal(dec[4], 1);
  assert.equal((dec[2] as Record<string, unknown>)['id_agente_modulo'], gone);
  assert.deepEqual(dec[7], { _modulelaststatuschange_: 1_700_000_000 });
});

test('a rolled-back unknown pass leaves the alerts untouched', async () => {
  await sql('DELETE FROM talert_execution_queue');
  const [agentRow] = await sql("SELECT id_agente FROM tagente WHERE nombre = 'host1'");
  const gone = await overdueModule(Number(agentRow?.['id_agente']), 'disk', 0);
  const alert = await alertOn(gone, 'unknown');
  const conn = await pool.getConnection();
  try {
    await conn.beginTransaction();
    assert.equal(await markUnknownModules({ conn, epoch: 1 }, service), 1);
    await conn.rollback();
  } finally {
    conn.release();
  }
  assert.deepEqual(await counters(alert), [0, 0]);
  assert.equal((await sql('SELECT id FROM talert_execution_queue')).length, 0);
});
