import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import mysql from 'mysql2/promise';
import { connect } from '../../src/tentacle/index.js';
import { testDbServer } from '../helpers/db.js';
import { freePort } from '../helpers/net.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from './child.js';
import { X } from './harness.js';

// The composition root as a user runs it: `tentacle-ingest serve` and `init-db`.

const MAIN = ['--import', 'tsx', 'src/main.ts'];
const db = testDbServer();
const dbFlags = ['--dbhost', db.host, '--dbport', String(db.port), '--dbuser', db.user];
const env = { ...process.env, TZ: 'UTC', PANDORA_DBPASS: db.password };

/** A minimal Tentacle client: SEND, bytes, QUIT (tentacle.md). */
async function tentacleSend(port: number, name: string, data: Buffer): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let replies = '';
  socket.on('data', (chunk: Buffer) => {
    replies += chunk.toString();
  });
  const waitReply = (n: number) =>
    waitFor(() => Promise.resolve(replies.split('\n').length > n), 10_000, 'tentacle reply');
  socket.write(`SEND <${name}> SIZE ${String(data.length)}\n`);
  await waitReply(1);
  socket.write(data);
  await waitReply(2);
  socket.end('QUIT\n');
  return replies;
}

/** A database name for one test, dropped at its end, and an admin connection for assertions. */
async function testDatabase(t: TestContext, label: string) {
  const dbName = `ti_test_${label}_${String(process.pid)}_${String(Date.now())}`;
  const admin = await mysql.createConnection({ ...db });
  t.after(async () => {
    await admin.query(`DROP DATABASE IF EXISTS \`${dbName}\``);
    await admin.end();
  });
  return { dbName, admin };
}

/** `tentacle-ingest serve` as a child process, resolved once it logs that it is serving. */
async function startServe(t: TestContext, args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [...MAIN, 'serve', ...dbFlags, ...args], {
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  await waitFor(
    () => Promise.resolve(out.includes('tentacle-ingest serving')),
    60_000,
    `serving (${err})`,
  );
  return {
    /** SIGTERM, then the exit code (0 = graceful). */
    async stop(): Promise<void> {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, err);
    },
  };
}

async function waitForDatumRows(admin: mysql.Connection, dbName: string, n: number) {
  await admin.query(`USE \`${dbName}\``);
  await waitFor(
    async () => {
      const [rows] = await admin.query('SELECT COUNT(*) n FROM tagente_datos');
      return Number((rows as Record<string, unknown>[])[0]?.['n']) === n;
    },
    30_000,
    'the datum in tagente_datos',
  );
}

test(
  'serve with no configuration but a database name: creates it, receives over Tentacle, ingests, stops on SIGTERM',
  { timeout: 120_000 },
  async (t) => {
    const { dbName, admin } = await testDatabase(t, 'serve');
    const tmp = tempDir('ti-serve-');
    t.after(() => {
      tmp.cleanup();
    });
    const [port, httpPort] = [await freePort(), await freePort()];
    const serve = await startServe(
      t,
      [
        ...['--dbname', dbName, '--tentacle_port', String(port), '--servername', 'serve01'],
        ...['--http-port', String(httpPort)],
      ],
      { PANDORA_INCOMINGDIR: join(tmp.path, 'data_in') },
    );
    const replies = await tentacleSend(
      port,
      'host1.1709287200.data',
      Buffer.from(X('10:00:00', '5')),
    );
    assert.match(replies, /^SEND OK\nSEND OK\n/);
    await waitForDatumRows(admin, dbName, 1);
    // The finished file is kept as a spare, and the next upload is written into it (inode
    // recycling, core/spare-files.ts): one spare, the same inode, after the second file.
    const spareDir = join(tmp.path, 'data_in', '.spare', 'serve01');
    const spareInodes = () => readdirSync(spareDir).map((n) => statSync(join(spareDir, n)).ino);
    await waitFor(() => Promise.resolve(spareInodes().length === 1), 10_000, 'one spare file');
    const [inode] = spareInodes();
    assert.match(
      await tentacleSend(port, 'host1.1709287260.data', Buffer.from(X('10:01:00', '6'))),
      /^SEND OK\nSEND OK\n/,
    );
    await waitForDatumRows(admin, dbName, 2);
    await waitFor(() => Promise.resolve(spareInodes()[0] === inode), 10_000, 'the spare back');
    assert.deepEqual(spareInodes(), [inode]);
    // Both files were parsed from the bytes the listener handed over, not read back from disk
    // (the second one written into a spare: its mtime after the truncation still matched).
    const metrics = await (await fetch(`http://127.0.0.1:${String(httpPort)}/metrics`)).text();
    assert.match(metrics, /^pandora_dataserver_handed_over_files_total 2$/m);
    await serve.stop();
  },
);

