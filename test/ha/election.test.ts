// Master election across real server processes on one MariaDB (ha.md §5.2): priorities,
// takeover bound after SIGKILL, orderly handover back (preempt) or not (sticky), master 0,
// ties, duplicate names, tserver rows as the console reads them. Every scenario ends by
// checking the audit of fenced master transactions: no two epochs ever overlap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { pandoraTablesDdl } from '../../src/db/index.js';
import { ErrorCode } from '../../src/core/errors.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  LOAD_SLACK_MS,
  TAKEOVER_BOUND_MS,
  TEST_TIMINGS,
  assertAuditNoOverlap,
  becameMaster,
  becameStandby,
  currentLease,
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

function track(cleanup: (fn: () => unknown) => void, nodes: NodeProcess[]): void {
  cleanup(() => killAll(nodes));
}

test('priorities 1, 5, 3 elect 5; SIGKILL 5 → 3 within the bound; 5 returns and takes over (preempt)', async (t) => {
  const cleanup = teardown(t);
  const db = await freshDb(cleanup);
  const nodes: NodeProcess[] = [];
  track(cleanup, nodes);
  // A startup grace longer than the spread of three tsx process starts on a busy host, so the
  // highest priority wins outright instead of through a handover.
  const grace = ['--ha-startup-grace-ms', '6000'];
  const a = spawnNode({ name: 'srv-a', master: 1, dbName: db.name, extra: grace });
  const b = spawnNode({ name: 'srv-b', master: 5, dbName: db.name, extra: grace });
  const c = spawnNode({ name: 'srv-c', master: 3, dbName: db.name, extra: grace });
  nodes.push(a, b, c);

  await b.waitFor(becameMaster, START_TIMEOUT_MS, 'srv-b master');
  let lease = await currentLease(db.pool);
  assert.deepEqual([lease.holder, lease.epoch], ['srv-b', 1], 'the first and only holder is srv-b');
  assert.ok(!a.events.some(becameMaster) && !c.events.some(becameMaster));

  // Console compatibility: live rows status 1, keepalive on the DB clock, master = config.
  await b.waitFor((e) => e.event === 'registered', 1000, 'registered');
  const [servers] = await db.pool.query<RowDataPacket[]>(
    `SELECT name, status, master, server_type, server_keepalive,
        TIMESTAMPDIFF(SECOND, keepalive, NOW()) AS age FROM tserver ORDER BY name`,
  );
  assert.deepEqual(
    servers.map((r): unknown[] => [
      r['name'],
      r['status'],
      r['master'],
      r['server_type'],
      r['server_keepalive'],
    ]),
    [
      ['srv-a', 1, 1, 0, 2],
      ['srv-b', 1, 5, 0, 2],
      ['srv-c', 1, 3, 0, 2],
    ],
  );
  for (const row of servers) assert.ok(Number(row['age']) <= 3, `keepalive fresh: ${row['age']} s`);

  await waitForAudit(db, 1);
  const killedAt = Date.now();
  b.kill('SIGKILL');
  const takeover = await c.waitFor(becameMaster, 30_000, 'srv-c master');
  const takeoverMs = takeover.t - killedAt;
  t.diagnostic(`takeover after SIGKILL: ${takeoverMs} ms (bound ${TAKEOVER_BOUND_MS} ms + slack)`);
  assert.ok(takeoverMs <= TAKEOVER_BOUND_MS + LOAD_SLACK_MS, `takeover took ${takeoverMs} ms`);
  assert.ok(takeoverMs >= 1000, 'no takeover before the dead master could have been detected');
  lease = await currentLease(db.pool);
  assert.deepEqual([lease.holder, lease.epoch], ['srv-c', 2], 'epoch +1 exactly');
  assert.ok(!a.events.some(becameMaster), 'priority 1 never became master');

  // The killed server's tserver row goes to -1 after 2 × server_keepalive (DB clock).
  await waitForSql(db, "SELECT status FROM tserver WHERE name = 'srv-b'", (v) => v === -1, 15_000);

  // srv-b returns: after the preempt delay srv-c hands over, then srv-b acquires (epoch 3).
  const b2 = spawnNode({ name: 'srv-b', master: 5, dbName: db.name });
  nodes.push(b2);
  const b2Master = await b2.waitFor(becameMaster, START_TIMEOUT_MS, 'srv-b master again');
  const cStepDown = await c.waitFor(becameStandby, 1000, 'srv-c standby');
  assert.match(cStepDown.reason ?? '', /handover/);
  assert.ok(cStepDown.t <= b2Master.t, 'the old master stepped down before the new one began');
  lease = await currentLease(db.pool);
  assert.deepEqual([lease.holder, lease.epoch], ['srv-b', 3]);
  await waitForAudit(db, 3);

  // SIGTERM: the row says stopped at once (status 0) and the lease is released immediately.
  const termAt = Date.now();
  b2.kill('SIGTERM');
  assert.equal(await b2.exited, 0);
  const cAgain = await c.waitFor(
    (e) => becameMaster(e) && e.t > termAt,
    15_000,
    'srv-c after SIGTERM',
  );
  const cleanFailoverMs = cAgain.t - termAt;
  t.diagnostic(`takeover after SIGTERM: ${cleanFailoverMs} ms`);
  assert.ok(cleanFailoverMs <= TEST_TIMINGS.tickMs + 1000 + LOAD_SLACK_MS, `${cleanFailoverMs} ms`);
  const [stopped] = await db.pool.query<RowDataPacket[]>(
    "SELECT status FROM tserver WHERE name = 'srv-b'",
  );
  assert.equal(stopped[0]?.['status'], 0, 'a cleanly stopped server reads status 0 at once');
  await waitForAudit(db, 4);
  const summary = await assertAuditNoOverlap(db.pool);
  assert.deepEqual(
    summary.epochs.map((e) => [e.epoch, e.server]),
    [
      [1, 'srv-b'],
      [2, 'srv-c'],
      [3, 'srv-b'],
      [4, 'srv-c'],
    ],
  );
});

