// Restart under the same servername (ha.md §2.9.2, §5.2 E15): a supervisor restarting a crashed
// server at once must not be refused as a duplicate; a second *live* process still is. The
// restarted process tells the two apart by watching the old row's heartbeat on the DB clock.
// Every node here treats members as dead only after 30 s, so a restart that waited for the old
// row to age out (the behaviour this replaces) could not pass within the test's waits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { pandoraTablesDdl } from '../../src/db/index.js';
import { ErrorCode } from '../../src/core/errors.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  assertAuditNoOverlap,
  becameMaster,
  currentLease,
  eventually,
  killAll,
  spawnNode,
  type NodeProcess,
} from './fixtures/cluster.js';
import { teardown } from '../helpers/teardown.js';

const START_TIMEOUT_MS = 40_000;
const MEMBER_DEAD_AFTER_MS = 30_000;
const SLOW_AGE_OUT = ['--ha-member-dead-after-ms', String(MEMBER_DEAD_AFTER_MS)];

interface Harness {
  readonly db: TestDatabase;
  /** Starts a node with the slow age-out; its pino lines (info level, stderr) are kept. */
  start(name: string, master: number): NodeProcess & { readonly logs: Record<string, unknown>[] };
}

async function harness(t: { after(fn: () => Promise<void>): void }): Promise<Harness> {
  const cleanup = teardown(t);
  const db = await createTestDatabase('ti_ha');
  cleanup(() => db.drop());
  for (const ddl of pandoraTablesDdl()) await db.pool.query(ddl);
  const nodes: NodeProcess[] = [];
  cleanup(() => killAll(nodes));
  return {
    db,
    start(name, master) {
      const node = spawnNode({
        name,
        master,
        dbName: db.name,
        extra: SLOW_AGE_OUT,
        env: { LOG_LEVEL: 'info' },
      });
      nodes.push(node);
      const logs: Record<string, unknown>[] = [];
      let buffered = '';
      node.child.stderr?.on('data', (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          try {
            logs.push(JSON.parse(line) as Record<string, unknown>);
          } catch {
            // not a log line
          }
        }
      });
      return Object.assign(node, { logs });
    },
  };
}

function instanceOf(node: NodeProcess): string {
  return String(node.events.find((e) => e.event === 'registered')?.['instanceId']);
}

