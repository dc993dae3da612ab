// The capacity study's alert setup (alerts.md §9) that `npm run bench -- --alerts` applies after
// the creation pass, on a real MariaDB with our Pandora schema and seeds: which modules get an
// alert, with which template and action, and the counts a pass is reported with.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import {
  CRITICAL_TEMPLATE_ID,
  EVENT_ACTION_ID,
  readAlertTableCounts,
  setupCapacityStudyAlerts,
} from '../../bench/e2e/alerts-setup.js';
import { createSchemaDatabase } from '../helpers/db.js';

const GENERIC_DATA = 1;
const GENERIC_PROC = 2;

interface ModuleSeed {
  readonly agent: string;
  readonly name: string;
  readonly type: number;
  readonly minCritical?: number;
  readonly maxCritical?: number;
  readonly deletePending?: number;
}

test('five critical-capable generic_data modules per agent get the critical template and the event action', async (t) => {
  const db = await createSchemaDatabase('ti_bench_alerts');
  t.after(() => db.drop());
  const pool = db.pool;
  const agentIds = new Map<string, number>();
  for (const name of ['web', 'db', 'proc-only']) {
    const [agent] = await pool.query<ResultSetHeader>(
      'INSERT INTO tagente (nombre, alias, id_grupo) VALUES (?, ?, 2)',
      [name, name],
    );
    agentIds.set(name, agent.insertId);
  }
  // Interleaved agents, so the per-agent numbering is really per agent.
  const seeds: ModuleSeed[] = [
    { agent: 'web', name: 'no_range', type: GENERIC_DATA }, // min = max: not critical-capable
    { agent: 'web', name: 'svc', type: GENERIC_PROC, minCritical: 75 },
    { agent: 'db', name: 'db_load_01', type: GENERIC_DATA, minCritical: 75 },
    { agent: 'web', name: 'gone', type: GENERIC_DATA, minCritical: 75, deletePending: 1 },
    { agent: 'proc-only', name: 'svc', type: GENERIC_PROC, minCritical: 75 },
    ...[1, 2, 3].map((n) => ({
      agent: 'web',
      name: `load_0${n}`,
      type: GENERIC_DATA,
      minCritical: 75,
    })),
    { agent: 'db', name: 'db_load_02', type: GENERIC_DATA, minCritical: 0, maxCritical: 10 },
    ...[4, 5, 6, 7].map((n) => ({
      agent: 'web',
      name: `load_0${n}`,
      type: GENERIC_DATA,
      minCritical: 75,
    })),
  ];
  const moduleIds = new Map<string, number>();
  for (const seed of seeds) {
    const [mod] = await pool.query<ResultSetHeader>(
      `INSERT INTO tagente_modulo (id_agente, id_tipo_modulo, nombre, id_modulo, min_critical,
         max_critical, delete_pending) VALUES (?, ?, ?, 1, ?, ?, ?)`,
      [
        agentIds.get(seed.agent),
        seed.type,
        seed.name,
        seed.minCritical ?? 0,
        seed.maxCritical ?? 0,
        seed.deletePending ?? 0,
      ],
    );
    moduleIds.set(`${seed.agent}/${seed.name}`, mod.insertId);
  }

  const counts = await setupCapacityStudyAlerts(pool, 5);
  assert.deepEqual(counts, { agents: 3, agentsWithAlerts: 2, alerts: 7, actions: 7 });

  const [alerts] = await pool.query<RowDataPacket[]>(
    `SELECT a.id_agent_module, a.id_alert_template, a.times_fired, a.disabled,
       a.last_reference > 0 AS has_reference,
       GROUP_CONCAT(x.id_alert_action) AS actions
     FROM talert_template_modules a
     LEFT JOIN talert_template_module_actions x ON x.id_alert_template_module = a.id
     GROUP BY a.id ORDER BY a.id_agent_module`,
  );
  const expected = [
    'db/db_load_01',
    'web/load_01',
    'web/load_02',
    'web/load_03',
    'db/db_load_02',
    'web/load_04',
    'web/load_05',
  ].map((key) => moduleIds.get(key));
  assert.deepEqual(
    alerts.map((r) => r['id_agent_module'] as number),
    expected,
    'the first five of web (load_06/07 left out), both of db, none of proc-only',
  );
  for (const row of alerts) {
    assert.equal(row['id_alert_template'], CRITICAL_TEMPLATE_ID);
    assert.equal(row['actions'], String(EVENT_ACTION_ID), 'exactly one action: the event');
    assert.deepEqual([row['times_fired'], row['disabled'], row['has_reference']], [0, 0, 1]);
  }

  // The seeds the scenario relies on: a critical-condition template and an event action.
  const [template] = await pool.query<RowDataPacket[]>(
    'SELECT type, priority FROM talert_templates WHERE id = ?',
    [CRITICAL_TEMPLATE_ID],
  );
  assert.deepEqual([template[0]?.['type'], template[0]?.['priority']], ['critical', 4]);
  const [action] = await pool.query<RowDataPacket[]>(
    `SELECT c.id AS command, c.internal FROM talert_actions a
     JOIN talert_commands c ON c.id = a.id_alert_command WHERE a.id = ?`,
    [EVENT_ACTION_ID],
  );
  assert.deepEqual([action[0]?.['command'], action[0]?.['internal']], [3, 1]);

  // Idempotent: a second setup adds nothing.
  assert.deepEqual(await setupCapacityStudyAlerts(pool, 5), counts);

  assert.deepEqual(await readAlertTableCounts(pool), { queueRows: 0, firedAlerts: 0 });
  await pool.query("INSERT INTO talert_execution_queue (data, utimestamp) VALUES ('x', 1)");
  await pool.query('UPDATE talert_template_modules SET times_fired = 1 WHERE id_agent_module = ?', [
    moduleIds.get('web/load_02'),
  ]);
  assert.deepEqual(await readAlertTableCounts(pool), { queueRows: 1, firedAlerts: 1 });
});
