/**
 * Spare files give way under disk pressure (issue 12, defect 4): on a real small tmpfs, a spool
 * that filled up and was drained must take new uploads again without an operator, and an upload
 * that meets ENOSPC while spares hold space releases them and is retried once.
 */
import assert from 'node:assert/strict';
import { rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { SpareFiles, spareDirOf } from '../../src/core/spare-files.js';
import { createSpoolDir } from '../../src/dataserver/spool/spool-dir.js';
import { createTentacleServer } from '../../src/tentacle/index.js';
import { TMPFS_SKIP, tinyTmpfs } from '../helpers/tmp.js';
import { RawPeer, memoryLogger } from './fixtures/harness.js';

const SERVER = 'srv';

async function upload(peer: RawPeer, name: string, body: Buffer): Promise<string> {
  peer.write(`SEND <${name}> SIZE ${String(body.length)}\n`);
  const first = await peer.readLine();
  if (first !== 'SEND OK') return first;
  peer.write(body);
  return peer.readLine();
}

/** A listener under `sync always` with a spare pool, storing into `spool`, as `serve` wires it. */
async function listenerWithSpares(t: TestContext, spool: string, minFreeRatio: number) {
  const registry = new Registry();
  const spares = new SpareFiles({
    dir: spareDirOf(spool, SERVER),
    capacity: 1024,
    maxBytes: 64 * 1024,
    minFreeRatio,
    registry,
  });
  const { logger } = memoryLogger('warn');
  const server = createTentacleServer(
    { addresses: '127.0.0.1', port: 0, sync: 'always', directory: spool },
    { logger, registry, spares },
  );
  const [address] = await server.listen();
  if (!address) throw new Error('no address');
  const peer = await RawPeer.connect(address.port);
  t.after(async () => {
    peer.destroy();
    await server.close();
  });
  const released = async (reason: string): Promise<number> => {
    const text = await registry.getSingleMetricAsString('pandora_spool_spare_files_released_total');
    return Number(new RegExp(`reason="${reason}"} (\\d+)`).exec(text)?.[1] ?? 0);
  };
  return { spares, peer, released };
}

/** What the dataserver does with each finished file: claim it, then remove it (or keep a spare). */
async function drain(spool: string, spares: SpareFiles): Promise<number> {
  const dir = createSpoolDir(spool, SERVER, spares);
  const entries = await dir.list(Number.MAX_SAFE_INTEGER, new Set());
  for (const e of entries) {
    assert.ok(await dir.claim(e.name));
    const bytes = await dir.readClaimed(e.name, Number.MAX_SAFE_INTEGER);
    await dir.remove(e.name, Buffer.isBuffer(bytes) ? bytes.length : 0);
  }
  return entries.length;
}

/** Uploads `size`-byte packets until the disk refuses one; returns how many were stored. */
async function fillWithUploads(peer: RawPeer, round: number, size: number): Promise<number> {
  for (let i = 0; i < 1000; i++) {
    const name = `agent${String(round)}.${String(1_700_000_000 + i)}.data`;
    const reply = await upload(peer, name, Buffer.alloc(size, 0x61 + (i % 26)));
    if (reply !== 'SEND OK') {
      assert.equal(reply, 'SEND ERR');
      return i;
    }
  }
  throw new Error('the disk never filled');
}

/** Polls `check` for up to two seconds. */
async function settles(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 40 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(check(), what);
}

function freeRatio(dir: string): number {
  const st = statfsSync(dir);
  return st.bavail / st.blocks;
}

describe('spare files under disk pressure (real tmpfs)', { skip: TMPFS_SKIP }, () => {
  test('a spool that filled up and drained takes new uploads again, three times over', async (t) => {
    const spool = tinyTmpfs(t, '256k');
    const { spares, peer } = await listenerWithSpares(t, spool, 0.05);
    for (let round = 1; round <= 3; round++) {
      const stored = await fillWithUploads(peer, round, 6000);
      assert.ok(stored > 10, `round ${String(round)}: ${String(stored)} files before disk full`);
      assert.equal(await drain(spool, spares), stored);
      // The drained backlog leaves free space, not a pool of spares holding it (the floor is
      // judged on a statfs reading at most 100 ms old, taken in the background).
      await settles(() => freeRatio(spool) >= 0.05, 'free space back above the floor after drain');
      // Bigger than any spare, inline and streamed: both need blocks no spare has.
      const big = `big${String(round)}.1700000000.data`;
      assert.equal(await upload(peer, big, Buffer.alloc(12_000, 0x62)), 'SEND OK');
      const bigger = `bigger${String(round)}.1700000000.data`;
      assert.equal(await upload(peer, bigger, Buffer.alloc(70_000, 0x63)), 'SEND OK');
      await drain(spool, spares);
    }
  });

  test('an upload that meets ENOSPC while spares hold the space releases them and is retried once', async (t) => {
    const spool = tinyTmpfs(t, '256k');
    const { spares, peer, released } = await listenerWithSpares(t, spool, 0);
    const claimDir = createSpoolDir(spool, SERVER, spares).claimDir;
    for (const [i, body] of [Buffer.alloc(30_000, 0x69), Buffer.alloc(90_000, 0x73)].entries()) {
      // Fill the disk with spares only (no floor): finished 4 KiB files kept for reuse.
      let kept = 0;
      for (;;) {
        const path = join(claimDir, `f${String(i)}-${String(kept)}.1.data`);
        try {
          writeFileSync(path, Buffer.alloc(4096, 0x66));
        } catch (err) {
          assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
          rmSync(path, { force: true });
          break;
        }
        await spares.retire(path, 4096);
        kept++;
      }
      assert.ok(spares.count > 10, `${String(spares.count)} spares fill the disk`);
      const before = await released('enospc');
      const name = `after${String(i)}.1700000000.data`;
      assert.equal(await upload(peer, name, body), 'SEND OK');
      assert.equal(spares.count, 0);
      assert.ok((await released('enospc')) > before);
      await drain(spool, spares);
    }
  });
});