async function auditCount(db: TestDatabase, where: string, values: unknown[]): Promise<number> {
  const [rows] = await db.pool.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM tha_master_audit WHERE ${where}`,
    values,
  );
  return Number(rows[0]?.['n'] ?? 0);
}

/** Waits until `node` (registered) is master and has committed a fenced action at its epoch. */
async function masterActing(db: TestDatabase, node: NodeProcess, what: string): Promise<number> {
  const change = await node.waitFor(becameMaster, START_TIMEOUT_MS, what);
  const epoch = Number(change.epoch);
  await eventually(
    async () =>
      (await auditCount(db, 'epoch = ? AND instance_id = ?', [epoch, instanceOf(node)])) > 0,
    10_000,
    `${what}: fenced actions at epoch ${epoch}`,
  );
  return epoch;
}

/** `node` is unaffected: still master at `epoch` and still committing fenced actions. */
async function assertStillActing(
  db: TestDatabase,
  node: NodeProcess,
  epoch: number,
): Promise<void> {
  const before = await auditCount(db, 'epoch = ?', [epoch]);
  await eventually(
    async () => (await auditCount(db, 'epoch = ?', [epoch])) > before,
    10_000,
    `${node.name} still acting`,
  );
  assert.equal(node.role(), 'master');
  assert.equal((await currentLease(db.pool)).epoch, epoch);
}

test('SIGKILL then immediate restart under the same name: not refused, master again at a higher epoch', async (t) => {
  const h = await harness(t);
  const a = h.start('srv-a', 5);
  const b = h.start('srv-b', 2);
  await b.waitFor((e) => e.event === 'registered', START_TIMEOUT_MS, 'srv-b registered');
  const oldEpoch = await masterActing(h.db, a, 'srv-a master');
  const oldInstance = instanceOf(a);

  a.kill('SIGKILL');
  await a.exited;
  const a2 = h.start('srv-a', 5);
  await a2.waitFor((e) => e.event === 'registered', START_TIMEOUT_MS, 'restarted srv-a registered');
  assert.ok(!a2.events.some((e) => e.event === 'fatal'), 'the restart was not refused');
  // It watched the old row, saw no heartbeat for more than a period, and took it over long
  // before the row could age out (ages on the DB clock).
  const takeover = a2.logs.find((l) => l['event'] === 'staleRegistrationTakenOver');
  assert.ok(takeover, 'the takeover of the stale registration is logged');
  assert.equal(takeover['level'], 30, 'info level');
  assert.equal(takeover['previousInstanceId'], oldInstance);
  const ageMs = Number(takeover['ageMs']);
  assert.ok(ageMs > 500 && ageMs < MEMBER_DEAD_AFTER_MS, `stale for ${ageMs} ms`);

  const newEpoch = await masterActing(h.db, a2, 'restarted srv-a master');
  assert.ok(newEpoch > oldEpoch, `epoch ${newEpoch} after ${oldEpoch}`);
  const lease = await currentLease(h.db.pool);
  assert.deepEqual([lease.holder, lease.epoch], ['srv-a', newEpoch]);
  const [member] = await h.db.pool.query<RowDataPacket[]>(
    "SELECT instance_id, state FROM tha_member WHERE server_name = 'srv-a'",
  );
  assert.deepEqual([member[0]?.['instance_id'], member[0]?.['state']], [instanceOf(a2), 'running']);
  assert.equal(b.child.exitCode, null, 'the peer kept running');
  const summary = await assertAuditNoOverlap(h.db.pool);
  assert.equal(summary.epochs[0]?.epoch, oldEpoch);
  assert.equal(
    await auditCount(h.db, 'instance_id = ? AND epoch <> ?', [oldInstance, oldEpoch]),
    0,
    'the killed instance acted only at its own epoch',
  );
});

test('a paused master whose registration is taken over never commits again and is evicted on resume', async (t) => {
  const h = await harness(t);
  const a = h.start('srv-a', 5);
  const oldEpoch = await masterActing(h.db, a, 'srv-a master');
  const oldInstance = instanceOf(a);

  // SIGSTOP looks like a crash from the database: no heartbeat. The restart takes the row over
  // while the old holder's lease may still be valid; that lease stays bound to the old instance.
  a.kill('SIGSTOP');
  const a2 = h.start('srv-a', 5);
  await a2.waitFor((e) => e.event === 'registered', START_TIMEOUT_MS, 'restarted srv-a registered');
  const newEpoch = await masterActing(h.db, a2, 'restarted srv-a master');
  assert.ok(newEpoch > oldEpoch, `epoch ${newEpoch} after ${oldEpoch}`);
  const oldActions = await auditCount(h.db, 'instance_id = ?', [oldInstance]);

  a.kill('SIGCONT');
  const evicted = await a.waitFor(
    (e) => e.event === 'fatal',
    START_TIMEOUT_MS,
    'old srv-a evicted',
  );
  assert.equal(evicted.code, ErrorCode.HaDuplicateName);
  assert.match(String(evicted['message']), /taken over by another instance/);
  assert.equal(await a.exited, 3);
  assert.equal(
    await auditCount(h.db, 'instance_id = ?', [oldInstance]),
    oldActions,
    'the resumed old holder committed nothing',
  );
  await assertStillActing(h.db, a2, newEpoch);
  await assertAuditNoOverlap(h.db.pool);
});

test('a second process with the name of a live server is still refused; the live one is unaffected', async (t) => {
  const h = await harness(t);
  const d = h.start('srv-d', 4);
  const epoch = await masterActing(h.db, d, 'srv-d master');
  const twin = h.start('srv-d', 7);
  const fatal = await twin.waitFor((e) => e.event === 'fatal', START_TIMEOUT_MS, 'twin refused');
  assert.equal(fatal.code, ErrorCode.HaDuplicateName);
  assert.match(String(fatal['message']), /already used by a live server/);
  assert.equal(await twin.exited, 2);
  assert.ok(!twin.events.some(becameMaster));
  // Refused because the heartbeat advanced while it watched, not because of the row's age.
  assert.ok(twin.logs.some((l) => l['event'] === 'registrationLooksLive'));
  assert.ok(!twin.logs.some((l) => l['event'] === 'staleRegistrationTakenOver'));

  const [rows] = await h.db.pool.query<RowDataPacket[]>(
    "SELECT instance_id, priority FROM tha_member WHERE server_name = 'srv-d'",
  );
  assert.deepEqual([rows[0]?.['instance_id'], rows[0]?.['priority']], [instanceOf(d), 4]);
  await assertStillActing(h.db, d, epoch);
  await assertAuditNoOverlap(h.db.pool);
});
