import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { silentLogger } from '../../src/core/log.js';
import { initDatabase } from '../../src/db/index.js';

/** Where the test MariaDB is: TEST_MYSQL_URL, or root without password on 127.0.0.1:3306. */
export function testDbServer(): { host: string; port: number; user: string; password: string } {
  const url = new URL(process.env['TEST_MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306');
  return {
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username || 'root'),
    password: decodeURIComponent(url.password),
  };
}

export interface TestDatabase {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** A small pool on the test database, for assertions. */
  readonly pool: mysql.Pool;
  drop(): Promise<void>;
}

/** Creates a database with a random name; `drop()` removes it (call it from `t.after`). */
export async function createTestDatabase(prefix = 'ti_test'): Promise<TestDatabase> {
  const server = testDbServer();
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = await mysql.createConnection({ ...server });
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await admin.end();
  const pool = mysql.createPool({ ...server, database: name, connectionLimit: 4, queueLimit: 100 });
  let dropped = false;
  return {
    name,
    ...server,
    pool,
    async drop() {
      if (dropped) return;
      dropped = true;
      await pool.end();
      const conn = await mysql.createConnection({ ...server });
      try {
        // Sessions of processes a test killed can still hold metadata locks on its tables (one
        // stuck in a lock wait notices its client is gone only when the wait ends), and DROP
        // would wait for them up to lock_wait_timeout (a year by default): end them first.
        const [sessions] = await conn.query<mysql.RowDataPacket[]>(
          'SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()',
          [name],
        );
        for (const s of sessions)
          await conn.query(`KILL ${String(Number(s['id']))}`).catch(() => undefined);
        await conn.query('SET SESSION lock_wait_timeout = 60');
        await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await conn.end();
      }
    },
  };
}

/** A test database holding the Pandora schema subset and the ledger (`initDatabase`). */
export async function createSchemaDatabase(prefix = 'ti_test'): Promise<TestDatabase> {
  const db = await createTestDatabase(prefix);
  try {
    await initDatabase(
      { ...testDbServer(), database: db.name },
      { createDatabase: false },
      { logger: silentLogger() },
    );
  } catch (err) {
    await db.drop();
    throw err;
  }
  return db;
}
