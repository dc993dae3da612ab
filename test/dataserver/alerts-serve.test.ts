/**
 * Module alerts through a real `serve` process (spec alerts.md §5.2, §8 test 40):
 *
 * - real Tentacle client bytes → serve's listener → spool → batch → `talert_execution_queue`:
 *   the row is checked byte for byte (MIME-framed base64 of the UTF-8 JSON) against the §5.2
 *   example payload, set up with the example's names and ids;
 * - exactly once across a SIGKILL of serve inside the batch transaction that evaluates the alert
 *   (held at the alert row lock), then a restart that replays the claimed file.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { decodeQueueData, encodeQueueData, type Row } from '../../src/dataserver/alerts/index.js';
import { connectionOptions } from '../../src/db/pool.js';
import { safeInput } from '../../src/pandora/index.js';
import { connect } from '../../src/tentacle/index.js';
import { createSchemaDatabase, testDbServer, type TestDatabase } from '../helpers/db.js';
import { freePort } from '../helpers/net.js';
import { tempDir } from '../helpers/tmp.js';
import { dropFile } from './harness.js';
import { killHard, startServe, waitFor } from './child.js';

type Dict = Record<string, unknown>;

function agentXml(agent: string, time: string, value: string | number): string {
  return `<?xml version='1.0' encoding='UTF-8'?>
<agent_data agent_name='${agent}' group='Servers' os_name='Linux' interval='300' timestamp='${time}'>
<module><name>cpu</name><type>generic_data</type><data>${String(value)}</data></module>
</agent_data>`;
}

/** A pool with the server's connection options (DATETIME as text, utf8mb4, big numbers). */
function serverLikePool(db: TestDatabase): mysql.Pool {
  return mysql.createPool({
    ...connectionOptions({ ...testDbServer(), database: db.name }),
    connectionLimit: 3,
  });
}

async function rowsOf(pool: mysql.Pool, sql: string, values: unknown[] = []): Promise<Row[]> {
  const [rows] = await pool.query<mysql.RowDataPacket[]>(sql, values);
  return rows;
}

/** Today's date at `hms` in the agent's text form (UTC; serve runs with TZ=UTC). */
function todayAt(hms: string): string {
  return `${new Date().toISOString().slice(0, 10).replaceAll('-', '/')} ${hms}`;
}

/** The §5.2 example's values as shown (ids: the fresh database gives agent 1, module 1). */
const SPEC_AGENT: Dict = {
  id_agente: 1,
  nombre: 'alert-host',
  alias: 'alert-host',
  id_grupo: 2,
  id_os: 1,
  direccion: '',
  intervalo: 300,
  server_name: 'perl-probe',
  quiet: 0,
  disabled: 0,
  cascade_protection: 0,
  update_alert_count: 0,
  fired_count: 0,
};
const SPEC_MODULE: Dict = {
  id_agente_modulo: 1,
  id_agente: 1,
  nombre: 'cpu',
  id_tipo_modulo: 1,
  descripcion: '',
  quiet: 0,
  disabled: 0,
  module_macros: '',
  critical_instructions: '',
  // NULL as the reference leaves it without a <unit> tag (its own queue rows show null).
  unit: null,
  status: null,
};
const SPEC_ALERT: Dict = {
  id_template_module: 100,
  id: 100,
  id_agent_module: 1,
  id_alert_template: 100,
  name: 'Bar max 50',
  type: 'max',
  max_value: 50,
  min_value: 0,
  value: '',
  matches_value: 0,
  time_threshold: 300,
  max_alerts: 1,
  min_alerts: 0,
  times_fired: 1,
  internal_counter: 1,
  last_fired: 0,
  last_reference: 0,
  recovery_notify: 1,
  priority: 4,
  id_alert_action: 100,
  standby: 0,
  disabled: 0,
  disable_event: 0,
  field1: 'T1',
  field2: 'T2',
  field3: null,
};

