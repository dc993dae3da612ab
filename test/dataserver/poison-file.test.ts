/**
 * The poison-file guard (issue 12): a file in flight at two abnormal deaths of `serve` (real
 * SIGKILLs of a child process) is set aside as `<name>_FAILED` with an error event at the next
 * start, and the rest is processed; one SIGKILL alone, or a SIGKILL and a clean shutdown, do not
 * fail it. The file is held in flight by a real row lock: the test's own transaction holds its
 * agent's `tagente` row FOR UPDATE, so the batch that carries it waits in the database.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { silentLogger } from '../../src/core/log.js';
import { safeOutput } from '../../src/pandora/index.js';
import { initDatabase } from '../../src/db/index.js';
import { createTestDatabase, testDbServer, type TestDatabase } from '../helpers/db.js';
import { teardown } from '../helpers/teardown.js';
import { tempDir } from '../helpers/tmp.js';
import { killHard, startServe, waitFor, type ServeChild } from './child.js';
import { dropFile, mod, packet } from './harness.js';

const SERVER = 'poison01';
const AGENTS = 4;

function drop(dir: string, agent: string, n: number): void {
  const xml = packet(
    `10:${String(n * 5).padStart(2, '0')}:00`,
    mod('cnt', 'generic_data', String(n)),
    `agent_name='${agent}' group='Servers' os_name='Linux' interval='300'`,
  );
  dropFile(dir, `${agent}.${String(1_000_000 + n)}.data`, xml, 1_709_280_000 + n);
}

/** SIGTERM: a clean shutdown, exit code 0. */
async function stopCleanly(child: ServeChild): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  assert.equal(code, 0, child.stderrText());
}

interface Setup {
  db: TestDatabase;
  dir: string;
  claimDir: string;
  cleanup: (fn: () => unknown) => void;
  count(sql: string, params?: unknown[]): Promise<number>;
  start(): Promise<ServeChild>;
  /** Holds agent `poison`'s row FOR UPDATE until `release()`: its batches wait in the database. */
  lockPoisonAgent(): Promise<void>;
  release(): Promise<void>;
  /** Resolves once a session opened after `since` waits for a row lock (the file is in flight). */
  waitForLockWait(since: number): Promise<void>;
  maxSessionId(): Promise<number>;
}

async function setup(t: TestContext): Promise<Setup> {
  const cleanup = teardown(t);
  const db = await createTestDatabase();
  cleanup(() => db.drop());
  await initDatabase(
    { ...testDbServer(), database: db.name },
    { createDatabase: false },
    { logger: silentLogger() },
  );
  const tmp = tempDir('ti-poison-');
  cleanup(() => {
    tmp.cleanup();
  });
  const dir = join(tmp.path, 'data_in');
  mkdirSync(dir, { recursive: true });
  const count = async (sql: string, params: unknown[] = []): Promise<number> => {
    const [rows] = await db.pool.query<RowDataPacket[]>(sql, params);
    return Number(rows[0]?.['n']);
  };
  let lock: PoolConnection | undefined;
  const release = async () => {
    const conn = lock;
    lock = undefined;
    if (!conn) return;
    await conn.query('ROLLBACK');
    conn.release();
  };
  cleanup(release);
  return {
    db,
    dir,
    claimDir: join(dir, '.processing', SERVER),
    cleanup,
    count,
    async start() {
      const child = await startServe({
        incomingDir: dir,
        dbName: db.name,
        serverName: SERVER,
        extra: ['--dataserver_shutdown_grace', '1'],
      });
      cleanup(() => killHard(child));
      return child;
    },
    async lockPoisonAgent() {
      lock = await db.pool.getConnection();
      await lock.query('BEGIN');
      const [rows] = await lock.query<RowDataPacket[]>(
        "SELECT id_agente FROM tagente WHERE nombre = 'poison' FOR UPDATE",
      );
      assert.equal(rows.length, 1);
    },
    release,
    async maxSessionId() {
      return count('SELECT MAX(id) n FROM information_schema.processlist');
    },
    async waitForLockWait(since) {
      await waitFor(
        async () =>
          (await count(
            // Sessions on this test's database only: the MariaDB server is shared.
            `SELECT COUNT(*) n FROM information_schema.innodb_trx t
             JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id
             WHERE t.trx_state = 'LOCK WAIT' AND t.trx_mysql_thread_id > ? AND p.db = ?`,
            [since, db.name],
          )) > 0,
        30_000,
        'the poison file waiting in its batch',
      );
    },
  };
}

