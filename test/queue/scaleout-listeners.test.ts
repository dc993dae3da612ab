/**
 * Scale-out acceptance tests on the listener side, end to end (scaleout.md §6): real `serve`
 * processes in queue mode share the test Redis and one MariaDB; listeners run `--no-dataserver`
 * (Pandora's `dataserver 0`), a worker runs `--no-tentacle`.
 *   4. SIGKILL a listener in the middle of uploads: every upload that got SEND OK is applied; the
 *      others were refused or cut, and the agent's resend (to the other listener) is applied once.
 *   8. A Perl-style file written into the local spool in this mode is forwarded and applied once.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { killHard, spawnServe, waitFor, type ServeChild } from '../dataserver/child.js';
import { dropFile, startHarness } from '../dataserver/harness.js';
import { createSchemaDatabase, type TestDatabase } from '../helpers/db.js';
import { freePort } from '../helpers/net.js';
import { createTestRedisPrefix } from '../helpers/redis.js';
import { teardown } from '../helpers/teardown.js';
import { tempDir } from '../helpers/tmp.js';
import { RawPeer } from '../tentacle/fixtures/harness.js';
import { agentPacket, queueFlags, queueState, snapshot, type QueuedPacket } from './fixture.js';
import { sendFile } from './fixtures/listener.js';

const PARTITIONS = 16;

async function cluster(t: TestContext, label: string) {
  const cleanup = teardown(t);
  const db = await createSchemaDatabase(`ti_${label}`);
  cleanup(() => db.drop());
  const redis = createTestRedisPrefix();
  cleanup(() => redis.cleanup());
  const tmp = tempDir(`ti-${label}-`);
  cleanup(() => {
    tmp.cleanup();
  });
  let n = 0;
  const spawn = (extra: string[], tentaclePort?: number): ServeChild => {
    n++;
    const child = spawnServe({
      incomingDir: join(tmp.path, `s${String(n)}`),
      dbName: db.name,
      serverName: `${label}${String(n).padStart(2, '0')}`,
      ...(tentaclePort === undefined ? {} : { tentaclePort }),
      extra: [...queueFlags(redis.prefix, PARTITIONS), ...extra],
    });
    cleanup(() => killHard(child));
    return child;
  };
  return {
    db,
    prefix: redis.prefix,
    incomingOf: (i: number) => join(tmp.path, `s${String(i)}`),
    /** A listener only (`dataserver 0`) on a free port. */
    async listener(extra: string[] = []): Promise<{ child: ServeChild; port: number }> {
      const port = await freePort();
      const child = spawn(['--no-dataserver', ...extra], port);
      await child.ready;
      return { child, port };
    },
    async worker(): Promise<ServeChild> {
      const child = spawn([]);
      await child.ready;
      return child;
    },
  };
}

async function ledgerCount(db: TestDatabase): Promise<number> {
  const [rows] = await db.pool.query('SELECT COUNT(*) n FROM tingest_ledger');
  return Number((rows as Record<string, unknown>[])[0]?.['n']);
}

/** One upload on a fresh connection: true on SEND OK; a refusal or a cut connection is false. */
async function upload(port: number, p: QueuedPacket): Promise<boolean> {
  let peer: RawPeer | undefined;
  try {
    peer = await RawPeer.connect(port);
    return (await sendFile(peer, p.name, Buffer.from(p.xml))) === 'SEND OK';
  } catch {
    return false;
  } finally {
    peer?.destroy();
  }
}

