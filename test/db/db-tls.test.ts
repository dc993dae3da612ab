import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { resolveSettings, silentLogger } from '../../src/core/index.js';
import { DATASERVER_SETTINGS, toDataserverConfig } from '../../src/dataserver/index.js';
import { createDbPool, initDatabase } from '../../src/db/index.js';
import { startTlsMariaDb, TLS_MARIADB_SKIP, type TlsMariaDb } from '../helpers/tls-mariadb.js';

// Database TLS (issue 14): Pandora's dbssl, dbsslcafile, dbsslcapath and verify_mysql_ssl_cert,
// against a MariaDB of the test's own with TLS on and a user that may log in only over TLS.

/** The database settings as `serve` resolves them from pandora_server.conf keys (flags here). */
function dbConfigOf(server: TlsMariaDb, keys: Record<string, string>) {
  const flags = new Map(
    Object.entries({
      dbhost: server.host,
      dbport: String(server.port),
      dbuser: server.user,
      dbname: server.database,
      ...keys,
    }),
  );
  return toDataserverConfig(resolveSettings(DATASERVER_SETTINGS, { flags }).values).db;
}

/** The session's cipher ('' = plain text), through a real pool. */
async function sessionCipher(db: ReturnType<typeof dbConfigOf>): Promise<string> {
  const pool = createDbPool(
    { ...db, connectionLimit: 1, queueLimit: 10, connectTimeoutMs: 5000 },
    { logger: silentLogger() },
  );
  try {
    const [rows] = await pool.query<mysql.RowDataPacket[]>("SHOW STATUS LIKE 'Ssl_cipher'");
    return String(rows[0]?.['Value'] ?? '');
  } finally {
    await pool.end();
  }
}

describe('database TLS', { skip: TLS_MARIADB_SKIP, timeout: 180_000 }, () => {
  let server: TlsMariaDb;
  before(async () => {
    server = await startTlsMariaDb();
  });
  after(async () => {
    await server.stop();
  });

  test('dbssl 1 with dbsslcafile and verify_mysql_ssl_cert 1: the session is encrypted', async () => {
    const db = dbConfigOf(server, {
      dbssl: '1',
      dbsslcafile: server.caFile,
      verify_mysql_ssl_cert: '1',
    });
    assert.match(await sessionCipher(db), /^TLS_|^ECDHE|AES/);
    // init-db's admin connection goes over TLS as well (the user may not log in otherwise).
    const result = await initDatabase(db, { createDatabase: true }, { logger: silentLogger() });
    assert.equal(result.schema, 'created');
  });

  test('dbsslcapath: every certificate of the folder is a CA', async () => {
    const db = dbConfigOf(server, { dbssl: '1', dbsslcapath: server.caPath });
    assert.notEqual(await sessionCipher(db), '');
  });

  test('verify_mysql_ssl_cert 1 refuses a server its CA did not sign', async () => {
    const db = dbConfigOf(server, {
      dbssl: '1',
      dbsslcafile: server.wrongCaFile,
      verify_mysql_ssl_cert: '1',
    });
    await assert.rejects(sessionCipher(db), (err: Error & { code?: string }) => {
      assert.match(`${err.code ?? ''} ${err.message}`, /certificate|SSL|self.signed|verify/i);
      return true;
    });
  });

  test('verify_mysql_ssl_cert 1 (the shipped value) without a CA uses the system CAs: refused', async () => {
    const db = dbConfigOf(server, { dbssl: '1' });
    await assert.rejects(sessionCipher(db));
  });

  test('verify_mysql_ssl_cert 0: encrypted without checking the certificate', async () => {
    const db = dbConfigOf(server, {
      dbssl: '1',
      dbsslcafile: server.wrongCaFile,
      verify_mysql_ssl_cert: '0',
    });
    assert.notEqual(await sessionCipher(db), '');
  });

  test('dbssl 0 (the shipped value): plain text, which this TLS-only user may not use', async () => {
    const db = dbConfigOf(server, { dbssl: '0', dbsslcafile: server.caFile });
    assert.equal(db.tls, undefined);
    await assert.rejects(sessionCipher(db), /Access denied/);
  });

  test('an unreadable dbsslcafile is a configuration error naming the key', () => {
    assert.throws(
      () => dbConfigOf(server, { dbssl: '1', dbsslcafile: `${server.caPath}/missing.pem` }),
      /dbsslcafile .*missing\.pem/,
    );
    assert.throws(
      () => dbConfigOf(server, { dbssl: '1', dbsslcafile: `${server.caPath}/README` }),
      /no PEM certificate/,
    );
  });

  test('tentacle-ingest init-db reads the keys from its configuration file', () => {
    const conf = [
      `dbhost ${server.host}`,
      `dbport ${String(server.port)}`,
      `dbuser ${server.user}`,
      'dbname ti_tls_cli',
      'dbssl 1',
      `dbsslcafile ${server.caFile}`,
      'verify_mysql_ssl_cert 1',
    ].join('\n');
    const confPath = join(server.caPath, '..', 'pandora_server.conf');
    writeFileSync(confPath, `${conf}\n`);
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/main.ts', 'init-db', '-c', confPath],
      { encoding: 'utf8', env: { ...process.env, PANDORA_DBPASS: '' }, timeout: 60_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /database ti_tls_cli: created/);
  });
});
