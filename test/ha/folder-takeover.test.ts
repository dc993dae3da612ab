// A server dies with files queued (and some claimed) in its incoming folder on shared storage:
// the surviving master re-queues them into its own folder and its real dataserver ingests each
// exactly once (ha.md §4.3–4.5). Two real `tentacle-ingest serve` processes on one database.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { createTestDatabase } from '../helpers/db.js';
import { teardown } from '../helpers/teardown.js';
import { tempDir } from '../helpers/tmp.js';
import { eventually, killAll, type NodeProcess } from './fixtures/cluster.js';
import {
  agentXml,
  dropDataFile,
  initServeDatabase,
  freePort,
  spawnServe,
} from './fixtures/serve.js';

const QUEUED = 30;
const CLAIMED = 5;

test("the master re-queues a dead peer's files from shared storage; each is ingested once", async (t) => {
  const cleanup = teardown(t);
  const db = await createTestDatabase('ti_ha_take');
  cleanup(() => db.drop());
  await initServeDatabase(db);
  const shared = tempDir('ti-shared-');
  cleanup(() => {
    shared.cleanup();
  });
  const dirA = join(shared.path, 'xml_srv1');
  const dirB = join(shared.path, 'xml_srv2');
  const nodes: NodeProcess[] = [];
  cleanup(() => killAll(nodes));
  const adopt = ['--ha-adopt-peer-folders', '1'];
  const ports = [await freePort(), await freePort(), await freePort(), await freePort()];
  const a = spawnServe({
    name: 'srv1',
    master: 5,
    db,
    incomingDir: dirA,
    tentaclePort: ports[0] ?? 0,
    httpPort: ports[1] ?? 0,
    extra: adopt,
  });
  const b = spawnServe({
    name: 'srv2',
    master: 3,
    db,
    incomingDir: dirB,
    tentaclePort: ports[2] ?? 0,
    httpPort: ports[3] ?? 0,
    extra: adopt,
  });
  nodes.push(a, b);
  await a.ready();
  await b.ready();
  await a.waitForRole('master', 30_000);

  // srv1 dies; what it had accepted is still on the shared disk: queued files, and files it had
  // claimed for processing but not finished.
  a.kill('SIGKILL');
  await a.exited;
  for (let i = 0; i < QUEUED; i++) {
    dropDataFile(dirA, `hostha.${1_700_000_000 + i}.data`, agentXml('hostha', i));
  }
  for (let i = QUEUED; i < QUEUED + CLAIMED; i++) {
    dropDataFile(
      join(dirA, '.processing', 'srv1'),
      `hostha.${1_700_000_000 + i}.data`,
      agentXml('hostha', i),
    );
  }

  await b.waitForRole('master', 30_000);
  const total = QUEUED + CLAIMED;
  await eventually(
    async () => {
      const [rows] = await db.pool.query<RowDataPacket[]>(
        "SELECT COUNT(*) AS n FROM tingest_ledger WHERE file_name LIKE 'hostha.%'",
      );
      return Number(rows[0]?.['n']) === total;
    },
    60_000,
    'every adopted file ingested',
  );
  const [datos] = await db.pool.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n, COUNT(DISTINCT d.datos) AS distinct_values, MIN(d.datos) AS lo, MAX(d.datos) AS hi
     FROM tagente_datos d JOIN tagente_modulo m USING (id_agente_modulo)
     JOIN tagente a ON a.id_agente = m.id_agente WHERE a.nombre = 'hostha'`,
  );
  assert.deepEqual(
    [datos[0]?.['n'], datos[0]?.['distinct_values'], datos[0]?.['lo'], datos[0]?.['hi']],
    [total, total, 1, total],
    'one history row per file, none twice, none lost',
  );
  const leftovers = [
    ...readdirSync(dirA),
    ...readdirSync(join(dirA, '.processing', 'srv1')),
    ...readdirSync(dirB),
  ].filter((name) => name.endsWith('.data') || name.endsWith('.adopting'));
  assert.deepEqual(leftovers, []);
  const [audit] = await db.pool.query<RowDataPacket[]>(
    "SELECT COUNT(*) AS n FROM tha_master_audit WHERE action = 'folder-takeover' AND server_name = 'srv2'",
  );
  assert.ok(Number(audit[0]?.['n']) > 0, 'the adoption ran as a fenced master action');
});
