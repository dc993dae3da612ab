// A fenced transaction that stalls mid-way (its process hangs between statements) cannot keep
// the lease row locked, cannot block failover, and cannot commit afterwards (ha.md §2.9.3).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { pandoraTablesDdl } from '../../src/db/index.js';
import { createTestDatabase } from '../helpers/db.js';
import { assertAuditNoOverlap, currentLease, eventually } from './fixtures/cluster.js';
import { startHttpNode } from '../http/fixtures.js';
import { teardown } from '../helpers/teardown.js';

test('a stalled fenced transaction is killed by the database, blocks nothing, and never commits', async (t) => {
  const cleanup = teardown(t);
  const db = await createTestDatabase('ti_ha_stall');
  cleanup(() => db.drop());
  for (const ddl of pandoraTablesDdl()) await db.pool.query(ddl);
  const a = await startHttpNode({ db, name: 'srv-a', master: 5 });
  cleanup(() => a.close());
  await eventually(() => Promise.resolve(a.coordinator.isMaster()), 10_000, 'srv-a master');
  const b = await startHttpNode({ db, name: 'srv-b', master: 3 });
  cleanup(() => b.close());
  await a.coordinator.runFenced('before-stall', () => Promise.resolve());

  // srv-a's master job stops between its fence check and its commit, holding the share lock.
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let entered: () => void = () => undefined;
  const inside = new Promise<void>((resolve) => (entered = resolve));
  const stalled = a.coordinator.runFenced('stalled', () => {
    entered();
    return gate;
  });
  const stalledOutcome = stalled.then(
    () => 'committed',
    (err: unknown) => `rejected: ${String(err)}`,
  );
  await inside;

  // What an acquisition needs: an exclusive lock on the lease row (waiting at most 1 s).
  const probe = await db.pool.getConnection();
  cleanup(() => {
    probe.release();
  });
  await probe.query('SET SESSION innodb_lock_wait_timeout = 1');
  const canLockLease = async (): Promise<boolean> => {
    await probe.beginTransaction();
    try {
      await probe.query("SELECT epoch FROM tha_lease WHERE role = 'master' FOR UPDATE");
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'ER_LOCK_WAIT_TIMEOUT') return false;
      throw err;
    } finally {
      await probe.rollback();
    }
  };
  assert.equal(await canLockLease(), false, 'the stalled transaction holds the lease row');
  // MariaDB kills the transaction once it has been idle for half a lease: the row is free again
  // long before the lease could expire, so the stall blocks neither renewals nor a failover.
  await eventually(canLockLease, 10_000, 'the lease row free again');

  const master = await eventually(
    () => Promise.resolve(a.coordinator.isMaster() || b.coordinator.isMaster()),
    10_000,
    'a master',
  ).then(() => (a.coordinator.isMaster() ? a : b));
  await master.coordinator.runFenced('after-stall', () => Promise.resolve());

  release();
  assert.match(await stalledOutcome, /^rejected/, 'the stalled transaction never commits');
  const [rows] = await db.pool.query<RowDataPacket[]>(
    'SELECT action, epoch FROM tha_master_audit ORDER BY id',
  );
  assert.deepEqual(
    rows.map((r): unknown[] => [r['action'], r['epoch']]),
    [
      ['before-stall', 1],
      ['after-stall', (await currentLease(db.pool)).epoch],
    ],
  );
  await assertAuditNoOverlap(db.pool);
});
