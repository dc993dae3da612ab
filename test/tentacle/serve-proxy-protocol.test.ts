/**
 * `tentacle-ingest serve` behind a real HAProxy with `send-proxy-v2`: the built-in listener's
 * keys (`tentacle_proxy_protocol`, `tentacle_proxy_protocol_from`) turn the PROXY protocol on,
 * its logs name the agent, and the packet is ingested; a direct agent is still served.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { eventually, killAll, type NodeProcess } from '../ha/fixtures/cluster.js';
import { runHaproxy } from '../ha/fixtures/haproxy.js';
import { agentXml, freePort, initServeDatabase, spawnServe } from '../ha/fixtures/serve.js';
import { createTestDatabase } from '../helpers/db.js';
import { teardown } from '../helpers/teardown.js';
import { tempDir } from '../helpers/tmp.js';
import { RawPeer } from './fixtures/harness.js';

const BALANCER = '127.0.0.3';
const AGENT = '127.0.0.9';

async function send(port: number, localAddress: string, name: string, data: string): Promise<void> {
  const peer = await RawPeer.connect(port, { localAddress });
  try {
    const bytes = Buffer.from(data);
    peer.write(`SEND <${name}> SIZE ${bytes.length}\n`);
    await peer.expect('SEND OK\n');
    peer.write(bytes);
    await peer.expect('SEND OK\n');
    peer.write('QUIT\n');
    await peer.expectClose();
  } finally {
    peer.destroy();
  }
}

test('serve behind HAProxy send-proxy-v2: logs name the agent, the packet is ingested', async (t) => {
  const cleanup = teardown(t);
  const db = await createTestDatabase('ti_pp_serve');
  cleanup(() => db.drop());
  await initServeDatabase(db);
  const spool = tempDir('ti-pp-');
  cleanup(() => {
    spool.cleanup();
  });
  const nodes: NodeProcess[] = [];
  cleanup(() => killAll(nodes));
  const [tentaclePort, httpPort, lbPort] = [await freePort(), await freePort(), await freePort()];
  const serve = spawnServe({
    name: 'pp1',
    master: 1,
    db,
    incomingDir: join(spool.path, 'data_in'),
    tentaclePort,
    httpPort,
    extra: [
      '--tentacle-proxy-protocol',
      '--tentacle-proxy-protocol-from',
      `${BALANCER}/32`,
      // The connected lines this test reads are debug lines (issue 13).
      '--verbosity',
      '10',
    ],
  });
  nodes.push(serve);
  await serve.ready();
  const lb = await runHaproxy(`defaults
  mode tcp
  timeout connect 1s
  timeout client 10s
  timeout server 10s
frontend agents
  bind 127.0.0.1:${lbPort}
  default_backend tentacle
backend tentacle
  server pp1 127.0.0.1:${tentaclePort} send-proxy-v2 source ${BALANCER}`);
  cleanup(() => lb.close());

  await send(lbPort, AGENT, 'ppagent.1709287200.data', agentXml('ppagent', 1));
  await send(tentaclePort, '127.0.0.1', 'direct.1709287200.data', agentXml('direct', 2));
  await eventually(
    async () => {
      const [rows] = await db.pool.query<RowDataPacket[]>(
        "SELECT COUNT(*) AS n FROM tagente_datos d JOIN tagente_modulo m USING (id_agente_modulo) JOIN tagente a ON a.id_agente = m.id_agente WHERE a.nombre IN ('ppagent', 'direct')",
      );
      return Number(rows[0]?.['n']) === 2;
    },
    30_000,
    'both packets ingested',
  );
  const connected = await serve.waitFor(
    (e) => e.event === 'connected' && e['via'] === BALANCER,
    10_000,
    'a connected line through the balancer',
  );
  assert.equal(connected['peer'], AGENT);
  await serve.waitFor(
    (e) => e.event === 'connected' && e['peer'] === '127.0.0.1' && e['via'] === undefined,
    10_000,
    'the direct agent',
  );
});
