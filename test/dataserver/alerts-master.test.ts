/**
 * spec alerts.md §2.3 (attaching from the XML; tests 35 and 17 at this level), §2.4 (the
 * master's unknown path, forced executions, fired counts), §5.5 / test 43 (missing executor),
 * test 40 at the transaction level, and the alert metrics — against real MariaDB.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { silentLogger } from '../../src/core/log.js';
import { createMetricsRegistry } from '../../src/core/metrics.js';
import {
  AlertQueueMonitor,
  attachAlertTemplates,
  createAlertMetrics,
  queueForcedExecutions,
  recomputeFiredCounts,
  recordAlertOutcome,
} from '../../src/dataserver/alerts/index.js';
import { safeInput } from '../../src/pandora/index.js';
import { createAlertFixture, type AlertFixture } from './alerts-fixture.js';

let f: AlertFixture;
before(async () => {
  f = await createAlertFixture();
});
after(() => f.close());

async function newModule(name: string): Promise<number> {
  const [m] = await f.sql(
    'INSERT INTO tagente_modulo (id_agente, nombre, id_tipo_modulo) VALUES (?, ?, 1) RETURNING id_agente_modulo',
    [f.hostId, name],
  );
  const id = Number(m?.['id_agente_modulo']);
  await f.sql("INSERT INTO tagente_estado (id_agente_modulo, id_agente, datos) VALUES (?, ?, '')", [
    id,
    f.hostId,
  ]);
  return id;
}

test('§8.35 attach from XML: duplicates once, unknown names ignored, last_reference = now; creating datum evaluated', async () => {
  await f.fresh();
  const m = await newModule('m35');
  const conn = await f.db.pool.getConnection();
  try {
    const ids = await attachAlertTemplates(
      conn,
      m,
      ['Critical condition', 'Critical condition', 'Nope'],
      f.clock.now,
    );
    assert.equal(ids.length, 1);
  } finally {
    conn.release();
  }
  const rows = await f.sql('SELECT * FROM talert_template_modules WHERE id_agent_module = ?', [m]);
  assert.equal(rows.length, 1);
  assert.equal(Number(rows[0]?.['id_alert_template']), 1);
  assert.equal(Number(rows[0]?.['last_reference']), f.clock.now);
  f.definitions.invalidate();
  await f.send(m, 95, { status: 1 });
  const [after95] = await f.sql(
    'SELECT times_fired FROM talert_template_modules WHERE id_agent_module = ?',
    [m],
  );
  assert.equal(Number(after95?.['times_fired']), 1, 'the creating datum (critical) fired it');
});

test("§8.17 onchange attached by name on creation: first datum fires (previous '')", async () => {
  await f.fresh();
  await f.sql(
    "INSERT INTO talert_templates (name, type, matches_value, time_threshold) VALUES (?, 'onchange', 1, 86400)",
    [safeInput('OC')],
  );
  const m = await newModule('m2');
  const conn = await f.db.pool.getConnection();
  const [id] = await attachAlertTemplates(conn, m, ['OC'], f.clock.now).finally(() => {
    conn.release();
  });
  assert.ok(id !== undefined);
  f.definitions.invalidate();
  await f.send(m, 5);
  assert.deepEqual(await f.counters(id), [1, 1]);
  await f.sql(
    'UPDATE talert_template_modules SET times_fired = 0, internal_counter = 0 WHERE id = ?',
    [id],
  );
  f.clock.advance(1);
  await f.send(m, 5);
  assert.deepEqual(await f.counters(id), [0, 0]);
  await f.send(m, 6);
  assert.deepEqual(await f.counters(id), [1, 1]);
});

test('§2.4 unknown path: only unknown/not_normal templates, value 0, status 3', async () => {
  const unknown = await f.fresh({ type: 'unknown' });
  const [maxTpl] = await f.sql(
    "INSERT INTO talert_templates (name, type, max_value, time_threshold) VALUES ('max-1', 'max', -1, 86400) RETURNING id",
  );
  const [other] = await f.sql(
    'INSERT INTO talert_template_modules (id_agent_module, id_alert_template) VALUES (?, ?) RETURNING id',
    [f.cpu, maxTpl?.['id']],
  );
  f.definitions.invalidate();
  const conn = await f.db.pool.getConnection();
  try {
    await conn.beginTransaction();
    await f.engine.evaluateUnknown(conn, {
      agentId: f.hostId,
      moduleId: f.cpu,
      lastStatusChange: 123,
    });
    await conn.commit();
  } finally {
    conn.release();
  }
  assert.deepEqual(await f.counters(unknown), [1, 1]);
  assert.deepEqual(
    await f.counters(Number(other?.['id'])),
    [0, 0],
    'a max template is not on the unknown path',
  );
  const [row] = await f.queue();
  assert.ok(row);
  assert.equal(row.dec[0], 0);
  assert.deepEqual(row.dec[7], { _modulelaststatuschange_: 123 });
});

test('§2.4 forced execution queues a forced row and clears the flag; fired counts recomputed', async () => {
  const a = await f.fresh({}, { force_execution: 1, disabled: 1 });
  const conn = await f.db.pool.getConnection();
  try {
    await conn.beginTransaction();
    assert.equal(await queueForcedExecutions(conn, await f.definitions.get(), f.clock.now), 1);
    await conn.commit();
  } finally {
    conn.release();
  }
  const [row] = await f.queue();
  assert.deepEqual(
    [row?.dec[0], row?.dec[4], row?.dec[5], row?.dec[6], row?.dec[7]],
    ['N/A', 1, null, 1, null],
  );
  assert.equal(Number((await f.alertRow(a))['force_execution']), 0);
  assert.deepEqual(await f.counters(a), [0, 0]);

  const b = await f.fresh();
  await f.send(f.cpu, 95);
  assert.deepEqual(await f.counters(b), [1, 1]);
  const c2 = await f.db.pool.getConnection();
  await recomputeFiredCounts(c2).finally(() => {
    c2.release();
  });
  const [agent] = await f.sql(
    'SELECT fired_count, update_alert_count FROM tagente WHERE id_agente = ?',
    [f.hostId],
  );
  assert.deepEqual([Number(agent?.['fired_count']), Number(agent?.['update_alert_count'])], [1, 0]);
});

test('§8.40 at the transaction level: a rolled-back datum leaves no fire; the replay fires once', async () => {
  const a = await f.fresh();
  const conn = await f.db.pool.getConnection();
  try {
    await conn.beginTransaction();
    const outcome = await f.engine.evaluateDatum(conn, {
      agentId: f.hostId,
      moduleId: f.cpu,
      datum: { value: '95.00000', status: 0, utimestamp: f.clock.now, previousValue: '10.00000' },
      timestampText: null,
      lastStatusChange: 0,
      forcedStatus: null,
    });
    assert.equal(outcome.fired, 1);
    await conn.rollback(); // the crash before commit
  } finally {
    conn.release();
  }
  assert.deepEqual(await f.counters(a), [0, 0]);
  assert.equal((await f.queue()).length, 0);
  await f.send(f.cpu, 95); // the replayed file
  assert.deepEqual(await f.counters(a), [1, 1]);
  assert.equal((await f.queue()).length, 1);
});

test('§8.43 missing executor: one delay event per hour, none with a live Alert Server; queue metrics', async () => {
  await f.fresh();
  await f.send(f.cpu, 95);
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const metrics = createAlertMetrics(registry);
  const monitor = new AlertQueueMonitor({
    db: f.db.pool,
    warnSeconds: 5,
    logger: silentLogger(),
    metrics,
  });
  const notYet = await monitor.check(f.clock.now + 3, true);
  assert.deepEqual([notYet.rows, notYet.delayed], [1, false]);
  const first = await monitor.check(f.clock.now + 6, true);
  assert.deepEqual([first.delayed, first.eventWritten, first.oldestAgeSeconds], [true, true, 6]);
  const second = await monitor.check(f.clock.now + 60, true);
  assert.deepEqual([second.delayed, second.eventWritten], [true, false]);
  const events = await f.events("event_type = 'system'");
  assert.equal(events.length, 1);
  assert.equal(events[0]?.['evento'], safeInput('Alert execution delay has exceeded 5 seconds.'));
  assert.equal(Number(events[0]['criticity']), 3);
  const text = await registry.metrics();
  assert.match(text, /pandora_alert_queue_rows 1/);
  assert.match(text, /pandora_alert_queue_oldest_age_seconds 60/);
  await f.sql("INSERT INTO tserver (name, server_type, status) VALUES ('perl-alerts', 21, 1)");
  const alive = await monitor.check(f.clock.now + 7200, true);
  assert.deepEqual([alive.executorAlive, alive.delayed, alive.eventWritten], [true, false, false]);
  recordAlertOutcome(metrics, { evaluated: 2, fired: 1, recovered: 0, ceased: 1, queued: 1 });
  const after = await registry.metrics();
  assert.match(after, /pandora_alerts_evaluated_total 2/);
  assert.match(after, /pandora_alerts_results_total\{result="fired"\} 1/);
  assert.match(after, /pandora_alerts_results_total\{result="ceased"\} 1/);
});
