import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../../src/core/index.js';
import { makeTestCerts, type TestCerts } from './fixtures/certs.js';
import { startServer, uploadSteps, runSteps } from './fixtures/harness.js';

// A running listener takes a new configuration (what SIGHUP does in serve): limits, filters and
// the TLS certificate for new connections; what needs a restart is kept and named.

describe('TentacleServer.reconfigure', () => {
  let certs: TestCerts;
  before(() => {
    certs = makeTestCerts();
  });
  after(() => {
    certs.cleanup();
  });

  test('a lower per-address cap refuses the next connection; open sessions keep working', async (t) => {
    const h = await startServer(t, { maxConnectionsPerAddress: 4 });
    const first = await h.connect();
    const second = await h.connect();
    await runSteps(first, uploadSteps('before.1.data', 'abc'));
    const result = h.server.reconfigure({
      addresses: '127.0.0.1',
      port: 0,
      sync: 'none',
      directory: h.dir,
      maxConnectionsPerAddress: 1,
    });
    assert.deepEqual(result.applied, ['maxConnectionsPerAddress']);
    assert.deepEqual(result.restartNeeded, []);
    assert.equal(h.server.config.maxConnectionsPerAddress, 1);
    const third = await h.connect();
    third.write('SEND <over.1.data> SIZE 3\n');
    await assert.rejects(third.read(1), /connection ended after 0/);
    await runSteps(second, uploadSteps('after.1.data', 'def'));
    assert.deepEqual(h.files(), ['after.1.data', 'before.1.data']);
  });

  test('new filters route the next uploads; a new port waits for a restart', async (t) => {
    const h = await startServer(t, {});
    mkdirSync(`${h.dir}/conf`);
    const result = h.server.reconfigure({
      addresses: '127.0.0.1',
      port: h.port + 1,
      sync: 'none',
      directory: h.dir,
      filters: '.*\\.conf:conf',
    });
    assert.deepEqual(result.applied, ['filters']);
    assert.deepEqual(result.restartNeeded, ['port']);
    assert.equal(h.server.config.port, 0, 'still the port it was started with');
    const peer = await h.connect();
    await runSteps(peer, uploadSteps('agent.conf', 'x'));
    assert.deepEqual(h.files('conf'), ['agent.conf']);
  });

  test('an invalid configuration is refused and the running one kept', async (t) => {
    const h = await startServer(t, { filters: '.*\\.conf:.' });
    assert.throws(
      () => h.server.reconfigure({ directory: h.dir, port: 0, filters: '(:conf' }),
      ConfigError,
    );
    assert.equal(h.server.config.filters[0]?.source, '.*\\.conf');
  });

  test('the TLS certificate is read again: new connections get the new one', async (t) => {
    const h = await startServer(t, { tls: { cert: certs.serverCert, key: certs.serverKey } });
    const options: tls.ConnectionOptions = { rejectUnauthorized: false };
    let uploads = 0;
    const subject = async (): Promise<string> => {
      const peer = await h.connect({ tls: options });
      assert.ok(peer.socket instanceof tls.TLSSocket);
      const cert = peer.socket.getPeerCertificate();
      // A clean end: the server sees the whole handshake, then QUIT.
      await runSteps(peer, uploadSteps(`tls.${String(++uploads)}.data`, 'x'));
      peer.write('QUIT\n');
      await assert.rejects(peer.read(1), /connection ended/);
      return String(cert.subject.CN);
    };
    const before = await subject();
    const result = h.server.reconfigure({
      addresses: '127.0.0.1',
      port: 0,
      sync: 'none',
      directory: h.dir,
      tls: { cert: certs.clientCert, key: certs.clientKey },
    });
    assert.deepEqual(result.applied, ['tls']);
    const afterReload = await subject();
    assert.notEqual(afterReload, before);
    // Turning TLS off is a restart's job: kept on, and named.
    const off = h.server.reconfigure({
      addresses: '127.0.0.1',
      port: 0,
      sync: 'none',
      directory: h.dir,
    });
    assert.deepEqual(off.restartNeeded, ['tls']);
    assert.equal(await subject(), afterReload);
  });
});
