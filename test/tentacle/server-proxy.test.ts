/**
 * Proxy mode (`-b ip -g port`, spec §8.1, §15 case 62): sessions are relayed byte for byte to
 * an upstream Tentacle server, after the proxy's own TLS and PASS when it has them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { passLine, runSteps, startServer } from './fixtures/harness.js';

describe('proxy mode', () => {
  test('case 62: a session through the proxy gives the same bytes; the file lands upstream', async (t) => {
    const upstream = await startServer(t);
    const proxy = await startServer(t, { proxy: { host: '127.0.0.1', port: upstream.port } });
    const peer = await proxy.connect();
    await runSteps(peer, [
      { send: 'SEND <via.data> SIZE 5\n' },
      { expect: 'SEND OK\n' },
      { send: 'proxy' },
      { expect: 'SEND OK\n' },
      { send: 'SEND <via.data> SIZE 5\n' },
      { expect: 'SEND ERR (file already exists)\n' },
      { send: 'QUIT\n' },
      { close: true },
    ]);
    assert.equal(readFileSync(join(upstream.dir, 'via.data'), 'utf8'), 'proxy');
    assert.deepEqual(proxy.files(), []);
  });

  test('without -x on the proxy, PASS is relayed and checked upstream', async (t) => {
    const upstream = await startServer(t, { password: 'secret' });
    const proxy = await startServer(t, { proxy: { host: '127.0.0.1', port: upstream.port } });
    const ok = await proxy.connect();
    await runSteps(ok, [{ send: passLine('secret') }, { expect: 'PASS OK\n' }]);
    const bad = await proxy.connect();
    await runSteps(bad, [{ send: passLine('wrong') }, { close: true }]);
  });

  test('with -x on the proxy, the proxy checks PASS itself and relays the rest', async (t) => {
    const upstream = await startServer(t);
    const proxy = await startServer(t, {
      password: 'secret',
      proxy: { host: '127.0.0.1', port: upstream.port },
    });
    const peer = await proxy.connect();
    await runSteps(peer, [
      { send: `${passLine('secret')}SEND <p.data> SIZE 1\n` },
      { expect: 'PASS OK\n' },
      { expect: 'SEND OK\n' },
      { send: 'p' },
      { expect: 'SEND OK\n' },
    ]);
    assert.deepEqual(upstream.files(), ['p.data']);
    const bad = await proxy.connect();
    await runSteps(bad, [{ send: passLine('wrong') }, { close: true }]);
  });

  test('upstream down: the client is dropped', async (t) => {
    const proxy = await startServer(t, { proxy: { host: '127.0.0.1', port: 1 } });
    const peer = await proxy.connect();
    peer.write('SEND <x.data> SIZE 1\n');
    await peer.expectClose();
    assert.ok(proxy.logs.some((r) => r['reason'] === 'ERR_TENTACLE_PROXY'));
  });
});
