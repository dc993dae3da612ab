import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { silentLogger } from '../../src/core/log.js';
import { LEDGER_TABLE, PANDORA_TABLES, initDatabase } from '../../src/db/index.js';
import { createTestDatabase, testDbServer } from '../helpers/db.js';

async function tableNames(pool: import('mysql2/promise').Pool, db: string): Promise<string[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1',
    [db],
  );
  return rows.map((r) => String(r['t']));
}

test('init-db creates the Pandora subset, seeds and the ledger, and is idempotent', async (t) => {
  const db = await createTestDatabase();
  t.after(() => db.drop());
  const cfg = { ...testDbServer(), database: db.name };
  const first = await initDatabase(cfg, { createDatabase: false }, { logger: silentLogger() });
  assert.equal(first.schema, 'created');
  const names = await tableNames(db.pool, db.name);
  for (const table of [...PANDORA_TABLES, LEDGER_TABLE]) assert.ok(names.includes(table), table);
  const [types] = await db.pool.query<RowDataPacket[]>(
    "SELECT id_tipo FROM ttipo_modulo WHERE nombre IN ('generic_data','generic_proc','async_string','keep_alive') ORDER BY 1",
  );
  assert.deepEqual(
    types.map((r) => Number(r['id_tipo'])),
    [1, 2, 23, 100],
  );
  const [groups] = await db.pool.query<RowDataPacket[]>(
    'SELECT nombre FROM tgrupo WHERE id_grupo = 10',
  );
  assert.equal(groups[0]?.['nombre'], 'Unknown');
  const again = await initDatabase(cfg, { createDatabase: false }, { logger: silentLogger() });
  assert.equal(again.schema, 'existing');
  const [count] = await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM ttipo_modulo');
  assert.equal(Number(count[0]?.['n']), 29);
});

test('an existing Pandora database gets only the ledger table', async (t) => {
  const db = await createTestDatabase();
  t.after(() => db.drop());
  // A stand-in for a full console schema: a tagente table with one extra column we do not know.
  await db.pool.query(
    'CREATE TABLE tagente (id_agente INT PRIMARY KEY, nombre VARCHAR(600), extra_col INT)',
  );
  const result = await initDatabase(
    { ...testDbServer(), database: db.name },
    { createDatabase: false },
    { logger: silentLogger() },
  );
  assert.equal(result.schema, 'existing');
  assert.deepEqual(await tableNames(db.pool, db.name), ['tagente', LEDGER_TABLE].sort());
});

test('a missing database is created only when asked', async (t) => {
  const name = `ti_test_missing_${process.pid}_${Date.now()}`;
  const cfg = { ...testDbServer(), database: name };
  await assert.rejects(
    initDatabase(cfg, { createDatabase: false }, { logger: silentLogger() }),
    /does not exist/,
  );
  const db = await createTestDatabase();
  t.after(async () => {
    await db.pool.query(`DROP DATABASE IF EXISTS \`${name}\``);
    await db.drop();
  });
  const result = await initDatabase(cfg, { createDatabase: true }, { logger: silentLogger() });
  assert.equal(result.createdDatabase, true);
  assert.equal(result.schema, 'created');
});

test('an unreachable database gives one clear line', async () => {
  const cfg = { host: '127.0.0.1', port: 1, user: 'root', password: '', database: 'x' };
  await assert.rejects(
    initDatabase(cfg, { createDatabase: true }, { logger: silentLogger() }),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_DB_UNAVAILABLE');
      assert.match(
        err.message,
        /^cannot connect to the database at 127\.0\.0\.1:1 as root: ECONNREFUSED/,
      );
      assert.ok(!err.message.includes('\n'));
      return true;
    },
  );
});
