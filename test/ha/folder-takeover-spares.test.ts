// A dead peer's spare files (core/spare-files.ts) are removed by the adopting master, and a
// server name read from the database can never turn that removal into one outside the folder.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { spareDirOf } from '../../src/core/spare-files.js';
import { adoptDeadPeerFolders } from '../../src/ha/folder-takeover.js';
import { HA_DDL } from '../../src/ha/schema.js';
import { createTestDatabase } from '../helpers/db.js';
import { teardown } from '../helpers/teardown.js';
import { tempDir } from '../helpers/tmp.js';

test("adoption removes a dead peer's spare files, and only below its folder", async (t) => {
  const cleanup = teardown(t);
  const db = await createTestDatabase('ti_ha_spares');
  cleanup(() => db.drop());
  for (const ddl of HA_DDL) await db.pool.query(ddl);
  const shared = tempDir('ti-spares-');
  cleanup(() => {
    shared.cleanup();
  });
  const own = join(shared.path, 'xml_me');
  const peerDir = join(shared.path, 'xml_peer');
  const trickDir = join(shared.path, 'xml_trick');
  for (const dir of [own, peerDir, trickDir]) mkdirSync(dir, { recursive: true });

  // The dead peer: one queued file and two spares. A second dead member named '..' whose spare
  // folder would be its incoming folder itself, holding a file that is not a data file.
  const peerSpares = spareDirOf(peerDir, 'peer');
  mkdirSync(peerSpares, { recursive: true });
  writeFileSync(join(peerSpares, 'a1'), 'old packet');
  writeFileSync(join(peerSpares, 'a2'), 'old packet');
  writeFileSync(join(peerDir, 'host.1700000000.data'), '<agent_data/>');
  writeFileSync(join(trickDir, 'keep.txt'), 'not ours to remove');
  // Our own spares are not touched.
  const ownSpares = spareDirOf(own, 'me');
  mkdirSync(ownSpares, { recursive: true });
  writeFileSync(join(ownSpares, 'b1'), 'ours');
  for (const [name, dir] of [
    ['peer', peerDir],
    ['..', trickDir],
  ] as const) {
    await db.pool.query(
      `INSERT INTO tha_member (server_name, instance_id, state, last_seen, started_at, incoming_dir)
       VALUES (?, UUID(), 'stopped', NOW(3), NOW(3), ?)`,
      [name, dir],
    );
  }

  const conn = await db.pool.getConnection();
  try {
    const adoptions = await adoptDeadPeerFolders(
      { conn, epoch: 1 },
      { incomingDir: own, serverName: 'me', memberDeadAfterMs: 60_000 },
    );
    assert.deepEqual(adoptions, [{ peer: 'peer', moved: 1, collisions: 0 }]);
  } finally {
    conn.release();
  }
  assert.equal(existsSync(peerSpares), false, "the dead peer's spares are gone");
  assert.ok(existsSync(join(own, 'host.1700000000.data')), 'its queued file is ours now');
  assert.ok(existsSync(join(trickDir, 'keep.txt')), "a member named '..' removes nothing");
  assert.ok(existsSync(join(ownSpares, 'b1')), 'our own spares stay');
});
