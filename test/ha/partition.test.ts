// Fencing under partial failure (ha.md §5.2 E11/E12): a master cut off from the database by a
// loopback proxy stops its master duties before a peer takes over; a master paused with
// SIGSTOP beyond its lease commits nothing after it resumes. The audit of fenced actions
// proves that no two epochs ever acted at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { pandoraTablesDdl } from '../../src/db/index.js';
import { createTestDatabase, testDbServer, type TestDatabase } from '../helpers/db.js';
import { createTcpProxy } from '../helpers/tcp-proxy.js';
import {
  LOAD_SLACK_MS,
  TAKEOVER_BOUND_MS,
  TEST_TIMINGS,
  assertAuditNoOverlap,
  becameMaster,
  becameStandby,
  currentLease,
  eventually,
  killAll,
  spawnNode,
  type NodeProcess,
} from './fixtures/cluster.js';
import { teardown } from '../helpers/teardown.js';

const START_TIMEOUT_MS = 40_000;

async function freshDb(cleanup: (fn: () => unknown) => void): Promise<TestDatabase> {
  const db = await createTestDatabase('ti_ha');
  cleanup(() => db.drop());
  for (const ddl of pandoraTablesDdl()) await db.pool.query(ddl);
  return db;
}

async function auditRows(db: TestDatabase, epoch: number): Promise<number> {
  const [rows] = await db.pool.query<RowDataPacket[]>(
    'SELECT COUNT(*) AS n FROM tha_master_audit WHERE epoch = ?',
    [epoch],
  );
  return Number(rows[0]?.['n'] ?? 0);
}

test('a master cut off from the database stops its duties before a peer takes over, then rejoins', async (t) => {
  const cleanup = teardown(t);
  const db = await freshDb(cleanup);
  const server = testDbServer();
  const proxy = await createTcpProxy({ host: server.host, port: server.port });
  cleanup(() => proxy.close());
  const nodes: NodeProcess[] = [];
  cleanup(() => killAll(nodes));

  // The partitioned master reaches MariaDB only through the proxy; its peer connects directly.
  const m = spawnNode({ name: 'srv-m', master: 5, dbName: db.name, dbPort: proxy.port });
  nodes.push(m);
  await m.waitFor(becameMaster, START_TIMEOUT_MS, 'srv-m master');
  const s = spawnNode({ name: 'srv-s', master: 3, dbName: db.name });
  nodes.push(s);
  await s.waitFor((e) => e.event === 'registered', START_TIMEOUT_MS, 'srv-s registered');
  await eventually(async () => (await auditRows(db, 1)) > 0, 10_000, 'epoch 1 actions');

  const cutAt = Date.now();
  proxy.blackhole();
  const fenced = await m.waitFor(
    (e) => becameStandby(e) && e.t >= cutAt,
    TEST_TIMINGS.leaseTtlMs + LOAD_SLACK_MS,
    'srv-m self-fenced',
  );
  const takeover = await s.waitFor(becameMaster, TAKEOVER_BOUND_MS + 10_000, 'srv-s master');
  t.diagnostic(
    `self-fenced ${fenced.t - cutAt} ms after the cut, peer master after ${takeover.t - cutAt} ms`,
  );
  assert.match(fenced.reason ?? '', /self-fenced|lease/);
  assert.ok(fenced.t < takeover.t, 'the cut-off master stopped before the peer began');
  assert.equal((await currentLease(db.pool)).holder, 'srv-s');
  await eventually(async () => (await auditRows(db, 2)) > 0, 10_000, 'epoch 2 actions');
  await assertAuditNoOverlap(db.pool);

  // Heal: the old master rejoins as a member and, having the higher priority, takes over again
  // through the orderly handover (a new epoch), never by reviving its old one.
  const healedAt = Date.now();
  proxy.restore();
  const back = await m.waitFor(
    (e) => becameMaster(e) && e.t > healedAt,
    30_000,
    'srv-m master again after healing',
  );
  assert.equal(back.epoch, 3);
  await s.waitFor((e) => becameStandby(e) && e.t > healedAt, 1000, 'srv-s handed over');
  await eventually(async () => (await auditRows(db, 3)) > 0, 10_000, 'epoch 3 actions');
  const summary = await assertAuditNoOverlap(db.pool);
  assert.deepEqual(
    summary.epochs.map((e) => [e.epoch, e.server]),
    [
      [1, 'srv-m'],
      [2, 'srv-s'],
      [3, 'srv-m'],
    ],
  );
});

test('a master paused past its lease (SIGSTOP) commits nothing after it resumes', async (t) => {
  const cleanup = teardown(t);
  const db = await freshDb(cleanup);
  const nodes: NodeProcess[] = [];
  cleanup(() => killAll(nodes));
  const m = spawnNode({ name: 'srv-m', master: 5, dbName: db.name });
  // Sticky, so the resumed higher-priority server does not simply take mastership back.
  const s = spawnNode({ name: 'srv-s', master: 3, dbName: db.name, extra: ['--ha-preempt', '0'] });
  nodes.push(m, s);
  await m.waitFor(becameMaster, START_TIMEOUT_MS, 'srv-m master');
  await s.waitFor((e) => e.event === 'registered', START_TIMEOUT_MS, 'srv-s registered');
  await eventually(async () => (await auditRows(db, 1)) > 0, 10_000, 'epoch 1 actions');

  m.kill('SIGSTOP');
  const takeover = await s.waitFor(becameMaster, TAKEOVER_BOUND_MS + 10_000, 'srv-s master');
  assert.equal(takeover.epoch, 2);
  await eventually(async () => (await auditRows(db, 2)) > 0, 10_000, 'epoch 2 actions');
  const epoch1Before = await auditRows(db, 1);
  const epoch2Before = await auditRows(db, 2);
  const resumedAt = Date.now();
  m.kill('SIGCONT');
  // The resumed process notices (fence timer or lease read) that it is no longer master.
  await m.waitFor((e) => becameStandby(e) && e.t >= resumedAt, 10_000, 'srv-m steps down');
  // Give it several of its audit periods: nothing of epoch 1 may commit any more.
  await eventually(
    async () => (await auditRows(db, 2)) > epoch2Before + 10,
    15_000,
    'more epoch 2 actions',
  );
  assert.equal(await auditRows(db, 1), epoch1Before, 'no epoch-1 action after resuming');
  await assertAuditNoOverlap(db.pool);
});
