/**
 * PROXY protocol on the listener (`proxy_protocol`, `proxy_protocol_from`), over real loopback
 * sockets from distinct 127.0.0.x sources: a balancer address must send the header and the
 * session, its logs and its events then name the agent; anyone else is a direct client and may
 * not send one.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfText } from '../../src/core/conf-file.js';
import {
  createTentacleServer,
  resolveTentacleSettings,
  serverOptionsFromSettings,
  type FileStoredEvent,
} from '../../src/tentacle/index.js';
import { makeTestCerts, type TestCerts } from './fixtures/certs.js';
import { startServer, type Harness, type LogRecord, type RawPeer } from './fixtures/harness.js';
import { inet4, inet6, TLVS, v1, v2 } from './fixtures/proxy-headers.js';

const BALANCER = '127.0.0.3';
const OTHER_BALANCER = '127.0.0.65';
const AGENT = '127.0.0.9';
const PROXY_PROTOCOL = {
  proxyProtocol: true,
  proxyProtocolFrom: `${BALANCER}, 127.0.0.64/30`,
  proxyProtocolTimeoutSec: 1,
};
const REFUSED = 'ERR_TENTACLE_PROXY_HEADER';

/** Binary body with CR, LF, NUL and a PROXY signature in it: stored byte for byte or not at all. */
function body(): Buffer {
  return Buffer.concat([v2({ command: 0 }), Buffer.from('PROXY TCP4\r\n'), randomBytes(64 * 1024)]);
}

async function send(peer: RawPeer, name: string, data: Buffer): Promise<void> {
  peer.write(`SEND <${name}> SIZE ${data.length}\n`);
  await peer.expect('SEND OK\n');
  peer.write(data);
  await peer.expect('SEND OK\n');
}

function storedEvents(h: Harness): FileStoredEvent[] {
  const events: FileStoredEvent[] = [];
  h.server.on('fileStored', (e) => events.push(e));
  return events;
}

function logsOf(h: Harness, event: string): LogRecord[] {
  return h.logs.filter((r) => r['event'] === event);
}

async function rejections(h: Harness): Promise<number> {
  const metric = await h.registry.getSingleMetric('pandora_tentacle_rejections_total')?.get();
  return metric?.values.find((v) => v.labels['reason'] === REFUSED)?.value ?? 0;
}

/** The connection is closed without a byte, and the refusal is logged with its cause. */
async function assertRefused(h: Harness, peer: RawPeer, cause: RegExp): Promise<void> {
  await peer.expectClose();
  const refused = logsOf(h, 'rejected').filter((r) => r['reason'] === REFUSED);
  assert.ok(
    refused.some((r) => cause.test(String(r['err']))),
    `no refusal matching ${cause}: ${JSON.stringify(refused)}`,
  );
}