test(
  '§5.2 Tentacle bytes → serve → queue row, byte for byte against the example payload',
  { timeout: 180_000 },
  async (t) => {
    const db = await createSchemaDatabase('ti_alert_wire');
    t.after(() => db.drop());
    const tmp = tempDir('ti-alert-wire-');
    t.after(() => {
      tmp.cleanup();
    });
    const pool = serverLikePool(db);
    t.after(() => pool.end());
    const port = await freePort();
    const serve = await startServe({
      incomingDir: join(tmp.path, 'data_in'),
      dbName: db.name,
      serverName: 'perl-probe',
      tentaclePort: port,
      extra: ['--alert_config_refresh', '0'],
    });
    t.after(() => killHard(serve));
    const upload = async (name: string, xml: string) => {
      const session = await connect({ host: '127.0.0.1', port, timeoutMs: 30_000 });
      await session.send(name, Buffer.from(xml));
      await session.quit();
    };

    await upload('alert-host.1.data', agentXml('alert-host', todayAt('06:50:00'), 10));
    await waitFor(
      async () => (await rowsOf(pool, 'SELECT id_agente_modulo FROM tagente_estado')).length > 0,
      60_000,
      'the agent and its module',
    );
    await pool.query(
      "INSERT INTO talert_actions (id, name, id_alert_command, field1) VALUES (100, 'Bar&#x20;action', 1, '')",
    );
    await pool.query(
      `INSERT INTO talert_templates (id, name, type, max_value, min_value, value, matches_value,
         time_threshold, max_alerts, min_alerts, recovery_notify, priority, id_alert_action,
         field1, field2, field3) VALUES (100, ?, 'max', 50, 0, '', 0, 300, 1, 0, 1, 4, 100, 'T1', 'T2', NULL)`,
      ['Bar max 50'],
    );
    await pool.query(
      'INSERT INTO talert_template_modules (id, id_agent_module, id_alert_template) VALUES (100, 1, 100)',
    );
    const [status] = await rowsOf(
      pool,
      'SELECT last_status_change FROM tagente_estado WHERE id_agente_modulo = 1',
    );

    await upload('alert-host.2.data', agentXml('alert-host', todayAt('06:58:33'), 95));
    await waitFor(
      async () => (await rowsOf(pool, 'SELECT id FROM talert_execution_queue')).length > 0,
      60_000,
      'the queue row',
    );
    const [row] = await rowsOf(pool, 'SELECT data, utimestamp FROM talert_execution_queue');
    const data = String(row?.['data']);
    assert.ok(Math.abs(Number(row?.['utimestamp']) - Date.now() / 1000) < 60);

    // The example's values, as shown in the spec.
    const [value, agent, module, alert, mode, timestamp, forced, macros] = decodeQueueData(
      data,
    ) as [string, Dict, Dict, Dict, number, string, number, Dict];
    assert.equal(value, '95.00000');
    for (const [k, v] of Object.entries(SPEC_AGENT)) assert.deepEqual(agent[k], v, `agent.${k}`);
    for (const [k, v] of Object.entries(SPEC_MODULE)) assert.deepEqual(module[k], v, `module.${k}`);
    assert.equal(Number(module['module_interval']), 300);
    for (const [k, v] of Object.entries(SPEC_ALERT)) assert.deepEqual(alert[k], v, `alert.${k}`);
    assert.deepEqual([mode, timestamp, forced], [1, todayAt('06:58:33'), 0]);
    assert.deepEqual(macros, {
      _modulelaststatuschange_: Number(status?.['last_status_change']),
    });

    // Byte for byte: the same array, built from the rows as stored, in their column order,
    // MIME-framed. After the commit only the agent's alert flag moved (update_alert_count 1,
    // or a master's recount); the alert keeps its old last_fired/last_reference (§4).
    const [agentRow] = await rowsOf(pool, 'SELECT * FROM tagente WHERE id_agente = 1');
    const [moduleRow] = await rowsOf(
      pool,
      'SELECT * FROM tagente_modulo WHERE id_agente_modulo = 1',
    );
    const [alertRow] = await rowsOf(pool, 'SELECT * FROM talert_template_modules WHERE id = 100');
    const [templateRow] = await rowsOf(pool, 'SELECT * FROM talert_templates WHERE id = 100');
    const expected = encodeQueueData(
      JSON.stringify([
        '95.00000',
        { ...agentRow, update_alert_count: 0, fired_count: 0 },
        { ...moduleRow, status: null },
        {
          ...alertRow,
          last_fired: 0,
          last_reference: 0,
          ...templateRow,
          id_template_module: 100,
        },
        1,
        todayAt('06:58:33'),
        0,
        { _modulelaststatuschange_: Number(status?.['last_status_change']) },
      ]),
    );
    assert.equal(data, expected);
    assert.match(data, /^([A-Za-z0-9+/]{76}\n)*[A-Za-z0-9+/=]{1,76}\n$/);
    assert.ok(data.startsWith('WyI5NS4wMDAwMCIseyJ'), 'starts with ["95.00000",{"');
  },
);

