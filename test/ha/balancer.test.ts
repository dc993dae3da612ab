// Two real `tentacle-ingest serve` processes behind a real HAProxy (TCP mode, health-checked on
// /readyz): agents sending through the balancer keep succeeding while one server is drained
// (zero failed sends) and while one is killed (with the client retrying), and every
// acknowledged file ends in the database exactly once (ha.md §4.2, §5.3 L4/L5/L8).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { connect } from '../../src/tentacle/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { teardown } from '../helpers/teardown.js';
import { tempDir } from '../helpers/tmp.js';
import { eventually, killAll, type NodeProcess } from './fixtures/cluster.js';
import { startHaproxy } from './fixtures/haproxy.js';
import { freePort, initServeDatabase, spawnServe, type ServeProcess } from './fixtures/serve.js';

const AGENTS = 6;
const FILES_PER_PHASE = 40;
const MAX_ATTEMPTS = 200;
const RETRY_PAUSE_MS = 100;

interface Fleet {
  /** Values of every acknowledged file (one value per file, unique across the fleet). */
  readonly acked: Set<number>;
  /** Failed send attempts so far (each was retried). */
  failures(): number;
  stop(): Promise<void>;
}

function xml(agent: string, k: number, value: number): string {
  const hh = String(10 + Math.floor(k / 3600)).padStart(2, '0');
  const mm = String(Math.floor((k % 3600) / 60)).padStart(2, '0');
  const ss = String(k % 60).padStart(2, '0');
  return `<?xml version='1.0' encoding='UTF-8'?>
<agent_data agent_name='${agent}' group='Servers' os_name='Linux' interval='300' timestamp='2024/03/01 ${hh}:${mm}:${ss}'>
<module><name>seq</name><type>generic_data</type><data><![CDATA[${value}]]></data></module>
</agent_data>`;
}

/**
 * Agents that each send one file after another through the balancer. A failed send is retried
 * with the same name and bytes, as an agent resends its buffer; "file already exists" means an
 * earlier attempt was stored, so it counts as delivered.
 */
function startFleet(port: number): Fleet {
  const acked = new Set<number>();
  let failures = 0;
  let stopped = false;
  async function sendOnce(name: string, data: Buffer): Promise<void> {
    const session = await connect({ host: '127.0.0.1', port, timeoutMs: 3000 });
    try {
      await session.send(name, data);
    } finally {
      await session.quit();
    }
  }
  async function agent(j: number): Promise<void> {
    for (let k = 0; !stopped; k++) {
      const value = j * 100_000 + k + 1;
      const name = `bal${j}.${1_700_000_000 + k}.data`;
      const data = Buffer.from(xml(`bal${j}`, k, value));
      for (let attempt = 1; ; attempt++) {
        try {
          await sendOnce(name, data);
          break;
        } catch (err) {
          if ((err as Error).message.includes('already exists')) break;
          failures++;
          if (attempt >= MAX_ATTEMPTS) {
            throw new Error(`agent ${j} gave up on ${name}`, { cause: err });
          }
          await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
        }
      }
      acked.add(value);
    }
  }
  const running = Promise.all(Array.from({ length: AGENTS }, (_, j) => agent(j)));
  return {
    acked,
    failures: () => failures,
    async stop() {
      stopped = true;
      await running;
    },
  };
}

async function waitForMoreAcks(fleet: Fleet, more: number, what: string): Promise<void> {
  const target = fleet.acked.size + more;
  await eventually(() => Promise.resolve(fleet.acked.size >= target), 60_000, what);
}