test('sticky (ha_preempt 0): a returning higher priority does not take over; SIGTERM hands over at once', async (t) => {
  const cleanup = teardown(t);
  const db = await freshDb(cleanup);
  const nodes: NodeProcess[] = [];
  track(cleanup, nodes);
  const c = spawnNode({ name: 'srv-c', master: 3, dbName: db.name, extra: ['--ha-preempt', '0'] });
  nodes.push(c);
  await c.waitFor(becameMaster, START_TIMEOUT_MS, 'srv-c master');
  const b = spawnNode({ name: 'srv-b', master: 5, dbName: db.name, extra: ['--ha-preempt', '0'] });
  nodes.push(b);
  await b.waitFor((e) => e.event === 'registered', START_TIMEOUT_MS, 'srv-b registered');
  // Several preempt delays and lease periods pass: mastership stays where it is.
  await waitForSql(
    db,
    "SELECT COUNT(*) FROM tha_member WHERE server_name = 'srv-b' AND candidate_since <= NOW(3) - INTERVAL 5 SECOND",
    (v) => v === 1,
    20_000,
  );
  assert.equal(c.role(), 'master');
  assert.ok(!b.events.some(becameMaster));
  assert.deepEqual((await currentLease(db.pool)).holder, 'srv-c');

  const termAt = Date.now();
  c.kill('SIGTERM');
  const bMaster = await b.waitFor(becameMaster, 15_000, 'srv-b master');
  t.diagnostic(`clean-stop failover: ${bMaster.t - termAt} ms`);
  assert.ok(bMaster.t - termAt <= TEST_TIMINGS.tickMs + 1000 + LOAD_SLACK_MS);
  await assertAuditNoOverlap(db.pool);
});

test('master 0 is never elected, also when it is the only survivor', async (t) => {
  const cleanup = teardown(t);
  const db = await freshDb(cleanup);
  const nodes: NodeProcess[] = [];
  track(cleanup, nodes);
  const zero1 = spawnNode({ name: 'srv-z1', master: 0, dbName: db.name });
  const zero2 = spawnNode({ name: 'srv-z2', master: 0, dbName: db.name });
  const two = spawnNode({ name: 'srv-two', master: 2, dbName: db.name });
  nodes.push(zero1, zero2, two);
  await two.waitFor(becameMaster, START_TIMEOUT_MS, 'srv-two master');
  await zero1.waitFor((e) => e.event === 'registered', START_TIMEOUT_MS, 'z1 registered');
  await zero2.waitFor((e) => e.event === 'registered', START_TIMEOUT_MS, 'z2 registered');
  const [clock] = await db.pool.query<RowDataPacket[]>('SELECT UNIX_TIMESTAMP() AS now');
  const killedAtDb = Number(clock[0]?.['now']);
  two.kill('SIGKILL');
  await two.exited;
  // Wait until the lease has certainly expired and another full lease period has passed.
  await waitForSql(
    db,
    "SELECT expires_at < NOW(3) - INTERVAL 5 SECOND FROM tha_lease WHERE role = 'master'",
    (v) => v === 1,
    30_000,
  );
  assert.ok(!zero1.events.some(becameMaster) && !zero2.events.some(becameMaster));
  const lease = await currentLease(db.pool);
  assert.deepEqual([lease.holder, lease.epoch, lease.isValid], ['srv-two', 1, false]);
  // Two servers noticed; the installation got exactly one "no master-eligible" event.
  await waitForSql(
    db,
    `SELECT COUNT(*) FROM tevento WHERE event_type = 'system' AND utimestamp >= ${killedAtDb}`,
    (n) => n >= 1,
    10_000,
  );
  const [events] = await db.pool.query<RowDataPacket[]>(
    "SELECT evento, criticity FROM tevento WHERE event_type = 'system' AND utimestamp >= ?",
    [killedAtDb],
  );
  assert.deepEqual(
    events.map((e): unknown[] => [e['evento'], e['criticity']]),
    [
      [
        'No&#x20;master-eligible&#x20;server&#x20;is&#x20;running;&#x20;master&#x20;duties&#x20;are&#x20;suspended',
        4,
      ],
    ],
  );
  await assertAuditNoOverlap(db.pool);
});