describe('PROXY protocol on the Tentacle listener', () => {
  let certs: TestCerts;
  before(() => {
    certs = makeTestCerts();
  });
  after(() => {
    certs.cleanup();
  });

  test('v1 from the balancer: session, logs and fileStored name the agent; SEND is byte-exact', async (t) => {
    const h = await startServer(t, PROXY_PROTOCOL);
    const events = storedEvents(h);
    const data = body();
    const peer = await h.connect({ localAddress: BALANCER, preamble: v1(AGENT, 50123) });
    await send(peer, 'v1.data', data);
    assert.deepEqual(readFileSync(join(h.dir, 'v1.data')), data);
    assert.equal(events[0]?.peer, AGENT);
    const connected = logsOf(h, 'connected');
    assert.deepEqual(
      connected.map((r) => [r['peer'], r['peerPort'], r['via']]),
      [[AGENT, 50123, BALANCER]],
    );
    const stored = h.logs.find((r) => r['cid'] !== undefined && r['peer'] === AGENT);
    assert.ok(stored, 'session logs carry the agent address');
    assert.equal(stored['via'], BALANCER);
  });

  test('v2 with TLVs, written byte by byte together with the first command', async (t) => {
    const h = await startServer(t, PROXY_PROTOCOL);
    const events = storedEvents(h);
    const header = v2({
      addresses: inet4([127, 0, 0, 9], [127, 0, 0, 1], 40001, 41121),
      tlvs: TLVS,
    });
    const first = Buffer.concat([header, Buffer.from('SEND <v2.data> SIZE 3\n')]);
    const peer = await h.connect({ localAddress: OTHER_BALANCER });
    for (const b of first) {
      peer.write(Buffer.from([b]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await peer.expect('SEND OK\n');
    peer.write('abc');
    await peer.expect('SEND OK\n');
    assert.equal(readFileSync(join(h.dir, 'v2.data'), 'latin1'), 'abc');
    assert.deepEqual(
      events.map((e) => e.peer),
      [AGENT],
    );
    assert.equal(logsOf(h, 'connected')[0]?.['via'], OTHER_BALANCER);
  });

  test('v2 over IPv6 names an IPv6 agent', async (t) => {
    const h = await startServer(t, PROXY_PROTOCOL);
    const events = storedEvents(h);
    const addresses = inet6(
      '2001:0db8:0000:0000:0000:0000:0000:0009',
      '0000:0000:0000:0000:0000:0000:0000:0001',
      40002,
      41121,
    );
    const peer = await h.connect({
      localAddress: BALANCER,
      preamble: v2({ family: 0x21, addresses }),
    });
    await send(peer, 'v6.data', Buffer.from('six'));
    assert.equal(events[0]?.peer, '2001:db8::9');
  });

  test('v2 LOCAL (and v1 UNKNOWN) keep the balancer’s own address', async (t) => {
    const h = await startServer(t, PROXY_PROTOCOL);
    const events = storedEvents(h);
    const local = await h.connect({
      localAddress: BALANCER,
      preamble: v2({ command: 0, tlvs: TLVS }),
    });
    await send(local, 'local.data', Buffer.from('x'));
    const unknown = await h.connect({
      localAddress: BALANCER,
      preamble: Buffer.from('PROXY UNKNOWN\r\n'),
    });
    await send(unknown, 'unknown.data', Buffer.from('y'));
    assert.deepEqual(
      events.map((e) => e.peer),
      [BALANCER, BALANCER],
    );
    assert.deepEqual(
      logsOf(h, 'connected').map((r) => [r['peer'], r['via']]),
      [
        [BALANCER, undefined],
        [BALANCER, undefined],
      ],
    );
  });

  for (const version of ['v1', 'v2'] as const) {
    test(`TLS: the ${version} header precedes the handshake; the session names the agent`, async (t) => {
      const h = await startServer(t, {
        ...PROXY_PROTOCOL,
        tls: { cert: certs.serverCert, key: certs.serverKey },
      });
      const events = storedEvents(h);
      const preamble =
        version === 'v1'
          ? v1(AGENT, 50200)
          : v2({ addresses: inet4([127, 0, 0, 9], [127, 0, 0, 1], 50200, 41121), tlvs: TLVS });
      const peer = await h.connect({
        localAddress: BALANCER,
        preamble,
        tls: { rejectUnauthorized: false },
      });
      assert.ok(peer.tlsProtocol);
      const data = body();
      await send(peer, `tls-${version}.data`, data);
      assert.deepEqual(readFileSync(join(h.dir, `tls-${version}.data`)), data);
      assert.equal(events[0]?.peer, AGENT);
      assert.deepEqual(
        logsOf(h, 'connected').map((r) => [r['peer'], r['peerPort'], r['via']]),
        [[AGENT, 50200, BALANCER]],
      );
    });
  }

  test('a direct client (address not listed) is served as before, in clear and over TLS', async (t) => {
    const plain = await startServer(t, PROXY_PROTOCOL);
    const plainEvents = storedEvents(plain);
    await send(await plain.connect(), 'direct.data', Buffer.from('direct'));
    assert.equal(plainEvents[0]?.peer, '127.0.0.1');
    const secure = await startServer(t, {
      ...PROXY_PROTOCOL,
      tls: { cert: certs.serverCert, key: certs.serverKey },
    });
    const secureEvents = storedEvents(secure);
    const peer = await secure.connect({ tls: { rejectUnauthorized: false } });
    await send(peer, 'direct.data', Buffer.from('direct'));
    assert.equal(secureEvents[0]?.peer, '127.0.0.1');
  });

  test('a PROXY header from an address not in proxy_protocol_from is refused', async (t) => {
    const h = await startServer(t, PROXY_PROTOCOL);
    const spoofV1 = await h.connect({ localAddress: '127.0.0.2', preamble: v1('10.0.0.1', 1) });
    spoofV1.write('SEND <spoof.data> SIZE 1\nx');
    await assertRefused(h, spoofV1, /not in proxy_protocol_from/);
    const spoofV2 = await h.connect({
      preamble: v2({ addresses: inet4([10, 0, 0, 1], [127, 0, 0, 1], 1, 2) }),
    });
    await assertRefused(h, spoofV2, /not in proxy_protocol_from/);
    assert.deepEqual(h.files(), []);
    assert.equal(await rejections(h), 2);
    // The refusal names the connection's real source, never the claimed one.
    const refused = logsOf(h, 'rejected').map((r) => r['peer']);
    assert.deepEqual(refused, ['127.0.0.2', '127.0.0.1']);
  });

  test('a balancer address without a header is refused, as HAProxy’s accept-proxy does', async (t) => {
    const h = await startServer(t, PROXY_PROTOCOL);
    const bare = await h.connect({ localAddress: OTHER_BALANCER });
    bare.write('SEND <bare.data> SIZE 1\nx');
    await assertRefused(h, bare, /not a PROXY header/);
    assert.deepEqual(h.files(), []);
  });

  test('a malformed or late header closes the connection; the next one is served', async (t) => {
    const h = await startServer(t, PROXY_PROTOCOL);
    const garbage = await h.connect({
      localAddress: BALANCER,
      preamble: Buffer.from('PROXY TCP4 127.0.0.9 127.0.0.1 99999 41121\r\n'),
    });
    await assertRefused(h, garbage, /invalid port "99999"/);
    const oversize = await h.connect({
      localAddress: BALANCER,
      preamble: Buffer.from(`PROXY UNKNOWN ${'1'.repeat(200)}\r\n`),
    });
    await assertRefused(h, oversize, /longer than 107 bytes/);
    const late = await h.connect({ localAddress: BALANCER, preamble: Buffer.from('PROXY TCP4 ') });
    await assertRefused(h, late, /no complete PROXY header in time/);
    const quiet = await h.connect();
    await assertRefused(h, quiet, /no first bytes in time/);
    const half = await h.connect({ localAddress: BALANCER, preamble: Buffer.from('PROXY') });
    half.halfClose();
    await assertRefused(h, half, /closed before the PROXY header/);
    assert.equal(await rejections(h), 5);
    const ok = await h.connect({ localAddress: BALANCER, preamble: v1(AGENT, 1) });
    await send(ok, 'after.data', Buffer.from('ok'));
    assert.equal(h.server.activeConnections(), 1);
  });

  test('settings: off by default; on needs proxy_protocol_from; entries are addresses or CIDRs', () => {
    const defaults = resolveTentacleSettings({});
    assert.equal(defaults.values.proxy_protocol, false);
    const dir = certs.dir;
    assert.equal(createTentacleServer({ directory: dir }).config.proxyProtocol, undefined);
    assert.throws(
      () => createTentacleServer({ directory: dir, proxyProtocol: true }),
      /proxy_protocol 1 needs proxy_protocol_from/,
    );
    for (const bad of [
      '10.0.0.300',
      '10.0.0.0/33',
      '::1/129',
      'lb.example.com',
      '10.0.0.0/8/1',
      '10.0.0.0/x',
    ]) {
      assert.throws(
        () => createTentacleServer({ directory: dir, proxyProtocol: true, proxyProtocolFrom: bad }),
        /proxy_protocol_from/,
        bad,
      );
    }
    const file = parseConfText(
      'proxy_protocol 1\nproxy_protocol_from 10.0.0.5, 10.1.0.0/16,::1\nproxy_protocol_timeout 2\n',
      'tentacle_server.conf',
    );
    const { values } = resolveTentacleSettings({ file });
    const config = createTentacleServer({ ...serverOptionsFromSettings(values), directory: dir })
      .config.proxyProtocol;
    assert.ok(config);
    assert.deepEqual(config.from, ['10.0.0.5', '10.1.0.0/16', '::1']);
    assert.equal(config.timeoutMs, 2000);
    assert.ok(config.trusted.check('10.1.200.3'));
    assert.ok(!config.trusted.check('10.2.0.1'));
    assert.ok(config.trusted.check('::1', 'ipv6'));
  });
});
