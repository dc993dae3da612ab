// Byte-level behaviour of the Tentacle client against small raw peers: exact request bytes,
// strict lock step (nothing is written before the server has answered), PASS digest, error
// lines and codes, timeouts, real aborts, downloads and the HTTP CONNECT tunnel.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { ErrorCode } from '../../src/core/errors.js';
import { TentacleClientError, connect, passDigest } from '../../src/tentacle/client.js';
import { zipSingleFile } from '../../src/tentacle/zip.js';

interface Peer {
  readonly server: Server;
  readonly port: number;
  /** Resolves with every byte the client sent, once the client closed. */
  readonly closed: Promise<Buffer>;
  /** Bytes received so far. */
  received(): number;
}

/**
 * A raw server that runs `script` on the first connection. `script` gets helpers to read a line
 * or n bytes and to write replies; `received` logs every chunk with how many replies had been
 * written when it arrived.
 */
async function rawPeer(
  script: (io: {
    socket: Socket;
    line(): Promise<string>;
    bytes(n: number): Promise<Buffer>;
    reply(text: string | Buffer): void;
  }) => Promise<void>,
  t: { after(fn: () => unknown): void },
): Promise<Peer> {
  let resolveClosed: (b: Buffer) => void = () => undefined;
  const closed = new Promise<Buffer>((resolve) => (resolveClosed = resolve));
  let receivedBytes = 0;
  const server = createServer((socket) => {
    const all: Buffer[] = [];
    let pending = Buffer.alloc(0);
    let wake: (() => void) | undefined;
    let ended = false;
    socket.on('data', (chunk: Buffer) => {
      all.push(chunk);
      receivedBytes += chunk.length;
      pending = Buffer.concat([pending, chunk]);
      wake?.();
    });
    socket.on('close', () => {
      ended = true;
      wake?.();
      resolveClosed(Buffer.concat(all));
    });
    socket.on('error', () => undefined);
    const waitFor = async (ready: () => boolean): Promise<void> => {
      while (!ready()) {
        if (ended) throw new Error('client closed');
        await new Promise<void>((resolve) => (wake = resolve));
      }
    };
    const io = {
      socket,
      async line() {
        await waitFor(() => pending.includes(0x0a));
        const lf = pending.indexOf(0x0a);
        const text = pending.subarray(0, lf).toString('latin1');
        pending = pending.subarray(lf + 1);
        return text;
      },
      async bytes(n: number) {
        await waitFor(() => pending.length >= n);
        const out = pending.subarray(0, n);
        pending = pending.subarray(n);
        return out;
      },
      /** Fails the script if the client already sent more than was asked for (not lock step). */
      reply(text: string | Buffer) {
        assert.equal(pending.length, 0, `client sent bytes before the reply: ${String(pending)}`);
        socket.write(text);
      },
    };
    script(io).catch(() => socket.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  return {
    server,
    port: (server.address() as AddressInfo).port,
    closed,
    received: () => receivedBytes,
  };
}

test('two files in one session: exact bytes, lock step, QUIT', async (t) => {
  const seen: string[] = [];
  const peer = await rawPeer(async (io) => {
    for (let i = 0; i < 2; i++) {
      const line = await io.line();
      seen.push(line);
      const size = Number(/SIZE (\d+)$/.exec(line)?.[1]);
      // Give a client that does not wait every chance to send the body too early.
      await new Promise((resolve) => setTimeout(resolve, 30));
      io.reply('SEND OK\n');
      seen.push((await io.bytes(size)).toString());
      await new Promise((resolve) => setTimeout(resolve, 30));
      io.reply('SEND OK\n');
    }
    seen.push(await io.line());
    io.socket.end();
  }, t);
  const session = await connect({ host: '127.0.0.1', port: peer.port });
  await session.send('a.data', Buffer.from('hello'));
  await session.send(Buffer.from('b c.data'), Buffer.from('abc'));
  await session.quit();
  const wire = await peer.closed;
  assert.deepEqual(seen, [
    'SEND <a.data> SIZE 5',
    'hello',
    'SEND <b c.data> SIZE 3',
    'abc',
    'QUIT',
  ]);
  assert.equal(
    wire.toString(),
    'SEND <a.data> SIZE 5\nhelloSEND <b c.data> SIZE 3\nabcQUIT\n',
    'nothing else on the wire',
  );
});

test('the client sends nothing before it has something to ask (no greeting expected)', async (t) => {
  const peer = await rawPeer(async (io) => {
    assert.equal(await io.line(), 'RECV <x.data>');
    io.reply('RECV ERR (file does not exist)\n');
    await io.line();
  }, t);
  const session = await connect({ host: '127.0.0.1', port: peer.port });
  // Connected and silent: the server must not see a byte until a request is made.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(peer.received(), 0);
  await assert.rejects(session.recv('x.data'), (err: TentacleClientError) => {
    assert.equal(err.code, ErrorCode.TentacleRejected);
    assert.equal(err.serverLine, 'RECV ERR (file does not exist)');
    assert.equal(err.message, 'Server responded RECV ERR (file does not exist).');
    return true;
  });
  await session.quit();
  assert.equal((await peer.closed).toString(), 'RECV <x.data>\nQUIT\n');
});

test('PASS: md5(md5(password)) first, then commands; a drop is "unexpectedly closed"', async (t) => {
  assert.equal(passDigest('secret'), '9e769017c85f064977fe6a658f207fa6');
  assert.equal(
    passDigest(Buffer.from('p\xc3\xa4ss w0rd', 'latin1')),
    'ac6cc470ad58ece01b6a604f929d84fe',
  );
  const good = await rawPeer(async (io) => {
    assert.equal(await io.line(), 'PASS 9e769017c85f064977fe6a658f207fa6');
    io.reply('PASS OK\n');
    assert.equal(await io.line(), 'QUIT');
    io.socket.end();
  }, t);
  const session = await connect({ host: '127.0.0.1', port: good.port, password: 'secret' });
  await session.quit();
  assert.equal((await good.closed).toString(), 'PASS 9e769017c85f064977fe6a658f207fa6\nQUIT\n');

  const dropping = await rawPeer(async (io) => {
    await io.line();
    io.socket.destroy(); // wrong password: the reference drops without a reply
  }, t);
  await assert.rejects(
    connect({ host: '127.0.0.1', port: dropping.port, password: 'wrong' }),
    (err: TentacleClientError) => {
      assert.equal(err.code, ErrorCode.TentacleClosed);
      assert.equal(err.message, 'Connection from 127.0.0.1 unexpectedly closed.');
      return true;
    },
  );
});

test('a refusal carries the server line and code; the session stays usable', async (t) => {
  const peer = await rawPeer(async (io) => {
    await io.line();
    io.reply('SEND ERR (file already exists)\n');
    await io.line();
    io.reply('ZSEND OK\n');
    const zip = await io.bytes(zipSingleFile('z.data', Buffer.from('zz')).length);
    assert.equal(zip.subarray(0, 4).toString('latin1'), 'PK\x03\x04');
    io.reply('ZSEND OK\n');
    await io.line();
    io.socket.end();
  }, t);
  const session = await connect({ host: '127.0.0.1', port: peer.port });
  await assert.rejects(session.send('a.data', Buffer.from('x')), (err: TentacleClientError) => {
    assert.equal(err.code, ErrorCode.TentacleRejected);
    assert.equal(err.serverLine, 'SEND ERR (file already exists)');
    assert.equal(err.message, 'Server responded SEND ERR (file already exists).');
    assert.equal(err.afterBody, false);
    return true;
  });
  await session.zsend('z.data', Buffer.from('zz'));
  await session.quit();
});

test('an unexpected reply is a protocol error, not a success', async (t) => {
  const peer = await rawPeer(async (io) => {
    await io.line();
    io.reply('SEND OKAY\n');
    await io.line();
  }, t);
  const session = await connect({ host: '127.0.0.1', port: peer.port });
  await assert.rejects(session.send('b.data', Buffer.from('y')), (err: TentacleClientError) => {
    assert.equal(err.code, ErrorCode.TentacleProtocol);
    assert.equal(err.serverLine, 'SEND OKAY');
    return true;
  });
  await session.quit();
  assert.equal(
    (await peer.closed).toString(),
    'SEND <b.data> SIZE 1\nQUIT\n',
    'no body after a bad reply',
  );
});

test('a silent server times out after timeoutMs; the error says so', async (t) => {
  const peer = await rawPeer(async (io) => {
    await io.line(); // never answers
    await io.line();
  }, t);
  const session = await connect({ host: '127.0.0.1', port: peer.port, timeoutMs: 300 });
  const started = Date.now();
  await assert.rejects(session.send('a.data', Buffer.from('x')), (err: TentacleClientError) => {
    assert.equal(err.code, ErrorCode.TentacleTimeout);
    assert.equal(err.message, 'Connection from 127.0.0.1 timed out.');
    return true;
  });
  assert.ok(Date.now() - started >= 250);
  session.destroy();
});

test('abort destroys the socket: the transfer in flight can never complete', async (t) => {
  let bodyBytes = -1;
  const peer = await rawPeer(async (io) => {
    await io.line();
    io.reply('SEND OK\n');
    bodyBytes = (await io.bytes(3)).length;
    // Withhold the final OK; the client is aborted meanwhile.
    await io.line().catch(() => undefined);
  }, t);
  const abort = new AbortController();
  const session = await connect({ host: '127.0.0.1', port: peer.port, signal: abort.signal });
  const sending = session.send('a.data', Buffer.from('abc'));
  setTimeout(() => {
    abort.abort();
  }, 100);
  await assert.rejects(sending, (err: TentacleClientError) => {
    assert.equal(err.code, ErrorCode.TentacleAborted);
    assert.equal(err.afterBody, true);
    return true;
  });
  const wire = await peer.closed; // the server sees the connection end
  assert.equal(bodyBytes, 3);
  assert.ok(!wire.toString().includes('QUIT'));
  await assert.rejects(session.send('b.data', Buffer.from('x')));
});

test('connect refused and aborted connects fail with ERR_TENTACLE_CONNECT / ABORTED', async (t) => {
  const peer = await rawPeer(() => Promise.resolve(), t);
  await new Promise<void>((resolve) => {
    peer.server.close(() => {
      resolve();
    });
  });
  await assert.rejects(
    connect({ host: '127.0.0.1', port: peer.port }),
    (err: TentacleClientError) => {
      assert.equal(err.code, ErrorCode.TentacleConnect);
      assert.equal(
        err.message,
        `Cannot connect to 127.0.0.1 on port ${peer.port}: Connection refused.`,
      );
      return true;
    },
  );
  const abort = new AbortController();
  abort.abort();
  await assert.rejects(
    connect({ host: '127.0.0.1', port: peer.port, signal: abort.signal }),
    (err: { name?: string; code?: string }) =>
      err.name === 'AbortError' || err.code === ErrorCode.TentacleAborted,
  );
});

test('recv and zrecv: SIZE, OK, exact bytes; oversize offers are declined', async (t) => {
  const zip = zipSingleFile('z.data', Buffer.from('unzipped!'));
  const peer = await rawPeer(async (io) => {
    assert.equal(await io.line(), 'RECV <r.data>');
    io.reply('RECV SIZE 5\n');
    assert.equal(await io.line(), 'RECV OK');
    io.reply('12345');
    assert.equal(await io.line(), 'ZRECV <z.data>');
    io.reply(`ZRECV SIZE ${zip.length}\n`);
    assert.equal(await io.line(), 'ZRECV OK');
    io.reply(zip);
    assert.equal(await io.line(), 'RECV <big.data>');
    io.reply('RECV SIZE 999999999\n');
    assert.equal(await io.line(), 'RECV ERR');
    assert.equal(await io.line(), 'QUIT');
    io.socket.end();
  }, t);
  const session = await connect({ host: '127.0.0.1', port: peer.port, maxRecvBytes: 1000 });
  assert.equal((await session.recv('r.data')).toString(), '12345');
  assert.equal((await session.zrecv('z.data')).toString(), 'unzipped!');
  await assert.rejects(session.recv('big.data'), /more than the limit/);
  await session.quit();
  await peer.closed;
});

test('HTTP CONNECT proxy: separate writes, Basic auth, then the Tentacle session', async (t) => {
  const peer = await rawPeer(async (io) => {
    assert.equal(await io.line(), 'CONNECT 127.0.0.1:41121 HTTP/1.0\r');
    assert.equal(await io.line(), 'Proxy-Authorization: Basic dXNlcjpwYTU1\r');
    assert.equal(await io.line(), '\r');
    io.reply('HTTP/1.0 200 Connection established\r\n\r\n');
    assert.equal(await io.line(), 'SEND <p.data> SIZE 1');
    io.reply('SEND OK\n');
    await io.bytes(1);
    io.reply('SEND OK\n');
    await io.line();
    io.socket.end();
  }, t);
  const session = await connect({
    host: '127.0.0.1',
    port: 41121,
    httpProxy: { host: '127.0.0.1', port: peer.port, user: 'user', pass: 'pa55' },
  });
  await session.send('p.data', Buffer.from('p'));
  await session.quit();
  await peer.closed;
});