test(
  'serve configures its listener from a tentacle_server.conf (tentacle_config): password and filters',
  { timeout: 120_000 },
  async (t) => {
    const { dbName, admin } = await testDatabase(t, 'tconf');
    const tmp = tempDir('ti-serve-tconf-');
    t.after(() => {
      tmp.cleanup();
    });
    const incoming = join(tmp.path, 'data_in');
    mkdirSync(join(incoming, 'conf'), { recursive: true });
    const port = await freePort();
    // The shipped tentacle_server.conf style; its port is overridden by --tentacle-port below.
    const tentacleConf = join(tmp.path, 'tentacle_server.conf');
    writeFileSync(
      tentacleConf,
      `addresses 127.0.0.1\nport 1\npassword secret\nfilters .*\\.conf:conf\nsync none\n`,
    );
    const serve = await startServe(t, [
      '--dbname',
      dbName,
      '--incomingdir',
      incoming,
      '--tentacle-config',
      tentacleConf,
      '--tentacle-port',
      String(port),
      '--servername',
      'tconf01',
    ]);

    // Without the password the session is dropped before any command is served.
    const anonymous = await connect({ host: '127.0.0.1', port, timeoutMs: 10_000 });
    await assert.rejects(anonymous.send('nopass.1709287200.data', Buffer.from(X('10:00:00', '1'))));
    anonymous.destroy();

    const session = await connect({
      host: '127.0.0.1',
      port,
      password: 'secret',
      timeoutMs: 10_000,
    });
    await session.send('agent.conf', Buffer.from('server_ip 127.0.0.1\n'));
    await session.send('host1.1709287200.data', Buffer.from(X('10:00:00', '5')));
    await session.quit();
    assert.equal(
      readFileSync(join(incoming, 'conf', 'agent.conf'), 'utf8'),
      'server_ip 127.0.0.1\n',
    );
    assert.equal(existsSync(join(incoming, 'nopass.1709287200.data')), false);
    await waitForDatumRows(admin, dbName, 1);
    await serve.stop();
  },
);

test('serve with an unreachable database exits 1 with one clear line', async (t) => {
  const port = await freePort();
  const incoming = tempDir('ti-serve-');
  t.after(() => {
    incoming.cleanup();
  });
  const r = spawnSync(
    process.execPath,
    [
      ...MAIN,
      'serve',
      '--dbhost',
      '127.0.0.1',
      '--dbport',
      String(port),
      '--no-tentacle',
      '--incomingdir',
      incoming.path,
    ],
    { env, encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.status, 1);
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('npm warn'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(
    lines[0] ?? '',
    new RegExp(
      `^tentacle-ingest: cannot connect to the database at 127\\.0\\.0\\.1:${String(port)} as root: ECONNREFUSED`,
    ),
  );
});

test('init-db creates the schema; bad options are refused', async (t) => {
  const dbName = `ti_test_initdb_${String(process.pid)}_${String(Date.now())}`;
  const admin = await mysql.createConnection({ ...db });
  t.after(async () => {
    await admin.query(`DROP DATABASE IF EXISTS \`${dbName}\``);
    await admin.end();
  });
  const r = spawnSync(process.execPath, [...MAIN, 'init-db', ...dbFlags, '--dbname', dbName], {
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`database ${dbName}: created, schema created and seeded`));
  // The same database named in a pandora_server.conf-style file (-c), flags for the rest.
  const confDir = tempDir('ti-conf-');
  t.after(() => {
    confDir.cleanup();
  });
  const conf = join(confDir.path, 'pandora_server.conf');
  writeFileSync(conf, `# comment\ndbname ${dbName}\nservername confserver\nunknown_key 1\n`);
  const again = spawnSync(process.execPath, [...MAIN, 'init-db', '-c', conf, ...dbFlags], {
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.match(again.stdout, /schema already present/);
  const bad = spawnSync(process.execPath, [...MAIN, 'serve', '--no-such-option', '1'], {
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown option --no-such-option/);
  const badValue = spawnSync(process.execPath, [...MAIN, 'init-db', '--dbport', 'abc'], {
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(badValue.status, 2);
  assert.match(badValue.stderr, /dbport must be an integer/);
});
