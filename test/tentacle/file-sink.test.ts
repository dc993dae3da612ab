/**
 * The listener's file sink (src/tentacle/file-sink.ts): a wanted upload goes to the sink before
 * the final reply and never appears in the folder; a failing sink means `SEND ERR` with nothing
 * left behind; unwanted files are stored as before. Real TCP, real protocol bytes.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { FileSink } from '../../src/tentacle/index.js';
import { RawPeer, startServer } from './fixtures/harness.js';
import { perlZip } from './fixtures/perl-zip.js';

interface Delivered {
  readonly name: string;
  readonly data: Buffer;
}

function recordingSink(options: { fail?: boolean; delayMs?: number } = {}): {
  sink: FileSink;
  delivered: Delivered[];
} {
  const delivered: Delivered[] = [];
  return {
    delivered,
    sink: {
      wants: (_dir, name) => name.toString('latin1').endsWith('.data'),
      async deliver(name, size, read) {
        if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
        if (options.fail) throw new Error('queue unavailable');
        const data = await read();
        assert.equal(data.length, size, 'the announced size is the size read');
        delivered.push({ name: name.toString('utf8'), data: Buffer.from(data) });
      },
    },
  };
}

async function send(peer: RawPeer, verb: 'SEND' | 'ZSEND', name: string, body: Buffer) {
  peer.write(`${verb} <${name}> SIZE ${body.length}\n`);
  await peer.expect(`${verb} OK\n`);
  peer.write(body);
  return peer.readLine();
}

describe('file sink', () => {
  test('a small SEND is delivered whole, answered after delivery, and never stored', async (t) => {
    const { sink, delivered } = recordingSink({ delayMs: 50 });
    const h = await startServer(t, {}, undefined, { sink });
    const peer = await h.connect();
    const body = Buffer.from('<agent_data agent_name="a1"></agent_data>\n');
    assert.equal(await send(peer, 'SEND', 'a1.1700000000.data', body), 'SEND OK');
    assert.deepEqual(delivered, [{ name: 'a1.1700000000.data', data: body }]);
    assert.deepEqual(readdirSync(h.dir), []);
  });

  test('a body larger than the memory buffer spills to a temp file, is read back and removed', async (t) => {
    const { sink, delivered } = recordingSink();
    const h = await startServer(t, {}, undefined, { sink });
    const peer = await h.connect();
    const body = Buffer.alloc(700_000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) % 251;
    assert.equal(await send(peer, 'SEND', 'big.1.data', body), 'SEND OK');
    assert.equal(delivered.length, 1);
    assert.ok(delivered[0]?.data.equals(body), 'the delivered bytes are the sent bytes');
    assert.deepEqual(readdirSync(h.dir), []);
  });

  test('ZSEND delivers the unpacked bytes', async (t) => {
    const { sink, delivered } = recordingSink();
    const h = await startServer(t, {}, undefined, { sink });
    const peer = await h.connect();
    const source = Buffer.from('<agent_data>zipped</agent_data>');
    const zip = perlZip([{ name: 'z.1.data', data: source }]);
    assert.equal(await send(peer, 'ZSEND', 'z.1.data', zip), 'ZSEND OK');
    assert.deepEqual(delivered, [{ name: 'z.1.data', data: source }]);
    assert.deepEqual(readdirSync(h.dir), []);
  });

  test('a failing sink answers SEND ERR, leaves nothing, and the session goes on', async (t) => {
    const { sink } = recordingSink({ fail: true });
    const h = await startServer(t, {}, undefined, { sink });
    const peer = await h.connect();
    assert.equal(await send(peer, 'SEND', 'x.1.data', Buffer.from('small')), 'SEND ERR');
    assert.equal(await send(peer, 'SEND', 'y.1.data', Buffer.alloc(300_000, 7)), 'SEND ERR');
    assert.deepEqual(readdirSync(h.dir), [], 'no file and no temp file');
    assert.equal(await send(peer, 'SEND', 'agent.conf', Buffer.from('conf')), 'SEND OK');
  });

  test('files the sink does not want are stored in the folder as before', async (t) => {
    const { sink, delivered } = recordingSink();
    const h = await startServer(t, {}, undefined, { sink });
    const peer = await h.connect();
    assert.equal(await send(peer, 'SEND', 'agent.conf', Buffer.from('conf body')), 'SEND OK');
    assert.equal(delivered.length, 0);
    assert.ok(existsSync(join(h.dir, 'agent.conf')));
    assert.equal(readFileSync(join(h.dir, 'agent.conf'), 'utf8'), 'conf body');
  });
});
