import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { createTcpProxy } from '../helpers/tcp-proxy.js';

/** An echo server behind the proxy, and a client that waits for one echoed reply. */
async function echoServer(): Promise<net.Server> {
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

function reply(socket: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once('data', (d: Buffer) => {
      resolve(d.toString());
    });
    socket.once('error', reject);
    socket.once('close', () => {
      reject(new Error('closed'));
    });
  });
}

function closeOf(socket: net.Socket): Promise<void> {
  socket.on('error', () => undefined);
  return new Promise((resolve) =>
    socket.once('close', () => {
      resolve();
    }),
  );
}

test('tcp proxy passes, cuts, black-holes and restores', async (t) => {
  const server = await echoServer();
  t.after(() => server.close());
  const proxy = await createTcpProxy({
    host: '127.0.0.1',
    port: (server.address() as net.AddressInfo).port,
  });
  t.after(() => proxy.close());

  const a = net.connect(proxy.port, proxy.host);
  await once(a, 'connect');
  a.write('one');
  assert.equal(await reply(a), 'one');

  // Black hole: the write is held, then delivered after restore.
  proxy.blackhole();
  const held = reply(a);
  a.write('two');
  const early = await Promise.race([
    held.then(() => 'answered'),
    new Promise((r) => setTimeout(r, 300, 'silent')),
  ]);
  assert.equal(early, 'silent');
  proxy.restore();
  assert.equal(await held, 'two');

  // Cut: the open connection is reset, new ones too, until restored.
  // events.once() rejects on 'error', and a reset emits one: wait for 'close' by hand.
  const closed = closeOf(a);
  proxy.cut();
  await closed;
  const b = net.connect(proxy.port, proxy.host);
  await closeOf(b);
  proxy.restore();
  const c = net.connect(proxy.port, proxy.host);
  await once(c, 'connect');
  c.write('three');
  assert.equal(await reply(c), 'three');
  c.destroy();
});
