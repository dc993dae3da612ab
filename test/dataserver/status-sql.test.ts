import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import type { ModuleStatus, StatusWrite } from '../../src/dataserver/types.js';
import {
  MIN_GROUPED_ROWS,
  STATUS_COLUMNS,
  statusRow,
  statusUpdateStatements,
} from '../../src/dataserver/writer/status-sql.js';
import { sqlRows } from '../../src/dataserver/writer/sql-values.js';
import { createSchemaDatabase } from '../helpers/db.js';

const BASE: ModuleStatus = {
  datos: '5.00000',
  estado: 0,
  knownStatus: 0,
  lastStatus: 0,
  lastKnownStatus: 0,
  statusChanges: 0,
  timestamp: '2026-11-22 03:00:00',
  lastTry: '2026-11-22 03:00:00',
  lastTryEpoch: 1795316400,
  utimestamp: 1795316400,
  currentInterval: 300,
  runningBy: 1,
  lastExecutionTry: 1795316400,
  lastError: 0,
  ffStartUtimestamp: 0,
  ffNormal: 0,
  ffWarning: 0,
  ffCritical: 0,
  lastStatusChange: 1795316400,
  warningCount: 0,
};

function write(id: number, stored: ModuleStatus | undefined, status: ModuleStatus): StatusWrite {
  return {
    insert: false,
    ref: { id },
    statusRef: { id },
    agentRef: { id: 1 + Math.floor(id / 10) },
    status,
    stored,
  };
}

/** The next packet's times, the same for every module of the packet. */
const tick = (s: ModuleStatus, sec: number): ModuleStatus => ({
  ...s,
  timestamp: `2026-11-22 03:0${String(sec / 60)}:00`,
  utimestamp: 1795316400 + sec,
  lastExecutionTry: 1795316400 + sec,
});

test('grouped status updates leave exactly the rows the full upsert leaves', async (t) => {
  const db = await createSchemaDatabase();
  t.after(() => db.drop());
  // 40 modules; each has a stored row, then a packet changes them in every way the logic can.
  const stored = new Map<number, ModuleStatus>();
  for (let id = 1; id <= 40; id++) {
    stored.set(id, { ...BASE, datos: id % 7 === 0 ? "it's \\ odd" : BASE.datos });
  }
  const writes: StatusWrite[] = [];
  for (const [id, before] of stored) {
    let next = tick(before, 60); // the common case: only the packet times move (one group)
    if (id % 10 === 1) next = { ...next, datos: `${String(id)}.50000`, lastTry: next.timestamp };
    if (id % 10 === 2) next = { ...next, estado: 1, lastStatus: 1, statusChanges: 300 };
    if (id === 3) next = before; // nothing changed: nothing to write
    if (id === 4) next = { ...next, datos: 'a\nb' };
    if (id >= 35) next = tick(before, 120); // a second packet: its own group
    writes.push(write(id, before, next));
  }
  writes.push(write(41, undefined, tick(BASE, 60))); // stored row unknown: full upsert

  const all = [...stored.entries(), [41, BASE] as const];
  const seed = sqlRows(all.map(([id, s]) => statusRow(write(id, undefined, s))));
  const columns = STATUS_COLUMNS.map((c) => `\`${c}\``).join(', ');
  await db.pool.query(`CREATE TABLE expected LIKE tagente_estado`);
  for (const table of ['tagente_estado', 'expected']) {
    await db.pool.query(`INSERT INTO ${table} (${columns}) VALUES ${seed}`);
  }

  const statements = statusUpdateStatements(writes);
  const grouped = statements.filter((s) => s.startsWith('UPDATE'));
  // One per packet time, and one for the four modules that went to WARNING alike.
  assert.equal(grouped.length, 3);
  assert.ok(grouped.every((s) => !s.includes('`datos`') && !s.includes('`id_agente`')));
  for (const s of statements) await db.pool.query(s);
  // What the reference-style full rewrite of every row gives.
  await db.pool.query(
    `REPLACE INTO expected (${columns}) VALUES ${sqlRows(writes.map((w) => statusRow(w)))}`,
  );

  const dump = async (table: string) =>
    (await db.pool.query<RowDataPacket[]>(`SELECT * FROM ${table} ORDER BY id_agente_estado`))[0];
  assert.deepEqual(await dump('tagente_estado'), await dump('expected'));
});

test('small groups go to the upsert instead of one statement each', () => {
  const writes: StatusWrite[] = [];
  for (let id = 1; id < MIN_GROUPED_ROWS; id++) writes.push(write(id, BASE, tick(BASE, 60)));
  const statements = statusUpdateStatements(writes);
  assert.equal(statements.length, 1);
  assert.match(statements[0] ?? '', /^INSERT INTO tagente_estado .* ON DUPLICATE KEY UPDATE/s);
  assert.deepEqual(statusUpdateStatements([write(1, BASE, BASE)]), []);
});

test('rows of two packets that alternate are grouped by their values, not by their order', () => {
  // Both packets change the same columns (their times), to different values.
  const writes: StatusWrite[] = [];
  for (let id = 1; id <= 8; id++) writes.push(write(id, BASE, tick(BASE, id % 2 === 1 ? 60 : 120)));
  const statements = statusUpdateStatements(writes);
  assert.equal(statements.length, 2);
  assert.match(statements[0] ?? '', /03:01:00'.* IN \(1,3,5,7\)$/);
  assert.match(statements[1] ?? '', /03:02:00'.* IN \(2,4,6,8\)$/);
});
