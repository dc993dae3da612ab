import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { freePort } from './net.js';
import { tempDir } from './tmp.js';

/**
 * A private MariaDB with TLS on, for the database TLS tests: its own data folder under a temp
 * dir, a free loopback port, and a CA plus a server certificate (for 127.0.0.1 and localhost)
 * made with openssl at test time, beside a second CA that signed nothing of it.
 */

const MARIADBD = ['/usr/sbin/mariadbd', '/usr/sbin/mysqld'].find((p) => existsSync(p));
const INSTALL_DB = ['/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db'].find((p) =>
  existsSync(p),
);
const OPENSSL = spawnSync('openssl', ['version']).status === 0;

/** A `skip` value: false when the binaries are here, else the reason. */
export const TLS_MARIADB_SKIP: string | false =
  MARIADBD === undefined || INSTALL_DB === undefined
    ? "mariadbd or mariadb-install-db missing (Debian's mariadb-server package)"
    : OPENSSL
      ? false
      : 'openssl missing';

const DATABASE = 'ti_tls';

export interface TlsMariaDb {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** A user that may log in only over TLS (REQUIRE SSL), empty password. */
  readonly user: string;
  /** An empty database. */
  readonly database: string;
  /** The CA that signed the server's certificate. */
  readonly caFile: string;
  /** A folder holding that CA and an unrelated file. */
  readonly caPath: string;
  /** A CA that did not sign it. */
  readonly wrongCaFile: string;
  stop(): Promise<void>;
}

function run(cmd: string, args: readonly string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
}

function makeCertificates(dir: string): void {
  const ca = (name: string) => {
    run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.pem`,
        '-days',
        '2',
        '-subj',
        `/CN=${name}`,
      ],
      dir,
    );
  };
  ca('ca');
  ca('wrong-ca');
  const req = ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key'];
  run('openssl', [...req, '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
    ],
    dir,
  );
}

async function waitForServer(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`mariadbd exited: ${log()}`);
    try {
      const conn = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
      await conn.end();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`mariadbd did not start: ${log()}`);
}

/** Starts the server; `stop()` kills it and removes its folder. */
export async function startTlsMariaDb(): Promise<TlsMariaDb> {
  if (MARIADBD === undefined || INSTALL_DB === undefined) throw new Error('no mariadbd');
  const tmp = tempDir('ti-tls-mariadb-');
  const dir = tmp.path;
  const data = join(dir, 'data');
  let child: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    if (child && child.exitCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
    tmp.cleanup();
  };
  try {
    makeCertificates(dir);
    const caPath = join(dir, 'capath');
    mkdirSync(caPath);
    run('cp', ['ca.pem', join(caPath, 'test-ca.pem')], dir);
    writeFileSync(join(caPath, 'README'), 'not a certificate\n');
    run(
      INSTALL_DB,
      [
        '--no-defaults',
        `--datadir=${data}`,
        '--user=root',
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        '--skip-name-resolve',
      ],
      dir,
    );
    const port = await freePort();
    // mariadbd changes into its data folder: every path is absolute.
    child = spawn(
      MARIADBD,
      [
        '--no-defaults',
        `--datadir=${data}`,
        '--user=root',
        `--port=${String(port)}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(dir, 'mysqld.sock')}`,
        `--pid-file=${join(dir, 'mysqld.pid')}`,
        '--skip-name-resolve',
        '--innodb-buffer-pool-size=16M',
        `--ssl-ca=${join(dir, 'ca.pem')}`,
        `--ssl-cert=${join(dir, 'server.pem')}`,
        `--ssl-key=${join(dir, 'server.key')}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    child.stderr?.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
    await waitForServer(port, child, () => log);
    const admin = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
    await admin.query("CREATE USER 'tls'@'127.0.0.1' REQUIRE SSL");
    await admin.query("GRANT ALL ON *.* TO 'tls'@'127.0.0.1'");
    await admin.query(`CREATE DATABASE ${DATABASE}`);
    await admin.end();
    return {
      host: '127.0.0.1',
      port,
      user: 'tls',
      database: DATABASE,
      caFile: join(dir, 'ca.pem'),
      caPath,
      wrongCaFile: join(dir, 'wrong-ca.pem'),
      stop,
    };
  } catch (err) {
    await stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
