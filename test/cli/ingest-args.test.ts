// The command line of `tentacle-ingest`: one long-flag parser (util.parseArgs) for every
// settings table, `--version`, a grouped `--help`, an error for a stray argument, and Pandora's
// own usage `tentacle-ingest serve /etc/pandora/pandora_server.conf` (the file as -c).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { parseIngestArgs } from '../../src/cli/index.js';
import { parseLongFlags, type SettingsTable } from '../../src/core/settings.js';
import { testDbServer } from '../helpers/db.js';
import { tempDir } from '../helpers/tmp.js';

const TABLE = {
  dbname: { kind: 'string', help: 'database' },
  max_size: { kind: 'int', help: 'bytes' },
  overwrite: { kind: 'bool', default: false, help: 'switch' },
  tentacle: { kind: 'bool', default: true, help: 'switch on by default' },
} as const satisfies SettingsTable;

const MAIN = ['--import', 'tsx', 'src/main.ts'];

function ingest(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, [...MAIN, ...args], {
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

test('long flags: = or space, dashes or underscores, switches bare, 0/1 or negated', () => {
  const { flags, positional } = parseLongFlags(
    ['serve', '--max-size=10', '--max_size', '20', '--overwrite', '0', '--no-tentacle', 'x'],
    TABLE,
  );
  assert.deepEqual(Object.fromEntries(flags), { max_size: '20', overwrite: '0', tentacle: '0' });
  assert.deepEqual(positional, ['serve', 'x']);
  const bare = parseLongFlags(['--overwrite', 'serve', '--tentacle=0'], TABLE);
  assert.deepEqual(Object.fromEntries(bare.flags), { overwrite: '1', tentacle: '0' });
  assert.deepEqual(bare.positional, ['serve']);
  // A value may start with dashes; everything after `--` is positional.
  const odd = parseLongFlags(['--dbname', '--odd', '--', '--overwrite'], TABLE);
  assert.deepEqual(Object.fromEntries(odd.flags), { dbname: '--odd' });
  assert.deepEqual(odd.positional, ['--overwrite']);
});

test('long flags: unknown options and missing values are errors naming the option', () => {
  assert.throws(() => parseLongFlags(['--nope'], TABLE), /unknown option --nope/);
  assert.throws(() => parseLongFlags(['--no-dbname'], TABLE), /unknown option --no-dbname/);
  assert.throws(() => parseLongFlags(['-x'], TABLE), /unknown option -x/);
  assert.throws(() => parseLongFlags(['--max_size'], TABLE), /option --max-size needs a value/);
});

test('tentacle-ingest arguments: the command, -c or the file after the command, nothing else', () => {
  assert.deepEqual(parseIngestArgs(['serve', '/etc/pandora/pandora_server.conf'], TABLE), {
    command: 'serve',
    confPath: '/etc/pandora/pandora_server.conf',
    flags: new Map(),
  });
  const withFlag = parseIngestArgs(['init-db', '-c', 'a.conf', '--dbname', 'x'], TABLE);
  assert.equal(withFlag.command, 'init-db');
  assert.equal(withFlag.confPath, 'a.conf');
  assert.equal(withFlag.flags.get('dbname'), 'x');
  assert.equal(parseIngestArgs(['--config=b.conf', 'serve'], TABLE).confPath, 'b.conf');
  assert.equal(parseIngestArgs([], TABLE).command, 'help');
  assert.equal(parseIngestArgs(['help'], TABLE).command, 'help');
  assert.equal(parseIngestArgs(['serve', '-h'], TABLE).command, 'help');
  assert.equal(parseIngestArgs(['--version'], TABLE).command, 'version');
  assert.throws(() => parseIngestArgs(['serve', 'a.conf', 'b'], TABLE), /unexpected argument "b"/);
  assert.throws(
    () => parseIngestArgs(['serve', '-c', 'a.conf', 'b.conf'], TABLE),
    /unexpected argument "b\.conf": the configuration file is already given with -c/,
  );
  assert.throws(() => parseIngestArgs(['frob'], TABLE), /unknown command "frob"/);
  assert.throws(() => parseIngestArgs(['serve', '-c'], TABLE), /option -c needs a value/);
});

test('tentacle-ingest --version, grouped --help, and a stray argument exits 2', () => {
  const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  const shown = ingest(['--version']);
  assert.equal(shown.status, 0);
  assert.equal(shown.stdout, `tentacle-ingest ${version}\n`);

  const help = ingest(['--help']);
  assert.equal(help.status, 0);
  const titles = help.stdout.split('\n').filter((line) => /^[a-z][a-zA-Z -]+:$/.test(line));
  assert.deepEqual(titles, [
    'commands:',
    'options:',
    'built-in Tentacle listener:',
    'dataserver and database:',
    'high availability and HTTP:',
    'process:',
  ]);
  // Every key once, even those two tables share (servername, server_threshold).
  for (const key of ['--servername ', '--http-port ', '--tentacle-port ', '--verbosity ']) {
    assert.equal(help.stdout.split(key).length - 1, 1, key);
  }

  const stray = ingest(['serve', 'a.conf', 'stray']);
  assert.equal(stray.status, 2);
  assert.match(stray.stderr, /unexpected argument "stray"/);
});

test('tentacle-ingest init-db /path/pandora_server.conf reads the file as -c does', async (t) => {
  const db = testDbServer();
  const dbName = `ti_test_args_${String(process.pid)}_${String(Date.now())}`;
  const admin = await mysql.createConnection({ ...db });
  const dir = tempDir('ti-args-');
  t.after(async () => {
    await admin.query(`DROP DATABASE IF EXISTS \`${dbName}\``);
    await admin.end();
    dir.cleanup();
  });
  const conf = join(dir.path, 'pandora_server.conf');
  writeFileSync(conf, `dbname ${dbName}\ndbhost ${db.host}\ndbport ${String(db.port)}\n`);
  const env = { ...process.env, PANDORA_DBUSER: db.user, PANDORA_DBPASS: db.password };
  const created = ingest(['init-db', conf], env);
  assert.equal(created.status, 0, created.stderr);
  assert.match(created.stdout, new RegExp(`database ${dbName}: created`));
  const [rows] = await admin.query<mysql.RowDataPacket[]>('SHOW DATABASES LIKE ?', [dbName]);
  assert.equal(rows.length, 1);
});

test("Pandora's switches: -P pidfile, -v/-d/-q verbosity, -D refused with the way out, the file alone means serve", () => {
  const table = { ...TABLE, verbosity: { kind: 'int', default: 3, help: 'detail' } } as const;
  const pandora = parseIngestArgs(['/etc/pandora/pandora_server.conf', '-P', '/run/p.pid'], table);
  assert.equal(pandora.command, 'serve');
  assert.equal(pandora.confPath, '/etc/pandora/pandora_server.conf');
  assert.equal(pandora.pidFile, '/run/p.pid');
  assert.equal(parseIngestArgs(['serve', 'a.conf', '-v'], table).flags.get('verbosity'), '5');
  assert.equal(parseIngestArgs(['serve', '-d'], table).flags.get('verbosity'), '10');
  assert.equal(parseIngestArgs(['serve', '-q'], table).flags.get('verbosity'), '1');
  // An explicit --verbosity wins over the switches.
  assert.equal(
    parseIngestArgs(['serve', '-d', '--verbosity', '2'], table).flags.get('verbosity'),
    '2',
  );
  assert.equal(parseIngestArgs(['serve'], table).flags.has('verbosity'), false);
  assert.throws(
    () => parseIngestArgs(['serve', 'a.conf', '-D'], table),
    /-D \(daemon mode\) is not supported: run tentacle-ingest in the foreground under systemd/,
  );
  assert.equal(parseIngestArgs(['serve', '--check-config'], table).checkConfig, true);
  assert.throws(() => parseIngestArgs(['init-db', '--check-config'], table), /goes with serve/);
  assert.throws(() => parseIngestArgs(['frob.txt'], table), /unknown command "frob\.txt"/);
});

test('tentacle-ingest -D exits 2 with the systemd hint', () => {
  const daemon = ingest(['serve', '-D']);
  assert.equal(daemon.status, 2);
  assert.match(daemon.stderr, /tentacle-ingest: -D \(daemon mode\) is not supported: .*systemd/);
});
