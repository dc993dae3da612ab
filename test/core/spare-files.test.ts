/**
 * Spare files (inode recycling between the dataserver and the listener): a finished file is
 * reused for the next upload, whole and with no old byte left, and never when reusing it would
 * change another name's content.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  linkSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { DirSyncer } from '../../src/core/dir-syncer.js';
import { SpareFiles } from '../../src/core/spare-files.js';
import { INLINE_STALL_MS, SpoolWriter } from '../../src/tentacle/spool-writer.js';

function folder(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'spare-files-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

function spares(dir: string, capacity = 8, maxBytes = 1024, registry?: Registry): SpareFiles {
  return new SpareFiles({ dir: join(dir, '.spare', 'test'), capacity, maxBytes, registry });
}

function writerWith(pool: SpareFiles, sync: 'always' | 'none'): SpoolWriter {
  return new SpoolWriter({ sync, fileMode: 0o640, overwrite: false, spares: pool });
}

async function store(writer: SpoolWriter, dir: string, name: string, body: string) {
  const transfer = writer.begin(Buffer.from(dir), Buffer.from(name));
  await transfer.append(Buffer.from(body));
  await transfer.commit();
}

describe('spare files', () => {
  for (const path of ['inline', 'thread pool'] as const) {
    test(`an upload reuses a finished file's inode, with none of its old bytes (${path})`, async (t) => {
      const dir = folder(t);
      const pool = spares(dir);
      const writer = writerWith(pool, 'always');
      if (path === 'thread pool') writer.inlineTook(INLINE_STALL_MS + 1);
      const old = join(dir, 'old_1.data');
      writeFileSync(old, 'x'.repeat(500), { mode: 0o600 });
      const inode = statSync(old).ino;
      await pool.retire(old, 500);
      assert.equal(pool.count, 1);

      await store(writer, dir, 'agent_2.data', 'new body');
      assert.equal(readFileSync(join(dir, 'agent_2.data'), 'utf8'), 'new body');
      const st = statSync(join(dir, 'agent_2.data'));
      assert.equal(st.ino, inode, 'the spare inode was reused');
      assert.equal(st.mode & 0o777, 0o640, 'the configured mode, not the spare one');
      assert.equal(st.nlink, 1);
      assert.equal(pool.count, 0);
      assert.deepEqual(readdirSync(pool.dir), [], 'the spare name is gone');
      assert.deepEqual(
        readdirSync(dir).filter((n) => n.endsWith('.tmp')),
        [],
      );
      // None left: the next upload creates a file.
      await store(writer, dir, 'agent_3.data', 'third');
      assert.notEqual(statSync(join(dir, 'agent_3.data')).ino, inode);
    });
  }

  test('capacity and size limits: extra or large finished files are unlinked', async (t) => {
    const dir = folder(t);
    const registry = new Registry();
    const pool = spares(dir, 2, 100, registry);
    for (const [name, size] of [
      ['a_1.data', 10],
      ['b_1.data', 500],
      ['c_1.data', 10],
      ['d_1.data', 10],
    ] as const) {
      writeFileSync(join(dir, name), 'y'.repeat(size));
      await pool.retire(join(dir, name), size);
    }
    assert.equal(pool.count, 2);
    assert.equal(readdirSync(pool.dir).length, 2);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.endsWith('.data')),
      [],
      'every finished file left the spool',
    );
    assert.match(await registry.metrics(), /pandora_spool_spare_files 2/);
    // A file already gone is no error.
    await pool.retire(join(dir, 'missing_1.data'), 10);
  });

  test('a spare with a second name (crash between link and unlink) is never written into', async (t) => {
    const dir = folder(t);
    const pool = spares(dir);
    const pending = join(dir, 'pending_1.data');
    writeFileSync(pending, 'data the dataserver has not read yet');
    // What a crash can leave: the spare name and a live data file on one inode.
    linkSync(pending, join(pool.dir, 'leftover'));
    const restarted = spares(dir);
    assert.equal(restarted.count, 1, 'adopted at startup');
    const writer = writerWith(restarted, 'always');
    await store(writer, dir, 'new_1.data', 'new');
    assert.equal(readFileSync(pending, 'utf8'), 'data the dataserver has not read yet');
    assert.equal(readFileSync(join(dir, 'new_1.data'), 'utf8'), 'new');
    assert.notEqual(statSync(join(dir, 'new_1.data')).ino, statSync(pending).ino);
    assert.equal(restarted.count, 0);
    assert.deepEqual(readdirSync(restarted.dir), []);
  });

  test('without -o, an existing final name is still refused; the spare taken is removed', async (t) => {
    const dir = folder(t);
    const pool = spares(dir);
    const writer = writerWith(pool, 'always');
    writeFileSync(join(dir, 'taken_1.data'), 'first');
    writeFileSync(join(dir, 'done_1.data'), 'finished');
    await pool.retire(join(dir, 'done_1.data'), 8);
    await assert.rejects(store(writer, dir, 'taken_1.data', 'second'), { kind: 'exists' });
    assert.equal(readFileSync(join(dir, 'taken_1.data'), 'utf8'), 'first');
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.endsWith('.tmp')),
      [],
      'the temp file (the spare) is removed like a created one',
    );
  });

  test('under sync none no spare is taken (without the fsync a crash could show old bytes)', async (t) => {
    const dir = folder(t);
    const pool = spares(dir);
    writeFileSync(join(dir, 'done_1.data'), 'finished');
    const inode = statSync(join(dir, 'done_1.data')).ino;
    await pool.retire(join(dir, 'done_1.data'), 8);
    await store(writerWith(pool, 'none'), dir, 'new_1.data', 'new');
    assert.notEqual(statSync(join(dir, 'new_1.data')).ino, inode);
    assert.equal(pool.count, 1);
  });

  test('an upload into a missing folder fails as before and keeps the spares', async (t) => {
    const dir = folder(t);
    const pool = spares(dir);
    for (const name of ['a_1.data', 'b_1.data']) {
      writeFileSync(join(dir, name), 'finished');
      await pool.retire(join(dir, name), 8);
    }
    const writer = writerWith(pool, 'always');
    await assert.rejects(store(writer, join(dir, 'no-such-filter-folder'), 'x_1.data', 'body'), {
      kind: 'storage',
    });
    assert.equal(pool.count, 2);
    await store(writer, dir, 'y_1.data', 'body');
    assert.equal(pool.count, 1);
  });

  test('a retired file is a spare only after the folder it left is fsynced, once per group', async (t) => {
    const dir = folder(t);
    const syncer = new DirSyncer();
    const pool = new SpareFiles({
      dir: join(dir, '.spare', 'test'),
      capacity: 8,
      maxBytes: 1024,
      dirSyncer: syncer,
    });
    const names = ['a_1.data', 'b_1.data', 'c_1.data', 'd_1.data', 'e_1.data', 'f_1.data'];
    for (const name of names) writeFileSync(join(dir, name), 'finished');
    const retired = Promise.all(names.map((name) => pool.retire(join(dir, name), 8)));
    assert.equal(pool.count, 0, 'none usable before the fsync');
    await retired;
    assert.equal(pool.count, names.length);
    // A batch's files leave together: the group commit needs one or two fsyncs, not six.
    assert.ok(syncer.flushes >= 1 && syncer.flushes <= 2, `folder fsyncs: ${syncer.flushes}`);
  });

  test('a finished file still leaves the claim folder when the spare folder is gone', async (t) => {
    const dir = folder(t);
    const pool = spares(dir);
    rmSync(pool.dir, { recursive: true });
    writeFileSync(join(dir, 'done_1.data'), 'finished');
    await pool.retire(join(dir, 'done_1.data'), 8);
    assert.equal(existsSync(join(dir, 'done_1.data')), false);
    assert.equal(pool.count, 0);
  });

  test('below the free-space floor the pool is released and finished files are deleted, not kept', async (t) => {
    const dir = folder(t);
    const before = spares(dir);
    for (let i = 0; i < 3; i++) {
      const path = join(dir, `old_${String(i)}.data`);
      writeFileSync(path, 'x'.repeat(100));
      await before.retire(path, 100);
    }
    assert.equal(before.count, 3);
    // The same folder under a floor no real disk meets (99.9999 % free): the next start adopts
    // the three spares, and the first finished file's free-space reading releases them.
    const registry = new Registry();
    const pool = new SpareFiles({
      dir: join(dir, '.spare', 'test'),
      capacity: 8,
      maxBytes: 1024,
      registry,
      minFreeRatio: 0.999999,
    });
    assert.equal(pool.count, 3);
    const first = join(dir, 'new_1.data');
    writeFileSync(first, 'y');
    await pool.retire(first, 1);
    const left = (): number => pool.count;
    for (let i = 0; i < 40 && left() > 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(pool.count, 0);
    const metric = await registry.getSingleMetricAsString(
      'pandora_spool_spare_files_released_total',
    );
    assert.match(metric, /reason="low_space"} [34]$/m);
    // Meanwhile (the reading is fresh) a finished file is deleted outright.
    const second = join(dir, 'new_2.data');
    writeFileSync(second, 'z');
    await pool.retire(second, 1);
    assert.equal(pool.count, 0);
    assert.equal(existsSync(second), false);
    assert.deepEqual(readdirSync(join(dir, '.spare', 'test')), []);
  });
});
