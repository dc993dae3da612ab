// tserver.threads and tserver.queued_modules kept current for Pandora's console.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RowDataPacket } from 'mysql2/promise';
import { silentLogger } from '../../src/core/log.js';
import { startServerLoad } from '../../src/dataserver/server-load.js';
import { createSchemaDatabase } from '../helpers/db.js';
import { startHarness } from './harness.js';

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  // Generous: the machine is shared; this waits for a write, it does not time one.
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('server load: queued_modules follows the waiting files at every interval', async (t) => {
  const db = await createSchemaDatabase('ti_load');
  t.after(() => db.drop());
  await db.pool.query(
    "INSERT INTO tserver (name, server_type, description) VALUES ('load-node', 0, 'test')",
  );
  const [rows] = await db.pool.query<RowDataPacket[]>(
    "SELECT id_server FROM tserver WHERE name = 'load-node'",
  );
  const id = Number(rows[0]?.['id_server']);
  let waiting = 7;
  const load = startServerLoad(
    {
      pool: db.pool,
      log: silentLogger(),
      serverId: () => id,
      threads: 3,
      waitingFiles: () => waiting,
    },
    100,
  );
  t.after(() => {
    load.close();
  });
  const row = async () => {
    const [r] = await db.pool.query<RowDataPacket[]>(
      'SELECT threads, queued_modules FROM tserver WHERE id_server = ?',
      [id],
    );
    return { threads: Number(r[0]?.['threads']), queued: Number(r[0]?.['queued_modules']) };
  };
  await until('first write', async () => (await row()).queued === 7);
  assert.equal((await row()).threads, 3);
  waiting = 42;
  await until('queued 42', async () => (await row()).queued === 42);
  waiting = 0;
  await until('queued 0', async () => (await row()).queued === 0);
});

test('server load: a started dataserver writes threads = dataserver_threads', async (t) => {
  const h = await startHarness({ dataserver_threads: '3' });
  t.after(() => h.close());
  await until('threads 3', async () => {
    const n = await h.count(
      'SELECT COUNT(*) AS n FROM tserver WHERE id_server = ? AND threads = 3 AND queued_modules = 0',
      [h.ds.serverId],
    );
    return n === 1;
  });
});
