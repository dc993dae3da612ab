import assert from 'node:assert/strict';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { testDbServer } from '../helpers/db.js';
import { teardown } from '../helpers/teardown.js';
import { waitFor } from './child.js';
import { dbRetries, dropFile, mod, packet, startHarness } from './harness.js';

// A new agent is created under a named lock, so two servers sharing the database never both
// create it. When another session holds that lock past dataserver_agent_lock_timeout, the
// batch must not go on without it: it is retried until the lock is granted.

test('a new agent waits for the creation lock another server holds; created once after', async (t) => {
  const cleanup = teardown(t);
  const h = await startHarness({ dataserver_agent_lock_timeout: '1' });
  cleanup(() => h.close());
  const peer = await mysql.createConnection({ ...testDbServer(), database: h.db.name });
  cleanup(() => peer.end());
  const [held] = await peer.query<mysql.RowDataPacket[]>(
    "SELECT GET_LOCK('ti_agent:locked-agent', 0) AS g",
  );
  assert.equal(Number(held[0]?.['g']), 1);

  dropFile(
    h.dir,
    'locked-agent.1.data',
    packet(
      '2024-03-01 10:00:00',
      mod('cpu', 'generic_data', '5'),
      "agent_name='Locked-Agent' group='Servers' interval='300'",
    ),
  );
  h.ds.wake();
  await waitFor(
    async () => (await dbRetries(h, 'lock')) >= 2,
    20_000,
    'the batch retried for the lock',
  );
  assert.equal(
    await h.count("SELECT COUNT(*) n FROM tagente WHERE nombre = 'Locked-Agent'"),
    0,
    'not created while another server holds the creation lock',
  );

  await peer.query("SELECT RELEASE_LOCK('ti_agent:locked-agent')");
  await h.ds.drain();
  assert.equal(await h.count("SELECT COUNT(*) n FROM tagente WHERE nombre = 'Locked-Agent'"), 1);
  assert.equal(await h.count('SELECT COUNT(*) n FROM tingest_ledger'), 1);
});