test(
  'spec 6.4: a listener killed (SIGKILL) mid-upload: every SEND OK is applied, resends once',
  { timeout: 300_000 },
  async (t) => {
    const c = await cluster(t, 'qlkill');
    const [first, second] = [await c.listener(), await c.listener()];
    await c.worker();
    const AGENTS = 20;
    const ROUNDS = 5;
    let acknowledged = 0;
    let cut = 0;
    let killed = false;
    const sender = async (agent: number): Promise<QueuedPacket[]> => {
      const sent: QueuedPacket[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const p = agentPacket('lk', agent, r);
        // The agent's first choice, then the other listener (its failover), until SEND OK.
        let port = agent % 2 === 0 && !killed ? first.port : second.port;
        while (!(await upload(port, p))) {
          cut++;
          port = second.port;
        }
        acknowledged++;
        sent.push(p);
      }
      return sent;
    };
    const kill = (async () => {
      while (acknowledged < 30) await new Promise((r) => setTimeout(r, 2));
      killed = true;
      await killHard(first.child);
    })();
    const perAgent = await Promise.all(Array.from({ length: AGENTS }, (_, i) => sender(i + 1)));
    await kill;
    const packets = perAgent.flat();
    assert.equal(packets.length, AGENTS * ROUNDS);
    await waitFor(async () => (await ledgerCount(c.db)) >= packets.length, 120_000, 'all applied');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await ledgerCount(c.db), packets.length, 'each packet applied once');
    const state = await queueState(c.prefix, PARTITIONS);
    assert.equal(state.waiting + state.active, 0, 'nothing left in the queue');

    // The same packets, in each agent's send order, through one spool-mode server.
    const reference = await startHarness({ servername: 'reference01' });
    t.after(() => reference.close());
    const ordered = Array.from({ length: ROUNDS }, (_, r) =>
      perAgent.map((sent) => sent[r] as QueuedPacket),
    ).flat();
    ordered.forEach((p, i) => {
      dropFile(reference.dir, p.name, p.xml, 1_709_280_000 + i);
    });
    await reference.ds.drain();
    const single = await snapshot(reference.db.pool);
    const cluster2 = await snapshot(c.db.pool);
    for (const key of Object.keys(single) as (keyof typeof single)[])
      assert.deepEqual(cluster2[key], single[key], `${key} differ`);
    assert.ok(cut > 0, 'the kill cut or refused uploads in flight');
    t.diagnostic(`uploads refused or cut and resent: ${String(cut)}`);
  },
);

test(
  'spec 6.8: a Perl-style file in the local spool is forwarded and applied once',
  { timeout: 180_000 },
  async (t) => {
    const c = await cluster(t, 'qlfwd');
    await c.worker();
    const p = agentPacket('perl', 1, 0);
    // Written the way a Perl tentacle_server does: straight under its final name.
    dropFile(c.incomingOf(1), p.name, p.xml);
    await waitFor(async () => (await ledgerCount(c.db)) === 1, 60_000, 'the file applied');
    assert.equal(existsSync(join(c.incomingOf(1), p.name)), false, 'deleted after the enqueue');
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(await ledgerCount(c.db), 1, 'applied once');
    const [rows] = await c.db.pool.query('SELECT nombre FROM tagente');
    assert.deepEqual(
      (rows as { nombre: string }[]).map((r) => r.nombre),
      ['perl-1'],
    );
  },
);

test(
  "/readyz says 'queue' once queue_max_waiting packets wait (no worker)",
  { timeout: 120_000 },
  async (t) => {
    const c = await cluster(t, 'qlready');
    const httpPort = await freePort();
    const l = await c.listener(['--queue_max_waiting', '3', '--http_port', String(httpPort)]);
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${String(httpPort)}/readyz`);
      return { code: res.status, body: (await res.json()) as { reasons: string[] } };
    };
    await waitFor(async () => (await readyz()).code === 200, 30_000, 'ready');
    const replies: boolean[] = [];
    for (let agent = 1; agent <= 4; agent++)
      replies.push(await upload(l.port, agentPacket('rz', agent, 0)));
    assert.deepEqual(replies, [true, true, true, false], 'the fourth is refused');
    const now = await readyz();
    assert.equal(now.code, 503);
    assert.ok(now.body.reasons.includes('queue'), JSON.stringify(now.body));
  },
);
