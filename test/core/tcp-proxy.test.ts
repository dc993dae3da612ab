import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { abortSocket, createTcpProxy } from '../helpers/tcp-proxy.js';

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

test('abortSocket closes a socket whose FIN is still pending (Node cannot reset it)', async (t) => {
  const server = await echoServer();
  t.after(() => server.close());
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(socket, 'connect');
  const errors: Error[] = [];
  socket.on('error', (err) => errors.push(err));
  const closed = once(socket, 'close').then(() => 'closed');
  socket.end(); // as pipe() does when the other side ends: the shutdown is pending now
  abortSocket(socket);
  // resetAndDestroy() here fails with EINVAL and the socket never closes (nor does the process).
  const outcome = await Promise.race([closed, new Promise((r) => setTimeout(r, 2000, 'open'))]);
  assert.equal(outcome, 'closed');
  assert.deepEqual(errors, []);
});

test('abortSocket resets a live socket: the peer sees ECONNRESET', async (t) => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  client.on('error', () => undefined);
  await once(client, 'connect');
  const [peer] = await accepted;
  const seen = new Promise<string>((resolve) => {
    peer.once('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code ?? 'error without code');
    });
    peer.once('close', () => {
      resolve('closed without error');
    });
  });
  abortSocket(client);
  assert.equal(await seen, 'ECONNRESET');
});