/** First run: agents known, then `poison.1000002.data` in flight (row lock) at a SIGKILL. */
async function firstDeath(s: Setup): Promise<void> {
  const first = await s.start();
  drop(s.dir, 'poison', 1);
  for (let a = 1; a <= AGENTS; a++) drop(s.dir, `ok${String(a)}`, 1);
  await waitFor(
    async () => (await s.count('SELECT COUNT(*) n FROM tingest_ledger')) === AGENTS + 1,
    30_000,
    'first packets committed',
  );
  await s.lockPoisonAgent();
  drop(s.dir, 'poison', 2);
  await s.waitForLockWait(0); // no other session waits yet (the server's own are older)
  assert.ok(existsSync(join(s.claimDir, 'poison.1000002.data')), 'claimed, in flight');
  await killHard(first);
}

test(
  'a file in flight at two SIGKILLs is set aside as _FAILED with an event; the rest goes on',
  {
    timeout: 240_000,
  },
  async (t) => {
    const s = await setup(t);
    await firstDeath(s);
    // The rest arrives while the server is down.
    for (let n = 2; n <= 4; n++) for (let a = 1; a <= AGENTS; a++) drop(s.dir, `ok${String(a)}`, n);

    // Second run: the suspect is handled alone first and is in flight again at the next SIGKILL.
    const since = await s.maxSessionId();
    const second = await s.start();
    await s.waitForLockWait(since);
    await killHard(second);
    assert.ok(existsSync(join(s.claimDir, 'poison.1000002.data')), 'still claimed');

    // Third run, the row still locked: a poison file reaching a batch would never finish.
    const third = await s.start();
    const total = AGENTS + 1 + AGENTS * 3 + 1; // + the set-aside event's own ledger row
    await waitFor(
      async () => (await s.count('SELECT COUNT(*) n FROM tingest_ledger')) === total,
      60_000,
      'the rest committed and the poison event ledgered',
    );
    await waitFor(
      () => Promise.resolve(existsSync(join(s.dir, 'poison.1000002.data_FAILED'))),
      10_000,
      'the poison file set aside',
    );
    assert.deepEqual(
      readdirSync(s.dir).filter((n) => !n.startsWith('.')),
      ['poison.1000002.data_FAILED'],
    );
    assert.deepEqual(readdirSync(s.claimDir), [], 'claim folder empty');
    const [events] = await s.db.pool.query<RowDataPacket[]>(
      "SELECT evento, criticity FROM tevento WHERE event_type = 'error'",
    );
    assert.equal(events.length, 1);
    // Stored HTML-encoded, as Pandora's safe_input does.
    assert.match(
      safeOutput(String(events[0]?.['evento'])),
      /'poison\.1000002\.data'.*died 2 times/,
    );
    assert.equal(Number(events[0]?.['criticity']), 4);
    // Every other acknowledged packet is in, once: one history row per packet of a changing value.
    const datos = `SELECT COUNT(*) n FROM tagente_datos d JOIN tagente_modulo m USING (id_agente_modulo)
    JOIN tagente a USING (id_agente) WHERE a.nombre LIKE ?`;
    assert.equal(await s.count(datos, ['ok%']), AGENTS * 4);
    assert.equal(await s.count(datos, ['poison']), 1);

    await s.release();
    await stopCleanly(third);
  },
);

test(
  'one SIGKILL, then a clean shutdown with the file still claimed: it is processed, not failed',
  {
    timeout: 240_000,
  },
  async (t) => {
    const s = await setup(t);
    await firstDeath(s);

    // Second run: the file is in flight again, and the server is stopped cleanly (SIGTERM); the
    // batch cannot finish within the grace, so the file stays claimed for the next start.
    const since = await s.maxSessionId();
    const second = await s.start();
    await s.waitForLockWait(since);
    await stopCleanly(second);
    assert.ok(existsSync(join(s.claimDir, 'poison.1000002.data')), 'left claimed');

    await s.release();
    await s.start();
    await assertProcessedOnce(s);
  },
);

test(
  'one SIGKILL alone does not fail the file: the next start processes it',
  {
    timeout: 240_000,
  },
  async (t) => {
    const s = await setup(t);
    await firstDeath(s);
    await s.release();
    await s.start();
    await assertProcessedOnce(s);
  },
);

/** The file held in flight is in, once, and nothing was set aside. */
async function assertProcessedOnce(s: Setup): Promise<void> {
  await waitFor(
    async () => (await s.count('SELECT COUNT(*) n FROM tingest_ledger')) === AGENTS + 2,
    60_000,
    'the file committed',
  );
  await waitFor(
    () => Promise.resolve(readdirSync(s.claimDir).length === 0),
    10_000,
    'claim folder empty',
  );
  assert.deepEqual(
    readdirSync(s.dir).filter((n) => !n.startsWith('.')),
    [],
    'no _FAILED',
  );
  assert.equal(await s.count("SELECT COUNT(*) n FROM tevento WHERE event_type = 'error'"), 0);
  const datos = `SELECT COUNT(*) n FROM tagente_datos d JOIN tagente_modulo m USING (id_agente_modulo)
    JOIN tagente a USING (id_agente) WHERE a.nombre = 'poison'`;
  assert.equal(await s.count(datos), 2);
}
