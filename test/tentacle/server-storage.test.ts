/**
 * How files reach the disk (spec §5 [R]): temp file + atomic rename/link, durability under
 * `sync always` with group-committed folder fsyncs, explicit file mode, no partial file on a
 * full disk (a real 64 KiB tmpfs), no clobbering between concurrent uploads, stale temp files.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { FileStoredEvent } from '../../src/tentacle/index.js';
import { DirSyncer } from '../../src/core/dir-syncer.js';
import {
  INLINE_SLOW_AVG_MS,
  INLINE_STALL_MS,
  SpoolWriter,
} from '../../src/tentacle/spool-writer.js';
import { RawPeer, startServer, tempFilesIn } from './fixtures/harness.js';
import { perlZip } from './fixtures/perl-zip.js';
import { TMPFS_SKIP, tinyTmpfs } from '../helpers/tmp.js';

async function upload(peer: RawPeer, name: string, body: Buffer): Promise<string> {
  peer.write(`SEND <${name}> SIZE ${body.length}\n`);
  const first = await peer.readLine();
  if (first !== 'SEND OK') return first;
  peer.write(body);
  return peer.readLine();
}

describe('spool writer', () => {
  test('sync always: file stored, then the final OK', async (t) => {
    const h = await startServer(t, { sync: 'always' });
    const peer = await h.connect();
    assert.equal(await upload(peer, 'durable.data', Buffer.from('<xml/>')), 'SEND OK');
    assert.equal(readFileSync(join(h.dir, 'durable.data'), 'utf8'), '<xml/>');
  });

  test('folder fsyncs are group-committed: 64 concurrent requests share a few flushes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tentacle-dirsync-'));
    try {
      const syncer = new DirSyncer();
      await Promise.all(Array.from({ length: 64 }, () => syncer.sync(Buffer.from(dir))));
      assert.ok(syncer.flushes <= 2, `${syncer.flushes} flushes for 64 requests`);
      // A request made while a flush runs waits for the next flush, which covers it.
      const first = syncer.sync(Buffer.from(dir));
      const second = syncer.sync(Buffer.from(dir));
      await Promise.all([first, second]);
      assert.ok(syncer.flushes <= 4);
      await assert.rejects(syncer.sync(Buffer.from(join(dir, 'missing'))), { code: 'ENOENT' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('32 concurrent uploads under sync always all land (fewer folder fsyncs than files)', async (t) => {
    const h = await startServer(t, { sync: 'always', maxConnections: 64 });
    const peers = await Promise.all(Array.from({ length: 32 }, () => h.connect()));
    const replies = await Promise.all(
      peers.map((p, i) => upload(p, `c${i}.1700000000.data`, Buffer.alloc(4096, i))),
    );
    assert.deepEqual(new Set(replies), new Set(['SEND OK']));
    assert.equal(h.files().length, 32);
    const text = await h.registry.getSingleMetricAsString('pandora_tentacle_folder_fsyncs_total');
    const flushes = Number(/ (\d+)$/m.exec(text)?.[1]);
    assert.ok(flushes >= 1 && flushes < 32, `${flushes} folder fsyncs for 32 files`);
  });

  test('stored files get the configured mode whatever the umask', async (t) => {
    const old = process.umask(0o077);
    try {
      const h = await startServer(t, {});
      const h2 = await startServer(t, { fileMode: 0o600, overwrite: true });
      const p = await h.connect();
      assert.equal(await upload(p, 'mode.data', Buffer.from('x')), 'SEND OK');
      assert.equal(statSync(join(h.dir, 'mode.data')).mode & 0o777, 0o640);
      const p2 = await h2.connect();
      assert.equal(await upload(p2, 'mode.data', Buffer.from('x')), 'SEND OK');
      assert.equal(statSync(join(h2.dir, 'mode.data')).mode & 0o777, 0o600);
    } finally {
      process.umask(old);
    }
  });

  test('a reader never sees a partial file: the final name appears only when complete', async (t) => {
    const h = await startServer(t);
    const peer = await h.connect();
    peer.write('SEND <partial.data> SIZE 300000\n');
    await peer.expect('SEND OK\n');
    peer.write(Buffer.alloc(200_000, 0x70));
    // Wait until part of the body is on disk, under the temp name only.
    const deadline = Date.now() + 3000;
    while (tempFilesIn(h.dir).length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(tempFilesIn(h.dir).length, 1);
    assert.match(tempFilesIn(h.dir)[0] ?? '', /^\.partial\.data\.[0-9a-f]{8}[0-9a-z]+\.tmp$/);
    assert.equal(existsSync(join(h.dir, 'partial.data')), false);
    peer.write(Buffer.alloc(100_000, 0x70));
    await peer.expect('SEND OK\n');
    assert.equal(statSync(join(h.dir, 'partial.data')).size, 300_000);
    assert.deepEqual(tempFilesIn(h.dir), []);
  });

  test('two concurrent uploads of one new name without -o: one wins whole, the other is refused', async (t) => {
    const h = await startServer(t);
    const [a, b] = await Promise.all([h.connect(), h.connect()]);
    // Both pass the exists check before either body arrives.
    a.write('SEND <race.data> SIZE 100000\n');
    b.write('SEND <race.data> SIZE 100000\n');
    await a.expect('SEND OK\n');
    await b.expect('SEND OK\n');
    a.write(Buffer.alloc(100_000, 0x61));
    b.write(Buffer.alloc(100_000, 0x62));
    const replies = [await a.readLine(), await b.readLine()].sort();
    assert.deepEqual(replies, ['SEND ERR (file already exists)', 'SEND OK']);
    const data = readFileSync(join(h.dir, 'race.data'));
    assert.equal(data.length, 100_000);
    assert.ok(
      data.every((x) => x === data[0]),
      'content is one upload, not a mix',
    );
    assert.deepEqual(tempFilesIn(h.dir), []);
  });

  test('with -o concurrent uploads replace the file atomically (one whole body wins)', async (t) => {
    const h = await startServer(t, { overwrite: true });
    const peers = await Promise.all(Array.from({ length: 8 }, () => h.connect()));
    const replies = await Promise.all(
      peers.map((p, i) => upload(p, 'same.data', Buffer.alloc(50_000, 0x61 + i))),
    );
    assert.deepEqual(new Set(replies), new Set(['SEND OK']));
    const data = readFileSync(join(h.dir, 'same.data'));
    assert.equal(data.length, 50_000);
    assert.ok(data.every((x) => x === data[0]));
  });

  test('-o replaces a symlink instead of writing through it', async (t) => {
    const outside = mkdtempSync(join(tmpdir(), 'tentacle-outside-'));
    t.after(() => {
      rmSync(outside, { recursive: true, force: true });
    });
    writeFileSync(join(outside, 'target'), 'precious');
    const h = await startServer(t, { overwrite: true }, (dir) => {
      execFileSync('ln', ['-s', join(outside, 'target'), join(dir, 'link.data')]);
    });
    const peer = await h.connect();
    assert.equal(await upload(peer, 'link.data', Buffer.from('new')), 'SEND OK');
    assert.equal(readFileSync(join(outside, 'target'), 'utf8'), 'precious');
    assert.equal(readFileSync(join(h.dir, 'link.data'), 'utf8'), 'new');
  });

  test('fileStored is emitted after the file is in place, with path, name, size and peer', async (t) => {
    const h = await startServer(t);
    const events: FileStoredEvent[] = [];
    h.server.on('fileStored', (e) => {
      assert.ok(existsSync(e.path), 'file exists when the event fires');
      events.push(e);
    });
    const peer = await h.connect();
    assert.equal(await upload(peer, 'ev.1.data', Buffer.from('12345')), 'SEND OK');
    peer.write('ZSEND <ev.2.data> SIZE 3\n');
    await peer.expect('ZSEND OK\n');
    peer.write('abc');
    await peer.expect('ZSEND OK\n');
    assert.equal(events.length, 2);
    assert.deepEqual(
      events.map((e) => [e.name, e.size, e.compressed, e.peer, e.path]),
      [
        ['ev.1.data', 5, false, '127.0.0.1', join(h.dir, 'ev.1.data')],
        ['ev.2.data', 3, true, '127.0.0.1', join(h.dir, 'ev.2.data')],
      ],
    );
  });

  test('with announceStoredBytes, a SEND stored from memory hands its bytes and the file mtime along', async (t) => {
    const h = await startServer(t, {}, undefined, { announceStoredBytes: true });
    const events: FileStoredEvent[] = [];
    h.server.on('fileStored', (e) => events.push(e));
    const peer = await h.connect();
    const body = Buffer.from('<agent_data/>');
    assert.equal(await upload(peer, 'st.1.data', body), 'SEND OK');
    const stored = events[0]?.stored;
    assert.ok(stored, 'the body came with the event');
    assert.deepEqual(stored.bytes, readFileSync(join(h.dir, 'st.1.data')));
    assert.deepEqual(stored.bytes, body);
    assert.equal(stored.mtimeMs, statSync(join(h.dir, 'st.1.data')).mtimeMs);
    // Without the option nothing is kept (and no fstat is paid).
    const plain = await startServer(t);
    const plainEvents: FileStoredEvent[] = [];
    plain.server.on('fileStored', (e) => plainEvents.push(e));
    assert.equal(await upload(await plain.connect(), 'st.2.data', body), 'SEND OK');
    assert.equal(plainEvents[0]?.stored, undefined);
  });

  test('temp files a crash left behind are removed at startup once stale; fresh ones stay', async (t) => {
    const h = await startServer(t, { filters: '.*\\.conf:conf' }, (dir) => {
      mkdirSync(join(dir, 'conf'));
      for (const p of [
        join(dir, '.old.data.0123abcd5.tmp'),
        join(dir, 'conf', '.x.conf.89abcdef0.tmp'),
      ]) {
        writeFileSync(p, 'partial');
        const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
        utimesSync(p, twoHoursAgo, twoHoursAgo);
      }
      writeFileSync(join(dir, '.fresh.data.0123abcd6.tmp'), 'in flight elsewhere');
      writeFileSync(join(dir, '.keep.tmp'), 'not ours');
    });
    assert.deepEqual(h.files(), ['.fresh.data.0123abcd6.tmp', '.keep.tmp', 'conf']);
    assert.deepEqual(h.files('conf'), []);
  });

  test('a slow inline store sends the writer back to the thread pool for a while', () => {
    const writer = new SpoolWriter({ sync: 'none', fileMode: 0o640, overwrite: false });
    assert.equal(writer.inlineIo, true);
    writer.inlineTook(1);
    assert.equal(writer.inlineIo, true);
    writer.inlineTook(INLINE_STALL_MS + 1);
    assert.equal(writer.inlineIo, false);
  });

  test('inline stores that are each a little slow also send the writer to the thread pool', () => {
    const writer = new SpoolWriter({ sync: 'always', fileMode: 0o640, overwrite: false });
    for (let i = 0; i < 100; i++) writer.inlineTook(INLINE_SLOW_AVG_MS / 2);
    assert.equal(writer.inlineIo, true, 'fast on average: stays inline');
    const inline = (): boolean => writer.inlineIo; // read afresh: each store may change it
    let stores = 0;
    while (inline() && stores < 1000) {
      writer.inlineTook(INLINE_SLOW_AVG_MS * 4);
      stores++;
    }
    assert.equal(writer.inlineIo, false);
    assert.ok(stores > 1 && stores <= 40, `went to the pool after ${String(stores)} slow stores`);
  });

  for (const sync of ['none', 'always'] as const) {
    test(`inline and thread-pool stores give the same result (sync ${sync})`, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'tentacle-paths-'));
      t.after(() => {
        rmSync(dir, { recursive: true, force: true });
      });
      const inline = new SpoolWriter({ sync, fileMode: 0o600, overwrite: false });
      const pooled = new SpoolWriter({ sync, fileMode: 0o600, overwrite: false });
      pooled.inlineTook(INLINE_STALL_MS + 1);
      const store = async (writer: SpoolWriter, name: string, body: Buffer): Promise<string> => {
        const transfer = writer.begin(Buffer.from(dir), Buffer.from(name));
        await transfer.append(body);
        try {
          await transfer.commit();
          return 'ok';
        } catch (err) {
          return (err as { kind: string }).kind;
        }
      };
      for (const [writer, name] of [
        [inline, 'inline.data'],
        [pooled, 'pooled.data'],
      ] as const) {
        assert.equal(await store(writer, name, Buffer.from(name)), 'ok');
        assert.equal(readFileSync(join(dir, name), 'utf8'), name);
        assert.equal(statSync(join(dir, name)).mode & 0o777, 0o600);
        assert.equal(await store(writer, name, Buffer.from('again')), 'exists');
        assert.equal(readFileSync(join(dir, name), 'utf8'), name);
        assert.equal(writer.activeTransfers, 0);
      }
      assert.deepEqual(tempFilesIn(dir), []);
    });
  }

  test('SpoolWriter.abortAll removes every temp file of unfinished transfers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tentacle-abort-'));
    try {
      const writer = new SpoolWriter({ sync: 'none', fileMode: 0o640, overwrite: false });
      const t1 = writer.begin(Buffer.from(dir), Buffer.from('a.data'));
      await t1.append(Buffer.alloc(100_000));
      assert.equal(tempFilesIn(dir).length, 1);
      assert.equal(writer.activeTransfers, 1);
      await writer.abortAll();
      assert.deepEqual(tempFilesIn(dir), []);
      assert.equal(writer.activeTransfers, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Mounts a tmpfs of `size` on a fresh folder; unmounted after the test. */
