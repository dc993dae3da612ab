/**
 * The batch's deferred alert writes (deferred-writes.ts): several values of one module in one
 * transaction give the same counters, queue rows and flags whether each write is sent at once
 * or held and sent as multi-row statements before COMMIT; the multi-row counter UPDATE leaves
 * the columns an update does not set.
 */
process.env['TZ'] = 'UTC';

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { connectionOptions } from '../../src/db/pool.js';
import {
  DeferredAlertWrites,
  deferringConnection,
  type AlertConnection,
} from '../../src/dataserver/alerts/index.js';
import { testDbServer } from '../helpers/db.js';
import { createAlertFixture, type AlertFixture } from './alerts-fixture.js';

let f: AlertFixture;
let conn: mysql.Connection;
before(async () => {
  f = await createAlertFixture();
  conn = await mysql.createConnection(
    connectionOptions({ ...testDbServer(), database: f.db.name }),
  );
});
after(async () => {
  await conn.end();
  await f.close();
});

/**
 * Evaluates `values` of module cpu in one transaction, one clock second apart, with the rows
 * the batch reads once (agent, module, locked alert rows), as alert-step.ts does.
 */
async function oneTransaction(values: number[], deferred?: DeferredAlertWrites) {
  const alertConn: AlertConnection =
    deferred === undefined ? conn : deferringConnection(conn, deferred);
  const [agentRow] = await f.sql('SELECT * FROM tagente WHERE id_agente = ?', [f.hostId]);
  const [moduleRow] = await f.sql('SELECT * FROM tagente_modulo WHERE id_agente_modulo = ?', [
    f.cpu,
  ]);
  assert.ok(agentRow && moduleRow);
  const locked = { alertRows: new Map<number, Record<string, unknown>>(), groupDisabled: false };
  let reads = 0;
  const counting: AlertConnection = {
    ...alertConn,
    query: ((...args: Parameters<typeof conn.query>) => {
      reads++;
      return alertConn.query(...args);
    }) as AlertConnection['query'],
  };
  await conn.query('START TRANSACTION');
  let previous = '10.00000';
  for (const v of values) {
    f.clock.advance(1);
    const value = v.toFixed(5);
    await f.engine.evaluateDatum(counting, {
      agentId: f.hostId,
      moduleId: f.cpu,
      datum: { value, status: 0, utimestamp: f.clock.now, previousValue: previous },
      timestampText: null,
      lastStatusChange: 0,
      forcedStatus: null,
      agentRow,
      moduleRow,
      locked,
    });
    previous = value;
  }
  for (const statement of deferred?.take() ?? []) await conn.query(statement);
  await conn.query('COMMIT');
  return reads;
}

type Dict = Record<string, unknown>;

async function resultOf(alertId: number) {
  const row = await f.alertRow(alertId);
  const [agent] = await f.sql('SELECT update_alert_count FROM tagente WHERE id_agente = ?', [
    f.hostId,
  ]);
  return {
    counters: await f.counters(alertId),
    lastFiredAge: f.clock.now - Number(row['last_fired']),
    lastReferenceAge: f.clock.now - Number(row['last_reference']),
    flagged: Number(agent?.['update_alert_count']),
    queue: (await f.queue()).map(({ dec }) => {
      const alert = dec[3] as Dict;
      return [dec[0], dec[4], alert['times_fired'], alert['internal_counter']];
    }),
  };
}

test('one batch, one module: held writes give what writes sent one by one give', async () => {
  // fire, hold, recover, hold below, fire again, hold: counters move within the batch.
  const values = [95, 96, 10, 20, 97, 98];
  const immediate = await f.fresh();
  await oneTransaction(values);
  const expected = await resultOf(immediate);
  const held = await f.fresh();
  const deferred = new DeferredAlertWrites();
  const reads = await oneTransaction(values, deferred);
  assert.equal(reads, 1, 'one read (the alert row lock); no write went out before COMMIT');
  assert.ok(deferred.isEmpty, 'everything held was sent');
  assert.deepEqual(await resultOf(held), expected);
  assert.deepEqual(expected.counters, [1, 2]);
  assert.deepEqual(
    expected.queue.map((q) => q[1]),
    [1, 0, 1],
    'fired, recovered, fired in datum order',
  );
  assert.equal(expected.flagged, 1);
});

test('the multi-row counter UPDATE sets only the columns each alert changed', async () => {
  const a = await f.fresh();
  await f.sql(
    'UPDATE talert_template_modules SET times_fired = 3, internal_counter = 7, last_fired = 111, last_reference = 222 WHERE id = ?',
    [a],
  );
  const other = await f.sql(
    'INSERT INTO talert_template_modules (id_agent_module, id_alert_template, times_fired, internal_counter, last_fired, last_reference) SELECT ?, id_alert_template, 5, 5, 5, 5 FROM talert_template_modules WHERE id = ?',
    [f.load, a],
  );
  const otherId = (other as unknown as mysql.ResultSetHeader).insertId;
  const deferred = new DeferredAlertWrites();
  deferred.counter(a, { internal_counter: 0 }); // a counter reset
  deferred.counter(otherId, { times_fired: 1, internal_counter: 1, last_fired: 900 });
  deferred.counter(otherId, { times_fired: 2, internal_counter: 2 }); // later wins per column
  const statements = deferred.take();
  assert.equal(statements.length, 1, 'one UPDATE for both alerts');
  for (const s of statements) await f.sql(s);
  const pick = async (id: number) => {
    const row = await f.alertRow(id);
    return ['times_fired', 'internal_counter', 'last_fired', 'last_reference'].map((c) =>
      Number(row[c]),
    );
  };
  assert.deepEqual(await pick(a), [3, 0, 111, 222]);
  assert.deepEqual(await pick(otherId), [2, 2, 900, 5]);
});
