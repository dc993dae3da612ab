/**
 * PASS authentication (spec §2, §15 cases 32–39) and implicit / mutual TLS (§7, cases 58–61)
 * against the real server, with certificates the test makes with the openssl CLI.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type tls from 'node:tls';
import { createTentacleServer, passDigest } from '../../src/tentacle/index.js';
import { makeTestCerts, type TestCerts } from './fixtures/certs.js';
import { passLine, RawPeer, runSteps, startServer, tempFilesIn } from './fixtures/harness.js';

const SECRET_PASS = 'PASS 9e769017c85f064977fe6a658f207fa6\n';

describe('PASS (double MD5, silent drop)', () => {
  test('digests of the spec worked examples', () => {
    assert.equal(passDigest('secret'), '9e769017c85f064977fe6a658f207fa6');
    assert.equal(passDigest('password'), '9bf4b3611c53176f5c649aa4fc1ff6b2');
    assert.equal(passDigest('pandora'), '9ba1c4c7aeebfa552d5f62f5bbabf51c');
    assert.equal(
      passDigest(Buffer.from('p\xc3\xa4ss w0rd', 'latin1')),
      'ac6cc470ad58ece01b6a604f929d84fe',
    );
    assert.equal(passLine('secret'), SECRET_PASS);
  });

  test('case 32: valid PASS, then a normal session', async (t) => {
    const h = await startServer(t, { password: 'secret' });
    const peer = await h.connect();
    await runSteps(peer, [
      { send: SECRET_PASS },
      { expect: 'PASS OK\n' },
      { send: 'SEND <p.data> SIZE 2\n' },
      { expect: 'SEND OK\n' },
      { send: 'ok' },
      { expect: 'SEND OK\n' },
      { send: 'QUIT\n' },
      { close: true },
    ]);
    assert.deepEqual(h.files(), ['p.data']);
  });

  test('a UTF-8 password works byte for byte', async (t) => {
    const h = await startServer(t, { password: 'päss w0rd' });
    const peer = await h.connect();
    peer.write('PASS ac6cc470ad58ece01b6a604f929d84fe\n');
    await peer.expect('PASS OK\n');
  });

  const refused: [string, string, string][] = [
    ['33', 'wrong digest', 'PASS 00000000000000000000000000000000\n'],
    ['34', 'upper-case hex', 'PASS 9E769017C85F064977FE6A658F207FA6\n'],
    ['35', 'single MD5', 'PASS 5ebe2294ecd0e0f08eab7690d2a6ee69\n'],
    ['35b', 'trailing space', 'PASS 9e769017c85f064977fe6a658f207fa6 \n'],
    ['35c', 'CRLF', 'PASS 9e769017c85f064977fe6a658f207fa6\r\n'],
    ['36', 'no PASS (SEND first)', 'SEND <p2.data> SIZE 2\n'],
    ['36b', 'no PASS (QUIT first)', 'QUIT\n'],
  ];
  for (const [id, what, line] of refused) {
    test(`case ${id}: ${what}: closed without a reply, logged with the peer address`, async (t) => {
      const h = await startServer(t, { password: 'secret' });
      const peer = await h.connect();
      peer.write(line);
      await peer.expectClose();
      assert.deepEqual(h.files(), []);
      const rec = h.logs.find((r) => r['reason'] === 'ERR_TENTACLE_AUTH_FAILED');
      assert.ok(rec, 'auth failure logged');
      assert.equal(rec['peer'], '127.0.0.1');
      const metrics = await h.registry.getSingleMetricAsString('pandora_tentacle_rejections_total');
      assert.match(metrics, /reason="ERR_TENTACLE_AUTH_FAILED"} 1/);
    });
  }

  test('case 37: a second PASS after PASS OK is an unknown command', async (t) => {
    const h = await startServer(t, { password: 'secret' });
    const peer = await h.connect();
    await runSteps(peer, [
      { send: SECRET_PASS },
      { expect: 'PASS OK\n' },
      { send: SECRET_PASS },
      { close: true },
    ]);
  });

  test('case 38: PASS to a server without a password is an unknown command', async (t) => {
    const h = await startServer(t);
    const peer = await h.connect();
    await runSteps(peer, [{ send: 'PASS abc\n' }, { close: true }]);
  });

  test('PASS and the first command in one write (pipelined)', async (t) => {
    const h = await startServer(t, { password: 'secret' });
    const peer = await h.connect();
    await runSteps(peer, [
      { send: `${SECRET_PASS}SEND <q.data> SIZE 1\nq` },
      { expect: 'PASS OK\n' },
      { expect: 'SEND OK\n' },
      { expect: 'SEND OK\n' },
    ]);
  });
});

describe('implicit TLS and mutual TLS', () => {
  let certs: TestCerts;
  before(() => {
    certs = makeTestCerts();
  });
  after(() => {
    certs.cleanup();
  });

  const clientTls = (extra: tls.ConnectionOptions = {}): tls.ConnectionOptions => ({
    rejectUnauthorized: false,
    ...extra,
  });

  async function uploadOver(
    h: Awaited<ReturnType<typeof startServer>>,
    options: tls.ConnectionOptions,
    name: string,
    password?: string,
  ): Promise<RawPeer> {
    const peer = await h.connect({ tls: options });
    if (password) {
      peer.write(passLine(password));
      await peer.expect('PASS OK\n');
    }
    await runSteps(peer, [
      { send: `SEND <${name}> SIZE 5\n` },
      { expect: 'SEND OK\n' },
      { send: 'hello' },
      { expect: 'SEND OK\n' },
    ]);
    return peer;
  }

  test('case 58: -e cert -k key, client without a certificate (agent server_ssl 1)', async (t) => {
    const h = await startServer(t, { tls: { cert: certs.serverCert, key: certs.serverKey } });
    const peer = await uploadOver(h, clientTls(), 'tls.data');
    assert.equal(peer.tlsProtocol, 'TLSv1.3');
    assert.equal(readFileSync(join(h.dir, 'tls.data'), 'utf8'), 'hello');
  });

  test('the server certificate verifies against the CA, with the SAN for 127.0.0.1', async (t) => {
    const h = await startServer(t, { tls: { cert: certs.serverCert, key: certs.serverKey } });
    await uploadOver(h, { ca: readFileSync(certs.ca), servername: 'localhost' }, 'verified.data');
  });

  test('no -k: the key is read from the certificate PEM', async (t) => {
    const h = await startServer(t, { tls: { cert: certs.serverCombined } });
    await uploadOver(h, clientTls(), 'combined.data');
  });

  test('no -k and no key in the PEM: refused at startup, not per connection', () => {
    assert.throws(
      () => createTentacleServer({ directory: certs.dir, tls: { cert: certs.serverCert } }),
      /TLS setup failed/,
    );
  });

  test('-u with an unknown cipher list: refused at startup', () => {
    assert.throws(
      () =>
        createTentacleServer({
          directory: certs.dir,
          tls: { cert: certs.serverCert, key: certs.serverKey, ciphers: 'NOT-A-CIPHER' },
        }),
      /TLS setup failed/,
    );
  });

  test('-z TLSv1_2 limits the version; TLSv1_3-only clients fail', async (t) => {
    const h = await startServer(t, {
      tls: { cert: certs.serverCert, key: certs.serverKey, version: 'TLSv1_2' },
    });
    const peer = await uploadOver(h, clientTls(), 'v12.data');
    assert.equal(peer.tlsProtocol, 'TLSv1.2');
    await assert.rejects(RawPeer.connect(h.port, { tls: clientTls({ minVersion: 'TLSv1.3' }) }));
  });

  test('case 59: mutual TLS (-f ca) with a password and ZSEND', async (t) => {
    const h = await startServer(t, {
      password: 'secret',
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca },
    });
    const peer = await h.connect({
      tls: clientTls({ cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) }),
    });
    await runSteps(peer, [
      { send: SECRET_PASS },
      { expect: 'PASS OK\n' },
      { send: 'ZSEND <m.data> SIZE 5\n' },
      { expect: 'ZSEND OK\n' },
      { send: 'hello' },
      { expect: 'ZSEND OK\n' },
    ]);
    assert.equal(readFileSync(join(h.dir, 'm.data'), 'utf8'), 'hello');
  });

  async function expectHandshakeRefused(
    port: number,
    options: tls.ConnectionOptions,
  ): Promise<void> {
    // TLS 1.3: the client may finish its side before the server's alert arrives; either the
    // connect fails or the first read sees the connection end without a byte.
    let peer: RawPeer;
    try {
      peer = await RawPeer.connect(port, { tls: options });
    } catch {
      return;
    }
    peer.write('SEND <x.data> SIZE 1\n');
    await peer.expectClose();
  }

  test('case 60: -f ca and a client without a certificate: handshake refused, logged', async (t) => {
    const h = await startServer(t, {
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca },
    });
    await expectHandshakeRefused(h.port, clientTls());
    assert.deepEqual(h.files(), []);
    await h.server.drain();
    const rec = h.logs.find((r) => r['reason'] === 'ERR_TENTACLE_TLS');
    assert.ok(rec, 'TLS failure logged');
    assert.equal(rec['peer'], '127.0.0.1');
  });

  test('-f ca and a client certificate from another CA: refused', async (t) => {
    const h = await startServer(t, {
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca },
    });
    await expectHandshakeRefused(
      h.port,
      clientTls({ cert: readFileSync(certs.rogueCert), key: readFileSync(certs.rogueKey) }),
    );
    assert.deepEqual(h.files(), []);
  });

  test('case 61: plain client to a TLS server: closed, nothing stored, no reply', async (t) => {
    const h = await startServer(t, { tls: { cert: certs.serverCert, key: certs.serverKey } });
    const peer = await h.connect();
    peer.write('SEND <plain.data> SIZE 5\nhello');
    await peer.expectClose();
    assert.deepEqual(h.files(), []);
    assert.deepEqual(tempFilesIn(h.dir), []);
  });

  test('a TLS client that never completes the handshake is dropped at the idle limit', async (t) => {
    const h = await startServer(t, {
      timeoutSec: 1,
      retries: 1,
      tls: { cert: certs.serverCert, key: certs.serverKey },
    });
    const peer = await h.connect(); // plain TCP: sends no ClientHello at all
    const waited = await peer.expectClose(6000);
    assert.ok(waited >= 1500, `closed after ${waited} ms, before the 2 s idle limit`);
  });
});
