/**
 * ZSEND / ZRECV (spec §6, §15 cases 40–46, 53) with archives made and read by Perl's
 * IO::Compress::Zip / IO::Uncompress::Unzip (what the Perl client uses), plus the zip-bomb cap.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { unzipFirstMember } from '../../src/tentacle/index.js';
import { RawPeer, runSteps, startServer, tempFilesIn } from './fixtures/harness.js';
import { perlUnzip, perlZip } from './fixtures/perl-zip.js';

async function zsend(peer: RawPeer, name: string, body: Buffer): Promise<string> {
  peer.write(`ZSEND <${name}> SIZE ${body.length}\n`);
  await peer.expect('ZSEND OK\n');
  peer.write(body);
  return peer.readLine();
}

/** A stored-or-deflate single-member archive with sizes in the local header only (no central directory). */
function localOnlyZip(data: Buffer): Buffer {
  const compressed = deflateRawSync(data);
  const header = Buffer.alloc(30);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(20, 4);
  header.writeUInt16LE(8, 8);
  header.writeUInt32LE(compressed.length, 18);
  header.writeUInt32LE(data.length, 22);
  header.writeUInt16LE(1, 26);
  return Buffer.concat([header, Buffer.from('x'), compressed]);
}

describe('ZSEND and ZRECV', () => {
  test('case 40: a Perl-client archive (deflate, data descriptor) is stored identical', async (t) => {
    const h = await startServer(t);
    const source = Buffer.from(`<agent_data>${'x'.repeat(57)}</agent_data>`.slice(0, 70));
    const zip = perlZip([{ name: 'z1.data', data: source }]);
    assert.equal(zip.readUInt16LE(6) & 8, 8, 'the Perl archive uses a data descriptor');
    const peer = await h.connect();
    assert.equal(await zsend(peer, 'z1.data', zip), 'ZSEND OK');
    assert.deepEqual(readFileSync(join(h.dir, 'z1.data')), source);
  });

  test('case 43: two members: only the first is stored', async (t) => {
    const h = await startServer(t);
    const zip = perlZip([
      { name: 'first', data: Buffer.from('FIRST\n') },
      { name: 'second', data: Buffer.from('SECOND\n') },
    ]);
    const peer = await h.connect();
    assert.equal(await zsend(peer, 'two.data', zip), 'ZSEND OK');
    assert.equal(readFileSync(join(h.dir, 'two.data'), 'utf8'), 'FIRST\n');
  });

  test('case 44: a stored (method 0) archive', async (t) => {
    const h = await startServer(t);
    const zip = perlZip([{ name: 'st', data: Buffer.from('stored content') }], 'store');
    assert.equal(zip.readUInt16LE(8), 0);
    const peer = await h.connect();
    assert.equal(await zsend(peer, 'st.data', zip), 'ZSEND OK');
    assert.equal(readFileSync(join(h.dir, 'st.data'), 'utf8'), 'stored content');
  });

  test('an archive without a central directory is inflated from the local header', async (t) => {
    const h = await startServer(t);
    const peer = await h.connect();
    assert.equal(
      await zsend(peer, 'local.data', localOnlyZip(Buffer.from('local only'))),
      'ZSEND OK',
    );
    assert.equal(readFileSync(join(h.dir, 'local.data'), 'utf8'), 'local only');
  });

  test('case 46: ZSEND of an empty file stores a 0-byte file', async (t) => {
    const h = await startServer(t);
    const peer = await h.connect();
    assert.equal(
      await zsend(peer, 'empty.data', perlZip([{ name: 'empty.data', data: Buffer.alloc(0) }])),
      'ZSEND OK',
    );
    assert.equal(readFileSync(join(h.dir, 'empty.data')).length, 0);
  });

  test('ZSEND SIZE counts compressed bytes: a large file fits when its archive does', async (t) => {
    const h = await startServer(t, { maxSize: 10_000 });
    const source = Buffer.alloc(1_000_000, 0x41);
    const zip = perlZip([{ name: 'big.data', data: source }]);
    assert.ok(zip.length < 10_000);
    const peer = await h.connect();
    assert.equal(await zsend(peer, 'big.data', zip), 'ZSEND OK');
    assert.deepEqual(readFileSync(join(h.dir, 'big.data')), source);
  });

  test('zip bomb: over max_decompressed_size is refused with ZSEND ERR; nothing stored; session goes on', async (t) => {
    const h = await startServer(t, { maxDecompressedSize: 1_000_000 });
    const bomb = perlZip([{ name: 'bomb', data: Buffer.alloc(5_000_000) }]);
    assert.ok(bomb.length < 10_000);
    const peer = await h.connect();
    assert.equal(await zsend(peer, 'bomb.data', bomb), 'ZSEND ERR');
    assert.equal(await zsend(peer, 'ok.data', Buffer.from('plain')), 'ZSEND OK');
    assert.deepEqual(h.files(), ['ok.data']);
    const metrics = await h.registry.getSingleMetricAsString('pandora_tentacle_rejections_total');
    assert.match(metrics, /reason="ERR_ZIP_TOO_LARGE"} 1/);
  });

  test('zip bomb against the default cap (64 MiB): a 100 MB member is refused', async (t) => {
    const h = await startServer(t);
    const bomb = perlZip([{ name: 'bomb', data: Buffer.alloc(100_000_000) }]);
    assert.ok(bomb.length < 2_000_000);
    const peer = await h.connect();
    assert.equal(await zsend(peer, 'bomb.data', bomb), 'ZSEND ERR');
    assert.deepEqual(h.files(), []);
    assert.deepEqual(tempFilesIn(h.dir), []);
  });

  test('case 53: ZRECV of a stored file round-trips through Perl unzip; member = base name', async (t) => {
    const source = Buffer.from('x'.repeat(70));
    // The reference serves any file of the storage folder (recv_any_file).
    const h = await startServer(t, { recvAnyFile: true }, (dir) => {
      writeFileSync(join(dir, 'z1.data'), source);
    });
    const peer = await h.connect();
    peer.write('ZRECV <z1.data>\n');
    const sizeLine = await peer.readLine();
    const m = /^ZRECV SIZE (\d+)$/.exec(sizeLine);
    assert.ok(m, sizeLine);
    peer.write('ZRECV OK\n');
    const zip = await peer.read(Number(m[1]));
    const unpacked = perlUnzip(zip);
    assert.deepEqual(unpacked.data, source);
    assert.equal(unpacked.name, 'z1.data', 'no server path leaks into the archive');
    assert.ok(!zip.includes(Buffer.from(h.dir)), 'no server path anywhere in the archive');
    assert.deepEqual(unzipFirstMember(zip, 1000), source);
    await runSteps(peer, [{ send: 'QUIT\n' }, { close: true }]);
  });

  test('ZSEND then ZRECV of the same file, through a filter folder', async (t) => {
    const h = await startServer(t, { filters: '.*\\.conf:conf' }, (dir) => {
      mkdirSync(join(dir, 'conf'));
    });
    const source = Buffer.from('[agent]\nname=a\n'.repeat(100));
    const peer = await h.connect();
    assert.equal(
      await zsend(peer, 'x.conf', perlZip([{ name: 'x.conf', data: source }])),
      'ZSEND OK',
    );
    peer.write('ZRECV <x.conf>\n');
    const size = Number(/^ZRECV SIZE (\d+)$/.exec(await peer.readLine())?.[1]);
    peer.write('ZRECV OK\n');
    assert.deepEqual(perlUnzip(await peer.read(size)).data, source);
    assert.deepEqual(readFileSync(join(h.dir, 'conf', 'x.conf')), source);
  });

  test('ZRECV answered with anything but ZRECV OK sends nothing', async (t) => {
    const h = await startServer(t, { filters: '.*\\.conf:conf' }, (dir) => {
      mkdirSync(join(dir, 'conf'));
      writeFileSync(join(dir, 'conf', 'a.conf'), 'abc');
    });
    const peer = await h.connect();
    peer.write('ZRECV <a.conf>\n');
    assert.match(await peer.readLine(), /^ZRECV SIZE \d+$/);
    await runSteps(peer, [
      { send: 'ZRECV ERR\n' },
      { silence: 200 },
      { send: 'QUIT\n' },
      { close: true },
    ]);
  });
});
