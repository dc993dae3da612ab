import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { createTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { testDbServer } from '../helpers/db.js';
import { teardown } from '../helpers/teardown.js';
import { waitFor } from './child.js';
import { dbRetries, dropFile, mod, startHarness, type Harness } from './harness.js';

// MariaDB becomes unreachable mid-stream (through a loopback proxy the test controls) and comes
// back: intake pauses, every file is kept, and afterwards each one is in the database once.

const AGENTS = 30;
const ROUNDS = 10;

function agentPacket(agent: number, round: number): string {
  const t = new Date(Date.UTC(2024, 2, 1, 10, 0, 0) + round * 300_000).toISOString();
  return `<?xml version='1.0' encoding='UTF-8'?>
<agent_data agent_name='out-${String(agent)}' group='Servers' timestamp='${t.slice(0, 10)} ${t.slice(11, 19)}'>
${mod('cnt', 'generic_data', String(round))}
${mod('proc', 'generic_proc', String(round % 2))}
${mod('ev', 'async_string', `e${String(round)}`)}
</agent_data>`;
}

function writeRound(h: Harness, round: number): void {
  for (let a = 1; a <= AGENTS; a++) {
    const name = `out-${String(a)}.${String(1000 + round)}.data`;
    dropFile(h.dir, name, agentPacket(a, round), 1_709_280_000 + round);
  }
}

async function verifyExactlyOnce(h: Harness, rounds = ROUNDS): Promise<void> {
  const total = AGENTS * rounds;
  assert.equal(await committedFiles(h), total);
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente'), AGENTS);
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_modulo'), AGENTS * 3);
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos'), total * 2);
  assert.equal(
    await h.count('SELECT COUNT(DISTINCT id_agente_modulo, utimestamp) n FROM tagente_datos'),
    total * 2,
  );
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos_string'), total);
  assert.equal(
    await h.count("SELECT COUNT(*) n FROM tevento WHERE event_type LIKE 'going_%'"),
    AGENTS * rounds, // proc 0,1,0,…: even the first datum (critical) is a transition
  );
  assert.equal(
    await h.count("SELECT COUNT(*) n FROM tevento WHERE event_type = 'new_agent'"),
    AGENTS,
  );
  assert.deepEqual(
    readdirSync(h.dir).filter((n) => !n.startsWith('.')),
    [],
    'spool empty, nothing renamed',
  );
  assert.deepEqual(readdirSync(join(h.dir, '.processing', 'pandora01')), []);
}

/** A harness whose dataserver reaches MariaDB only through a proxy the test controls. */
async function behindProxy(
  t: Parameters<typeof teardown>[0],
  overrides: Record<string, string> = {},
): Promise<{ proxy: TcpProxy; h: Harness }> {
  const cleanup = teardown(t);
  const proxy = await createTcpProxy(testDbServer());
  cleanup(() => proxy.close());
  const h = await startHarness(
    { dataserver_batch_files: '10', ...overrides },
    { host: proxy.host, port: proxy.port },
  );
  cleanup(() => h.close());
  return { proxy, h };
}

function committedFiles(h: Harness): Promise<number> {
  return h.count('SELECT COUNT(*) n FROM tingest_ledger');
}

/** Files still waiting: in the spool or claimed by this server. */
function filesOnDisk(h: Harness): number {
  return (
    readdirSync(h.dir).filter((n) => n.endsWith('.data')).length +
    readdirSync(join(h.dir, '.processing', 'pandora01')).length
  );
}

async function resumesToAll(h: Harness): Promise<void> {
  await waitFor(
    async () => (await committedFiles(h)) === AGENTS * ROUNDS,
    120_000,
    'resumed by itself',
  );
  await h.ds.drain();
  await verifyExactlyOnce(h);
}

/**
 * Rounds 0-1 committed, then the database goes away (`outage`) and rounds 2-5 arrive. close()
 * must return while it is still away, keeping every uncommitted file; after the heal the next
 * start commits each file once.
 */
async function shutdownDuringOutage(
  proxy: TcpProxy,
  h: Harness,
  outage: 'cut' | 'blackhole',
): Promise<void> {
  const rounds = 6;
  for (let r = 0; r < 2; r++) writeRound(h, r);
  await h.ds.drain();
  proxy[outage]();
  for (let r = 2; r < rounds; r++) writeRound(h, r);
  h.ds.wake();
  await new Promise((r) => setTimeout(r, 1500)); // batches are now waiting on the database
  // Not a speed bound: without the fix close() never returns, and this names it instead of
  // the test's 300 s timeout.
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    h.ds.close().then(() => 'closed'),
    new Promise((r) => (timer = setTimeout(r, 30_000, 'still waiting after 30 s'))),
  ]);
  clearTimeout(timer);
  assert.equal(outcome, 'closed', 'close() returns while the database is still away');
  assert.equal(
    filesOnDisk(h) + (await committedFiles(h)),
    AGENTS * rounds,
    'every uncommitted file is kept',
  );
  proxy.restore();
  await h.restart();
  await h.ds.drain();
  await verifyExactlyOnce(h, rounds);
}