test('through HAProxy: drain one server, restart it, kill the other; every acknowledged file lands once', async (t) => {
  const cleanup = teardown(t);
  const db = await createTestDatabase('ti_ha_lb');
  cleanup(() => db.drop());
  await initServeDatabase(db);
  const spool = tempDir('ti-lb-');
  cleanup(() => {
    spool.cleanup();
  });
  const nodes: NodeProcess[] = [];
  cleanup(() => killAll(nodes));
  const [t1, h1, t2, h2] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const start = (
    name: string,
    master: number,
    tentaclePort: number,
    httpPort: number,
  ): ServeProcess => {
    const node = spawnServe({
      name,
      master,
      db,
      incomingDir: join(spool.path, name),
      tentaclePort,
      httpPort,
    });
    nodes.push(node);
    return node;
  };
  let s1 = start('srv1', 5, t1, h1);
  let s2 = start('srv2', 3, t2, h2);
  await s1.ready();
  await s2.ready();
  const lb = await startHaproxy([
    { name: 's1', port: t1, checkPort: h1 },
    { name: 's2', port: t2, checkPort: h2 },
  ]);
  cleanup(() => lb.close());
  await lb.waitForStatus('s1', 'UP', 10_000);
  await lb.waitForStatus('s2', 'UP', 10_000);

  const fleet = startFleet(lb.port);
  let fleetStopped = false;
  cleanup(async () => {
    if (!fleetStopped) await fleet.stop().catch(() => undefined);
  });
  await waitForMoreAcks(fleet, FILES_PER_PHASE, 'sends through both servers');

  // Drain srv1: HAProxy sees /readyz 503 and stops routing to it; a connect it still routed is
  // refused by the drained listener and redispatched. No agent sees a failure.
  const failuresBeforeDrain = fleet.failures();
  const drain = await fetch(`http://127.0.0.1:${h1}/drain`, { method: 'POST' });
  assert.equal(drain.status, 202);
  await lb.waitForStatus('s1', 'DOWN', 10_000);
  await waitForMoreAcks(fleet, FILES_PER_PHASE, 'sends while srv1 is drained');
  assert.equal(fleet.failures() - failuresBeforeDrain, 0, 'no failed send during the drain');
  assert.equal((await fetch(`http://127.0.0.1:${h1}/livez`)).status, 200, 'drained stays live');
  await s2.waitForRole('master', 15_000); // srv1 resigned when draining
  await eventually(
    async () => (await s1.status())?.['queue_depth'] === 0,
    30_000,
    'srv1 queue drained',
  );

  // Rolling restart of srv1, then srv2 dies hard while agents keep sending.
  s1.kill('SIGTERM');
  assert.equal(await s1.exited, 0);
  s1 = start('srv1', 5, t1, h1);
  await s1.ready();
  await lb.waitForStatus('s1', 'UP', 15_000);
  await waitForMoreAcks(fleet, FILES_PER_PHASE, 'sends after srv1 is back');
  s2.kill('SIGKILL');
  await s2.exited;
  await lb.waitForStatus('s2', 'DOWN', 10_000);
  await waitForMoreAcks(fleet, FILES_PER_PHASE, 'sends with srv2 dead');
  await fleet.stop();
  fleetStopped = true;
  t.diagnostic(
    `acknowledged ${fleet.acked.size} files; ${fleet.failures()} failed attempts retried`,
  );

  // srv2's queue sat on its local disk: it is ingested when srv2 returns (a killed member may
  // only re-register once it is seen dead, after 2 × server_keepalive).
  await eventually(
    async () => {
      const [rows] = await db.pool.query<RowDataPacket[]>(
        "SELECT last_seen < NOW(3) - INTERVAL 5 SECOND AS dead FROM tha_member WHERE server_name = 'srv2'",
      );
      return Number(rows[0]?.['dead']) === 1;
    },
    20_000,
    'srv2 seen dead',
  );
  s2 = start('srv2', 3, t2, h2);
  await s2.ready();
  await assertExactlyOnce(db, fleet.acked);
});

/** Every acknowledged value is stored exactly once, and nothing else was stored. */
async function assertExactlyOnce(db: TestDatabase, acked: ReadonlySet<number>): Promise<void> {
  const query = `SELECT d.datos AS v, COUNT(*) AS n FROM tagente_datos d
      JOIN tagente_modulo m USING (id_agente_modulo) JOIN tagente a ON a.id_agente = m.id_agente
      WHERE a.nombre LIKE 'bal%' GROUP BY d.datos`;
  await eventually(
    async () => {
      const [rows] = await db.pool.query<RowDataPacket[]>(query);
      return rows.length >= acked.size;
    },
    90_000,
    `all ${acked.size} acknowledged files ingested`,
  );
  const [rows] = await db.pool.query<RowDataPacket[]>(query);
  const stored = new Map(rows.map((r) => [Number(r['v']), Number(r['n'])]));
  const duplicated = [...stored].filter(([, n]) => n !== 1);
  assert.deepEqual(duplicated, [], 'no file ingested twice');
  const missing = [...acked].filter((v) => !stored.has(v));
  assert.deepEqual(missing, [], 'no acknowledged file lost');
  const unexpected = [...stored.keys()].filter((v) => !acked.has(v));
  assert.deepEqual(unexpected, [], 'nothing stored that was not acknowledged');
}