const MOUNT_SKIP = TMPFS_SKIP && `${TMPFS_SKIP} (see the EFBIG test below)`;

describe('disk full (64 KiB tmpfs)', { skip: MOUNT_SKIP }, () => {
  test('streamed body larger than the disk: SEND ERR after the body, no partial file, session goes on', async (t) => {
    const spool = tinyTmpfs(t, '64k');
    const h = await startServer(t, { directory: spool, sync: 'always' });
    const peer = await h.connect();
    assert.equal(await upload(peer, 'huge.data', Buffer.alloc(300_000, 0x68)), 'SEND ERR');
    assert.deepEqual(h.files(), []);
    // The session goes on, and a file that fits is stored.
    assert.equal(await upload(peer, 'small.data', Buffer.from('fits')), 'SEND OK');
    assert.deepEqual(h.files(), ['small.data']);
    const metrics = await h.registry.getSingleMetricAsString(
      'pandora_tentacle_files_received_total',
    );
    assert.match(metrics, /result="error"} 1/);
    assert.match(metrics, /result="ok"} 1/);
    const rec = h.logs.find((r) => r['event'] === 'store_failed');
    assert.equal(rec?.['errno'], 'ENOSPC');
  });

  test('small body on an almost full disk: SEND ERR at commit, nothing left behind', async (t) => {
    const spool = tinyTmpfs(t, '64k');
    writeFileSync(join(spool, 'filler'), Buffer.alloc(60 * 1024));
    const h = await startServer(t, { directory: spool, sync: 'none' });
    const peer = await h.connect();
    assert.equal(await upload(peer, 'late.data', Buffer.alloc(20_000, 0x6c)), 'SEND ERR');
    assert.deepEqual(h.files(), ['filler']);
    rmSync(join(spool, 'filler'));
    assert.equal(await upload(peer, 'late.data', Buffer.alloc(20_000, 0x6c)), 'SEND OK');
    assert.equal(statSync(join(spool, 'late.data')).size, 20_000);
  });

  test('ZSEND whose decompressed data does not fit: ZSEND ERR, nothing left behind', async (t) => {
    const spool = tinyTmpfs(t, '64k');
    const h = await startServer(t, { directory: spool });
    const zip = perlZip([{ name: 'z', data: Buffer.alloc(500_000, 0x7a) }]);
    const peer = await h.connect();
    peer.write(`ZSEND <z.data> SIZE ${zip.length}\n`);
    await peer.expect('ZSEND OK\n');
    peer.write(zip);
    await peer.expect('ZSEND ERR\n');
    assert.deepEqual(h.files(), []);
  });
});

describe('write error without root: a file-size limit (RLIMIT_FSIZE, EFBIG)', () => {
  test('the server under `ulimit -f 64` answers SEND ERR for a larger body, leaves nothing, goes on', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tentacle-efbig-'));
    const cli = join(import.meta.dirname, '../../src/cli/tentacle-server.ts');
    const child = spawn(
      'bash',
      [
        '-c',
        'ulimit -f 64 && exec "$0" --import tsx "$@"',
        process.execPath,
        cli,
        '-a',
        '127.0.0.1',
        '-p',
        '0',
        '-s',
        dir,
        '-v',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    t.after(() => {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    let port = 0;
    for (let i = 0; i < 100 && port === 0; i++) {
      port = Number(/"addresses":\["127\.0\.0\.1:(\d+)"\]/.exec(out)?.[1] ?? 0);
      if (port === 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(port > 0, 'server started');
    const peer = await RawPeer.connect(port);
    assert.equal(await upload(peer, 'large.data', Buffer.alloc(200_000, 0x6c)), 'SEND ERR');
    assert.equal(await upload(peer, 'small.data', Buffer.from('fits')), 'SEND OK');
    peer.destroy();
    assert.deepEqual(readdirSync(dir), ['small.data']);
  });
});