for (const mode of ['cut', 'blackhole'] as const) {
  test(
    `database ${mode} mid-stream: paused, nothing lost, nothing duplicated`,
    { timeout: 300_000 },
    async (t) => {
      const { proxy, h } = await behindProxy(t);
      for (let r = 0; r < 3; r++) writeRound(h, r);
      await h.ds.drain();
      assert.equal(await committedFiles(h), AGENTS * 3);

      // Files keep arriving; the database goes away while they are being written.
      writeRound(h, 3);
      writeRound(h, 4);
      proxy[mode]();
      for (let r = 5; r < ROUNDS; r++) writeRound(h, r);
      h.ds.wake();
      const before = await committedFiles(h);
      await new Promise((r) => setTimeout(r, 2500));
      // Nothing is lost while it is away: every file not committed is still on disk.
      const committed = await committedFiles(h);
      assert.ok(committed < AGENTS * ROUNDS, 'the outage stopped progress');
      assert.ok(committed <= before + AGENTS * 2, 'no progress beyond what was in flight');
      assert.equal(filesOnDisk(h) + committed, AGENTS * ROUNDS, 'every uncommitted file is kept');

      proxy.restore();
      await resumesToAll(h);
    },
  );
}

test(
  'shutdown while the database is away keeps every file; the next start finishes them',
  { timeout: 300_000 },
  async (t) => {
    const { proxy, h } = await behindProxy(t);
    await shutdownDuringOutage(proxy, h, 'cut');
  },
);

test(
  'a batch the database stops answering is dropped at dataserver_batch_timeout and retried',
  { timeout: 300_000 },
  async (t) => {
    const { proxy, h } = await behindProxy(t, { dataserver_batch_timeout: '1' });
    for (let r = 0; r < 3; r++) writeRound(h, r);
    await h.ds.drain();
    // A partition: the connection stays open and nothing comes back. Without a deadline the
    // batch would wait for TCP to give up (minutes), holding its agents and files.
    proxy.blackhole();
    for (let r = 3; r < ROUNDS; r++) writeRound(h, r);
    h.ds.wake();
    await waitFor(
      async () => (await dbRetries(h, 'timeout')) > 0,
      15_000,
      'a batch dropped at its deadline',
    );
    proxy.restore();
    await resumesToAll(h);
  },
);

test(
  'shutdown while the database is black-holed ends after the grace; the next start finishes the files',
  { timeout: 300_000 },
  async (t) => {
    // No batch deadline: the shutdown grace alone must end the wait.
    const { proxy, h } = await behindProxy(t, {
      dataserver_batch_timeout: '0',
      dataserver_shutdown_grace: '1',
    });
    await shutdownDuringOutage(proxy, h, 'blackhole');
  },
);

test(
  'after a partition, the server session of a dropped batch is killed: its locks do not block the retry',
  { timeout: 300_000 },
  async (t) => {
    const { proxy, h } = await behindProxy(t, { dataserver_batch_timeout: '1' });
    writeRound(h, 0);
    await h.ds.drain();
    // Another session holds the newest agent; the batch that has it locks its other agents (id
    // order) and waits there.
    const holder = await mysql.createConnection({ ...testDbServer(), database: h.db.name });
    t.after(() => holder.end());
    await holder.query('START TRANSACTION');
    await holder.query(
      'SELECT id_agente FROM tagente WHERE id_agente = (SELECT MAX(id_agente) FROM tagente) FOR UPDATE',
    );
    writeRound(h, 1);
    h.ds.wake();
    await waitFor(
      async () =>
        (await h.count(
          `SELECT COUNT(*) n FROM information_schema.innodb_trx t
             JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id
            WHERE t.trx_state = 'LOCK WAIT' AND p.db = ?`,
          [h.db.name],
        )) > 0,
      15_000,
      'a batch waiting on the held agent',
    );
    // The partition: the deadline drops that batch's connection, and its server session never
    // learns of it. Once the holder lets go, the orphaned session takes the last lock too and
    // keeps them all, idle, for hours (wait_timeout).
    proxy.partition();
    await waitFor(async () => (await dbRetries(h, 'timeout')) > 0, 15_000, 'the batch dropped');
    await holder.query('ROLLBACK');
    proxy.restore();
    // Without the KILL, every retry of that batch waits innodb_lock_wait_timeout (50 s) in vain.
    await waitFor(
      async () => (await committedFiles(h)) === AGENTS * 2,
      20_000,
      'the retried batch committed',
    );
    await h.ds.drain();
    await verifyExactlyOnce(h, 2);
  },
);
