/**
 * Time and resource limits (spec §1.4, §10, §12; §15 cases 22–24, 57): the idle limit
 * timeout×(retries+1) (here -t 1 -r 1 = 2 s), the per-command deadline against slow drips,
 * the connection limit and its waiting list, 1,000 idle connections, memory per connection,
 * and graceful close / drain.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTentacleServer } from '../../src/tentacle/index.js';
import { MEMORY_BUFFER_BYTES } from '../../src/tentacle/spool-transfer.js';
import { drip, RawPeer, runSteps, startServer, tempFilesIn } from './fixtures/harness.js';

const IDLE = { timeoutSec: 1, retries: 1 } as const; // idle limit 2 s
const IDLE_MS = 2000;

describe('idle limit timeout x (retries+1)', () => {
  test('case 23: a connection that sends nothing is closed at the idle limit, logged', async (t) => {
    const h = await startServer(t, IDLE);
    const peer = await h.connect();
    const waited = await peer.expectClose(IDLE_MS + 3000);
    assert.ok(waited >= IDLE_MS - 100, `closed after ${waited.toFixed(0)} ms`);
    const rec = h.logs.find((r) => r['reason'] === 'ERR_TENTACLE_TIMEOUT');
    assert.equal(rec?.['peer'], '127.0.0.1');
  });

  test('case 24: half a command, then silence: closed at the idle limit', async (t) => {
    const h = await startServer(t, IDLE);
    const peer = await h.connect();
    peer.write('SEND <x');
    const waited = await peer.expectClose(IDLE_MS + 3000);
    assert.ok(waited >= IDLE_MS - 100);
  });

  test('case 22: stalled mid-body: SEND OK, then closed at the idle limit; nothing stored', async (t) => {
    const h = await startServer(t, IDLE);
    const peer = await h.connect();
    await runSteps(peer, [{ send: 'SEND <stall.data> SIZE 100000\n' }, { expect: 'SEND OK\n' }]);
    peer.write(Buffer.alloc(70_000)); // part of it reaches the temp file
    const waited = await peer.expectClose(IDLE_MS + 3000);
    assert.ok(waited >= IDLE_MS - 100);
    await h.server.drain();
    assert.deepEqual(h.files(), []);
  });

  test('the idle clock restarts on every read: a slow but steady sender completes', async (t) => {
    const h = await startServer(t, IDLE);
    const peer = await h.connect();
    peer.write('SEND <slow.data> SIZE 5\n');
    await peer.expect('SEND OK\n');
    for (const byte of 'slow!') {
      await sleep(IDLE_MS * 0.6); // 6 s in total, each gap under the 2 s limit
      peer.write(byte);
    }
    await peer.expect('SEND OK\n');
    assert.deepEqual(h.files(), ['slow.data']);
  });

  test('between commands the clock starts at the last reply', async (t) => {
    const h = await startServer(t, IDLE);
    const peer = await h.connect();
    await runSteps(peer, [
      { send: 'SEND <a.data> SIZE 1\n' },
      { expect: 'SEND OK\n' },
      { send: 'a' },
      { expect: 'SEND OK\n' },
    ]);
    await sleep(IDLE_MS - 600);
    await runSteps(peer, [
      { send: 'SEND <b.data> SIZE 1\n' },
      { expect: 'SEND OK\n' },
      { send: 'b' },
      { expect: 'SEND OK\n' },
    ]);
    assert.deepEqual(h.files(), ['a.data', 'b.data']);
  });
});

describe('peers that stop reading', () => {
  const big = (dir: string): void => {
    writeFileSync(join(dir, 'big.data'), Buffer.alloc(20_000_000, 0x62));
  };

  test('a RECV reader that never reads is dropped at the idle limit', async (t) => {
    const h = await startServer(t, { ...IDLE, recvAnyFile: true }, big);
    const peer = await h.connect();
    peer.socket.pause(); // reads nothing: the server's writes back up
    peer.write('RECV <big.data>\nRECV OK\n');
    const started = performance.now();
    const deadline = started + IDLE_MS + 3000;
    while (h.server.activeConnections() > 0 && performance.now() < deadline) await sleep(50);
    assert.equal(h.server.activeConnections(), 0);
    assert.ok(performance.now() - started >= IDLE_MS - 200);
    assert.ok(h.logs.some((r) => r['reason'] === 'ERR_TENTACLE_TIMEOUT'));
  });

  test('a RECV reader that disconnects mid-file frees its slot at once', async (t) => {
    const h = await startServer(t, { recvAnyFile: true }, big);
    const peer = await h.connect();
    peer.write('RECV <big.data>\n');
    await peer.expect('RECV SIZE 20000000\n');
    peer.write('RECV OK\n');
    await peer.read(100_000);
    peer.destroy();
    await h.server.drain(); // resolves only once the session has fully ended
    assert.equal(h.server.activeConnections(), 0);
  });
});

describe('per-command deadline (slowloris)', () => {
  test('a drip-fed command line is cut at transfer_timeout although every gap is short', async (t) => {
    const h = await startServer(t, { ...IDLE, transferTimeoutSec: 2 });
    const peer = await h.connect();
    const started = performance.now();
    await drip(peer, 'SEND <drip.data> SIZE 1', 300);
    await peer.expectClose(3000);
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 1900 && elapsed < 4500, `closed after ${elapsed.toFixed(0)} ms`);
    assert.ok(h.logs.some((r) => r['reason'] === 'ERR_TENTACLE_TRANSFER_DEADLINE'));
  });

  test('a drip-fed body is cut at transfer_timeout; no file, no temp file', async (t) => {
    const h = await startServer(t, { ...IDLE, transferTimeoutSec: 2 });
    const peer = await h.connect();
    peer.write('SEND <drip.data> SIZE 100\n');
    await peer.expect('SEND OK\n');
    for (let i = 0; i < 20 && !peer.ended; i++) {
      peer.write('x');
      await sleep(300);
    }
    assert.ok(peer.ended, 'closed before the 100 bytes could arrive');
    await h.server.drain();
    assert.deepEqual(h.files(), []);
  });
});

describe('connection limit (-c) and waiting connections', () => {
  test('case 57: -c 2 with two idle clients: a third waits unserved, then is answered', async (t) => {
    const h = await startServer(t, { ...IDLE, maxConnections: 2 });
    const idle = [await h.connect(), await h.connect()];
    const third = await h.connect();
    const started = performance.now();
    third.write('SEND <ov.data> SIZE 2\n');
    await third.expectSilence(500); // no reply and no close while both slots are taken
    assert.equal(h.server.waitingConnections(), 1);
    await third.expect('SEND OK\n', IDLE_MS + 3000);
    const waited = performance.now() - started;
    assert.ok(waited >= IDLE_MS - 300, `answered after ${waited.toFixed(0)} ms`);
    for (const p of idle) await p.expectClose(1000);
    third.write('ok');
    await third.expect('SEND OK\n');
  });

  test('beyond the waiting list a new connection is closed at once and logged', async (t) => {
    const h = await startServer(t, { ...IDLE, maxConnections: 1, maxWaitingConnections: 1 });
    await h.connect(); // served
    await h.connect(); // waiting
    const extra = await h.connect();
    await extra.expectClose(1000);
    const rec = h.logs.find((r) => r['reason'] === 'ERR_TENTACLE_CONNECTION_LIMIT');
    assert.equal(rec?.['peer'], '127.0.0.1');
  });

  test('a connection that waited over twice the idle limit is closed when its turn comes', async (t) => {
    const h = await startServer(t, { ...IDLE, maxConnections: 1 });
    const holder = await h.connect();
    holder.write('SEND <slow.data> SIZE 6\n');
    await holder.expect('SEND OK\n');
    const waiter = await h.connect();
    waiter.write('SEND <late.data> SIZE 1\n');
    for (const byte of 'steady') {
      await sleep(IDLE_MS * 0.6); // keeps the only slot busy for 7 s, never idle for 2 s
      holder.write(byte);
    }
    await holder.expect('SEND OK\n');
    holder.destroy(); // frees the slot; the waiter has waited about 7 s > 4 s
    await waiter.expectClose(1000);
    const rec = h.logs.find((r) => r['msg'] === 'waited too long for a free slot');
    assert.equal(rec?.['peer'], '127.0.0.1');
    assert.deepEqual(h.files(), ['slow.data']);
  });

  test('1,000 idle connections from one address fit the default -c; a new client is served at once', async (t) => {
    // No per-address cap (a balancer without PROXY) and a first-byte deadline long enough
    // for all of them to be held at once.
    const h = await startServer(t, { maxConnectionsPerAddress: 0, firstByteTimeoutSec: 60 });
    const sockets: net.Socket[] = [];
    t.after(() => {
      for (const s of sockets) s.destroy();
    });
    for (let i = 0; i < 1000; i += 100) {
      const batch = Array.from({ length: 100 }, () =>
        net.connect({ host: '127.0.0.1', port: h.port }),
      );
      for (const s of batch) s.on('error', () => undefined);
      await Promise.all(batch.map((s) => once(s, 'connect')));
      sockets.push(...batch);
    }
    const deadline = Date.now() + 5000;
    while (h.server.activeConnections() < 1000 && Date.now() < deadline) await sleep(20);
    assert.equal(h.server.activeConnections(), 1000);
    const started = performance.now();
    const peer = await h.connect();
    await runSteps(peer, [
      { send: 'SEND <new.data> SIZE 3\n' },
      { expect: 'SEND OK\n' },
      { send: 'new' },
      { expect: 'SEND OK\n' },
    ]);
    const ms = performance.now() - started;
    assert.ok(ms < 1000, `served in ${ms.toFixed(0)} ms`);
    assert.deepEqual(h.files(), ['new.data']);
  });

  test('with the reference -c 10, 1,000 idle connections time out and a retrying client gets through', async (t) => {
    const h = await startServer(t, { ...IDLE, maxConnections: 10, maxConnectionsPerAddress: 0 });
    const sockets: net.Socket[] = [];
    t.after(() => {
      for (const s of sockets) s.destroy();
    });
    for (let i = 0; i < 1000; i++) {
      const s = net.connect({ host: '127.0.0.1', port: h.port });
      s.on('error', () => undefined);
      sockets.push(s);
    }
    await Promise.all(sockets.map((s) => once(s, 'connect')));
    // 10 served and 990 waiting: the served ones time out after 2 s, the next 10 after 4 s,
    // and the rest, having waited twice the idle limit, are closed then.
    const started = performance.now();
    let stored = false;
    while (!stored && performance.now() - started < 4 * IDLE_MS + 2000) {
      const peer = await RawPeer.connect(h.port);
      peer.write('SEND <late.data> SIZE 2\n');
      try {
        await peer.expect('SEND OK\n', IDLE_MS + 500);
        peer.write('ok');
        await peer.expect('SEND OK\n');
        stored = true;
      } catch {
        await sleep(200); // closed at once or still waiting: retry, as an agent does
      } finally {
        peer.destroy();
      }
    }
    assert.ok(stored, 'the client was eventually served');
  });
});

describe('memory per connection', () => {
  test('a 2 MB body streams through at most ~one buffer plus one socket chunk', async (t) => {
    const h = await startServer(t);
    const peer = await h.connect();
    peer.write('SEND <two.data> SIZE 2000000\n');
    await peer.expect('SEND OK\n');
    let max = 0;
    const sampler = setInterval(() => {
      max = Math.max(max, h.server.bufferedBytes());
    }, 0);
    for (let i = 0; i < 20; i++) peer.write(Buffer.alloc(100_000, 0x32));
    await peer.expect('SEND OK\n');
    clearInterval(sampler);
    assert.ok(max <= MEMORY_BUFFER_BYTES + 2 * 65536 + 1024, `held ${max} bytes`);
    assert.deepEqual(h.files(), ['two.data']);
  });
});

describe('listeners', () => {
  test('default addresses (0,0.0.0.0): one dual-stack listener serves IPv4 and IPv6', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tentacle-listen-'));
    const server = createTentacleServer({ directory: dir, port: 0 });
    t.after(async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const addresses = await server.listen();
    assert.equal(addresses.length, 1, 'no second listener, no EADDRINUSE');
    const [address] = addresses;
    assert.ok(address);
    const hosts = address.address === '::' ? ['127.0.0.1', '::1'] : ['127.0.0.1'];
    for (const host of hosts) {
      const socket = net.connect({ host, port: address.port });
      await once(socket, 'connect');
      socket.destroy();
    }
  });

  test('an address that cannot be bound is skipped; none at all is an error', async (t) => {
    const h = await startServer(t, { addresses: '127.0.0.1,192.0.2.1' });
    assert.deepEqual(
      h.server.addresses().map((a) => a.address),
      ['127.0.0.1'],
    );
    assert.ok(h.logs.some((r) => r['event'] === 'bind_failed'));
    const dir = mkdtempSync(join(tmpdir(), 'tentacle-listen-'));
    t.after(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const none = createTentacleServer({ directory: dir, addresses: '192.0.2.1', port: 0 });
    await assert.rejects(none.listen(), /no listener could be bound/);
  });
});

describe('close and drain', () => {
  test('close(): idle sessions end now, an in-flight transfer finishes, new connections are refused', async (t) => {
    const h = await startServer(t, { closeTimeoutSec: 5 });
    const idle = await h.connect();
    const busy = await h.connect();
    busy.write('SEND <inflight.data> SIZE 8\n');
    await busy.expect('SEND OK\n');
    busy.write('in');
    const closing = h.server.close();
    await idle.expectClose(1000);
    await assert.rejects(RawPeer.connect(h.port), { code: 'ECONNREFUSED' });
    busy.write('flight');
    await busy.expect('SEND OK\n');
    await busy.expectClose(1000);
    await closing;
    assert.deepEqual(h.files(), ['inflight.data']);
  });

  test('close(): a transfer that misses the deadline is dropped and its temp file removed', async (t) => {
    const h = await startServer(t, { closeTimeoutSec: 1 });
    const busy = await h.connect();
    busy.write('SEND <never.data> SIZE 500000\n');
    await busy.expect('SEND OK\n');
    busy.write(Buffer.alloc(200_000));
    await sleep(100);
    const started = performance.now();
    await h.server.close();
    assert.ok(performance.now() - started >= 900);
    await busy.expectClose(1000);
    assert.deepEqual(h.files(), []);
    assert.deepEqual(tempFilesIn(h.dir), []);
  });

  test('drain(): stops accepting, lets the session finish, and listen() accepts again', async (t) => {
    const h = await startServer(t);
    const peer = await h.connect();
    peer.write('SEND <d1.data> SIZE 2\n');
    await peer.expect('SEND OK\n');
    const draining = h.server.drain();
    await assert.rejects(RawPeer.connect(h.port), { code: 'ECONNREFUSED' });
    peer.write('d1');
    await peer.expect('SEND OK\n');
    await peer.expectClose(1000);
    await draining;
    assert.equal(h.server.activeConnections(), 0);
    const [address] = await h.server.listen();
    assert.ok(address);
    const again = await RawPeer.connect(address.port);
    await runSteps(again, [
      { send: 'SEND <d2.data> SIZE 2\n' },
      { expect: 'SEND OK\n' },
      { send: 'd2' },
      { expect: 'SEND OK\n' },
    ]);
    again.destroy();
    assert.deepEqual(h.files(), ['d1.data', 'd2.data']);
  });
});