test(
  '§8.40 exactly once: SIGKILL inside the alert transaction, restart → (1, 1) and one row',
  { timeout: 240_000 },
  async (t) => {
    const db = await createSchemaDatabase('ti_alert_kill');
    t.after(() => db.drop());
    const tmp = tempDir('ti-alert-kill-');
    t.after(() => {
      tmp.cleanup();
    });
    const pool = serverLikePool(db);
    t.after(() => pool.end());
    const incoming = join(tmp.path, 'data_in');
    const options = {
      incomingDir: incoming,
      dbName: db.name,
      serverName: 'killme01',
      extra: ['--alert_config_refresh', '0'],
    };
    let serve = await startServe(options);
    t.after(() => killHard(serve));

    dropFile(incoming, 'host1.1.data', agentXml('host1', todayAt('00:00:01'), 10));
    await waitFor(
      async () => (await rowsOf(pool, 'SELECT id_agente_modulo FROM tagente_estado')).length > 0,
      60_000,
      'host1 and cpu',
    );
    const [tpl] = await pool.query<mysql.ResultSetHeader>(
      "INSERT INTO talert_templates (name, type, max_value, time_threshold, max_alerts, min_alerts, recovery_notify, priority) VALUES (?, 'max', 50, 86400, 1, 0, 1, 4)",
      [safeInput('Tmax')],
    );
    const [al] = await pool.query<mysql.ResultSetHeader>(
      'INSERT INTO talert_template_modules (id_agent_module, id_alert_template) SELECT id_agente_modulo, ? FROM tagente_modulo',
      [tpl.insertId],
    );
    const alertId = al.insertId;

    // Hold the alert row: serve's batch stops at its SELECT … FOR UPDATE, mid-transaction.
    const holder = await pool.getConnection();
    t.after(() => {
      holder.release();
    });
    await holder.beginTransaction();
    await holder.query('SELECT id FROM talert_template_modules WHERE id = ? FOR UPDATE', [alertId]);
    dropFile(incoming, 'host1.2.data', agentXml('host1', todayAt('00:00:02'), 95));
    await waitFor(
      async () =>
        (
          await rowsOf(
            pool,
            "SELECT trx_id FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'",
          )
        ).length > 0,
      60_000,
      "serve's batch waiting on the alert row",
    );
    await killHard(serve);
    await holder.rollback();

    const counters = async () => {
      const [r] = await rowsOf(
        pool,
        'SELECT times_fired, internal_counter FROM talert_template_modules WHERE id = ?',
        [alertId],
      );
      return [Number(r?.['times_fired']), Number(r?.['internal_counter'])];
    };
    const queueRows = async () =>
      (await rowsOf(pool, 'SELECT id FROM talert_execution_queue')).length;
    await waitFor(
      async () =>
        (await rowsOf(pool, 'SELECT trx_id FROM information_schema.innodb_trx')).length === 0,
      60_000,
      'the killed transaction rolled back',
    );
    assert.deepEqual(await counters(), [0, 0], 'nothing of the killed batch committed');
    assert.equal(await queueRows(), 0);

    serve = await startServe(options);
    await waitFor(async () => (await queueRows()) > 0, 60_000, 'the replayed file fired');
    await new Promise((r) => setTimeout(r, 2000)); // any second evaluation would land by now
    assert.deepEqual(await counters(), [1, 1]);
    assert.equal(await queueRows(), 1, 'exactly one queue row');
    const [ledger] = await rowsOf(pool, 'SELECT COUNT(*) AS n FROM tingest_ledger');
    assert.equal(Number(ledger?.['n']), 2, 'both files committed once');
  },
);
