/**
 * Behind a real HAProxy (Debian package, TCP mode, `send-proxy` / `send-proxy-v2` from its own
 * loopback source address): the server sees each agent's address and port, in clear and with
 * our TLS passed through, and stores the bytes exactly; a balancer it does not list, or one that
 * forgets the header, is refused.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { FileStoredEvent } from '../../src/tentacle/index.js';
import { eventually } from '../ha/fixtures/cluster.js';
import { runHaproxy } from '../ha/fixtures/haproxy.js';
import { freePort } from '../helpers/net.js';
import { makeTestCerts, type TestCerts } from './fixtures/certs.js';
import { RawPeer, startServer } from './fixtures/harness.js';

const BALANCER = '127.0.0.3';
const AGENT = '127.0.0.9';

/** HAProxy on a free loopback port, relaying to the server from `source`; stopped after the test. */
async function haproxyInFront(
  t: TestContext,
  serverPort: number,
  serverLine: string,
  source = BALANCER,
): Promise<{ port: number; status: () => Promise<string> }> {
  const port = await freePort();
  const lb = await runHaproxy(`global
  maxconn 64
defaults
  mode tcp
  timeout connect 1s
  timeout client 10s
  timeout server 10s
frontend agents
  bind 127.0.0.1:${port}
  default_backend tentacle
backend tentacle
  server s1 127.0.0.1:${serverPort} ${serverLine} source ${source}`);
  t.after(() => lb.close());
  // CSV columns: pxname, svname, …, status is the 18th (index 17).
  const status = async (): Promise<string> =>
    (await lb.statsCsv())
      .split('\n')
      .find((l) => l.startsWith('tentacle,s1,'))
      ?.split(',')[17] ?? '';
  return { port, status };
}

describe('behind HAProxy with send-proxy', () => {
  let certs: TestCerts;
  before(() => {
    certs = makeTestCerts();
  });
  after(() => {
    certs.cleanup();
  });

  for (const sendProxy of ['send-proxy', 'send-proxy-v2'] as const) {
    for (const withTls of [false, true]) {
      test(`${sendProxy}${withTls ? ', TLS on our side' : ''}: the server sees the agent; SEND is byte-exact`, async (t) => {
        const h = await startServer(t, {
          proxyProtocol: true,
          proxyProtocolFrom: BALANCER,
          ...(withTls ? { tls: { cert: certs.serverCert, key: certs.serverKey } } : {}),
        });
        const events: FileStoredEvent[] = [];
        h.server.on('fileStored', (e) => events.push(e));
        const { port } = await haproxyInFront(t, h.port, sendProxy);
        const agent = await RawPeer.connect(port, {
          localAddress: AGENT,
          ...(withTls ? { tls: { rejectUnauthorized: false } } : {}),
        });
        t.after(() => {
          agent.destroy();
        });
        assert.equal(agent.tlsProtocol !== null, withTls);
        const data = Buffer.concat([Buffer.from('PROXY TCP4\r\n\r\n\0'), randomBytes(200_000)]);
        agent.write(`SEND <lb.data> SIZE ${data.length}\n`);
        await agent.expect('SEND OK\n');
        agent.write(data);
        await agent.expect('SEND OK\n');
        agent.write('QUIT\n');
        await agent.expectClose();
        assert.deepEqual(readFileSync(join(h.dir, 'lb.data')), data);
        assert.deepEqual(
          events.map((e) => e.peer),
          [AGENT],
        );
        const connected = h.logs.filter((r) => r['event'] === 'connected');
        assert.deepEqual(
          connected.map((r) => [r['peer'], r['peerPort'], r['via']]),
          [[AGENT, agent.socket.localPort, BALANCER]],
        );
      });
    }
  }

  test('a balancer not in proxy_protocol_from is refused; so is one without send-proxy', async (t) => {
    const h = await startServer(t, { proxyProtocol: true, proxyProtocolFrom: BALANCER });
    const unlisted = (await haproxyInFront(t, h.port, 'send-proxy-v2', '127.0.0.4')).port;
    const spoofed = await RawPeer.connect(unlisted, { localAddress: AGENT });
    spoofed.write('SEND <x.data> SIZE 1\nx');
    await spoofed.expectClose();
    const bare = (await haproxyInFront(t, h.port, '')).port;
    const direct = await RawPeer.connect(bare, { localAddress: AGENT });
    direct.write('SEND <y.data> SIZE 1\ny');
    await direct.expectClose();
    assert.deepEqual(h.files(), []);
    const refused = h.logs.filter((r) => r['reason'] === 'ERR_TENTACLE_PROXY_HEADER');
    assert.deepEqual(
      refused.map((r) => [r['peer'], r['err']]),
      [
        ['127.0.0.4', 'PROXY header from an address not in proxy_protocol_from'],
        [BALANCER, 'not a PROXY header'],
      ],
    );
  });

  test('health checks with check-send-proxy (v2 LOCAL, ended by a RST) pass without a warning', async (t) => {
    const h = await startServer(t, { proxyProtocol: true, proxyProtocolFrom: BALANCER });
    const lb = await haproxyInFront(t, h.port, 'send-proxy-v2 check check-send-proxy inter 100ms');
    await eventually(async () => (await lb.status()).startsWith('UP'), 10_000, 'the server UP');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.ok((await lb.status()).startsWith('UP'));
    const warnings = h.logs.filter((r) => (r.level ?? 0) >= 40);
    assert.deepEqual(warnings, []);
  });
});