test('equal priorities: the lower servername is master whoever starts first; stable; the survivor takes over', async (t) => {
  const cleanup = teardown(t);
  const db = await freshDb(cleanup);
  const nodes: NodeProcess[] = [];
  track(cleanup, nodes);
  // srv-q starts alone and becomes master; srv-p, same priority and a lower name, then joins.
  // The documented tie-break (lower servername, byte order) must make srv-p master through an
  // orderly handover, however the start times fell. Host time zones 24 hours apart (UTC+14,
  // UTC-10): ages are computed by the database only, so neither looks dead (hazard R3).
  const q = spawnNode({ name: 'srv-q', master: 5, dbName: db.name, env: { TZ: 'America/Adak' } });
  nodes.push(q);
  await q.waitFor(becameMaster, START_TIMEOUT_MS, 'q master while alone');
  const p = spawnNode({
    name: 'srv-p',
    master: 5,
    dbName: db.name,
    env: { TZ: 'Pacific/Kiritimati' },
  });
  nodes.push(p);
  await p.waitFor(becameMaster, 30_000, 'p master after the tie-break handover');
  await waitForSql(
    db,
    "SELECT COUNT(*) FROM tha_lease WHERE role = 'master' AND holder_name = 'srv-p'",
    (v) => v === 1,
    10_000,
  );
  const settled = (await currentLease(db.pool)).epoch;
  // Let several preempt delays pass while both are live: no further change of holder.
  await waitForSql(
    db,
    'SELECT MIN(candidate_since) <= NOW(3) - INTERVAL 4 SECOND FROM tha_member',
    (v) => v === 1,
    20_000,
  );
  assert.equal((await currentLease(db.pool)).epoch, settled, 'no flapping while both are live');
  assert.equal(q.events.filter(becameMaster).length, 1, 'q was master only while alone');
  const [rows] = await db.pool.query<RowDataPacket[]>(
    'SELECT name, status FROM tserver ORDER BY name',
  );
  assert.deepEqual(
    rows.map((r): unknown[] => [r['name'], r['status']]),
    [
      ['srv-p', 1],
      ['srv-q', 1],
    ],
    'neither server marked dead despite host time zones 24 h apart',
  );
  const killedAt = Date.now();
  p.kill('SIGKILL');
  const takeover = await q.waitFor(
    (e) => becameMaster(e) && e.t > killedAt,
    30_000,
    'survivor master',
  );
  assert.ok(takeover.t - killedAt <= TAKEOVER_BOUND_MS + LOAD_SLACK_MS);
  assert.equal((await currentLease(db.pool)).epoch, settled + 1);
  await assertAuditNoOverlap(db.pool);
});

test('a second live process with the same servername is refused; the first is unaffected', async (t) => {
  const cleanup = teardown(t);
  const db = await freshDb(cleanup);
  const nodes: NodeProcess[] = [];
  track(cleanup, nodes);
  const d = spawnNode({ name: 'srv-d', master: 4, dbName: db.name });
  nodes.push(d);
  await d.waitFor(becameMaster, START_TIMEOUT_MS, 'srv-d master');
  const twin = spawnNode({ name: 'srv-d', master: 7, dbName: db.name });
  nodes.push(twin);
  const fatal = await twin.waitFor((e) => e.event === 'fatal', START_TIMEOUT_MS, 'twin refused');
  assert.equal(fatal.code, ErrorCode.HaDuplicateName);
  assert.match(String(fatal['message']), /already used by a live server/);
  assert.equal(await twin.exited, 2);
  assert.ok(!twin.events.some(becameMaster));
  // The first keeps its mastership and its epoch; its row still belongs to it.
  await waitForSql(db, "SELECT epoch FROM tha_lease WHERE role = 'master'", (v) => v === 1, 1000);
  assert.equal(d.role(), 'master');
  const [rows] = await db.pool.query<RowDataPacket[]>(
    "SELECT instance_id FROM tha_member WHERE server_name = 'srv-d'",
  );
  const registered = d.events.find((e) => e.event === 'registered');
  assert.equal(rows[0]?.['instance_id'], registered?.['instanceId']);
  await assertAuditNoOverlap(db.pool);
});

/** Waits until the master of `epoch` has committed at least one fenced action. */
function waitForAudit(db: TestDatabase, epoch: number): Promise<void> {
  return waitForSql(
    db,
    `SELECT COUNT(*) FROM tha_master_audit WHERE epoch = ${epoch}`,
    (n) => n > 0,
    10_000,
  );
}

/** Polls a one-value query until `accept(value)`; fails after `timeoutMs`. */
async function waitForSql(
  db: TestDatabase,
  sql: string,
  accept: (value: number) => boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const [rows] = await db.pool.query<RowDataPacket[]>({ sql, rowsAsArray: true });
    last = (rows[0] as unknown as unknown[] | undefined)?.[0];
    if (accept(Number(last))) return;
    if (Date.now() > deadline) throw new Error(`timed out: ${sql} → ${String(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
