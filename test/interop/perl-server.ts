/**
 * Running Pandora's Perl `pandora_server` beside our test databases, for the interop check
 * (perl-alertserver.ts): the scratch schema completed from the source's own `pandoradb.sql`, a
 * MariaDB login it accepts, its configuration file, the process. Nothing of the Perl source is
 * copied into this repository; it runs from the folder given.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { testDbServer, type TestDatabase } from '../helpers/db.js';

/** Where the source's server and console schema are (the root, or its pandora_server). */
export function sourcePaths(root: string): { server: string; schema: string } {
  const server = [join(root, 'pandora_server'), root].find((p) =>
    existsSync(join(p, 'bin', 'pandora_server')),
  );
  if (server === undefined) throw new Error(`no pandora_server/bin/pandora_server under ${root}`);
  const schema = [
    join(root, 'pandora_console', 'pandoradb.sql'),
    join(server, '..', 'pandora_console', 'pandoradb.sql'),
  ].find((p) => existsSync(p));
  if (schema === undefined) throw new Error(`no pandora_console/pandoradb.sql under ${root}`);
  return { server, schema };
}

/**
 * Gives the scratch database every table and column of the source's `pandoradb.sql` that our
 * subset lacks, as an installation has them. Returns what was added.
 */
export async function completeSchema(db: TestDatabase, schemaFile: string): Promise<string[]> {
  const server = testDbServer();
  const refName = `${db.name}_ref`;
  const admin = await mysql.createConnection({ ...server, multipleStatements: true });
  try {
    await admin.query(`CREATE DATABASE \`${refName}\` CHARACTER SET utf8mb4`);
    await admin.query(`USE \`${refName}\``);
    await admin.query(readFileSync(schemaFile, 'utf8'));
    const [tables] = await admin.query<mysql.RowDataPacket[]>(
      `SELECT r.table_name AS t FROM information_schema.tables r
         LEFT JOIN information_schema.tables o ON o.table_schema = ? AND o.table_name = r.table_name
        WHERE r.table_schema = ? AND o.table_name IS NULL ORDER BY r.table_name`,
      [db.name, refName],
    );
    const [columns] = await admin.query<mysql.RowDataPacket[]>(
      `SELECT r.table_name AS t, r.column_name AS c, r.column_type AS type,
              r.is_nullable AS nullable, r.column_default AS def
         FROM information_schema.columns r
         JOIN information_schema.tables o ON o.table_schema = ? AND o.table_name = r.table_name
         LEFT JOIN information_schema.columns c
           ON c.table_schema = ? AND c.table_name = r.table_name AND c.column_name = r.column_name
        WHERE r.table_schema = ? AND c.column_name IS NULL
        ORDER BY r.table_name, r.ordinal_position`,
      [db.name, db.name, refName],
    );
    const added: string[] = [];
    for (const { t } of tables as { t: string }[]) {
      await admin.query(`CREATE TABLE \`${db.name}\`.\`${t}\` LIKE \`${refName}\`.\`${t}\``);
      added.push(t);
    }
    for (const col of columns as {
      t: string;
      c: string;
      type: string;
      nullable: string;
      def: string | null;
    }[]) {
      const nullability = col.nullable === 'YES' ? 'NULL' : 'NOT NULL';
      // information_schema gives the default as an SQL literal (strings quoted) or NULL.
      const def = col.def === null ? '' : ` DEFAULT ${col.def}`;
      await admin.query(
        `ALTER TABLE \`${db.name}\`.\`${col.t}\` ADD COLUMN \`${col.c}\` ${col.type} ${nullability}${def}`,
      );
      added.push(`${col.t}.${col.c}`);
    }
    return added;
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS \`${refName}\``).catch(() => undefined);
    await admin.end();
  }
}

export interface PerlLogin {
  readonly user: string;
  readonly password: string;
  drop(): Promise<void>;
}

/** The Perl server refuses an empty `dbpass`: a throw-away login for the scratch databases. */
export async function perlLogin(
  db: TestDatabase,
  databases: readonly string[],
): Promise<PerlLogin> {
  const server = testDbServer();
  if (server.password !== '')
    return { user: server.user, password: server.password, drop: async () => {} };
  const user = `ti_perl_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  const host = server.host;
  await db.pool.query('CREATE USER ?@? IDENTIFIED BY ?', [user, host, password]);
  for (const name of databases)
    await db.pool.query(`GRANT ALL ON \`${name}\`.* TO ?@?`, [user, host]);
  return {
    user,
    password,
    drop: async () => {
      await db.pool.query('DROP USER IF EXISTS ?@?', [user, host]);
    },
  };
}

/**
 * `executor`: only the Alert Server (spec alerts §5.5: `dataserver 0`, `alertserver 1`,
 * `alertserver_threads 1`). `reference`: only the dataserver, queueing its alerts
 * (`alertserver_queue 1`) for nobody, so its rows stay to be compared with ours.
 */
export type PerlRole = 'executor' | 'reference';

export function perlConf(
  dir: string,
  role: PerlRole,
  dbName: string,
  login: { user: string; password: string },
): string {
  const db = testDbServer();
  const off = ['networkserver', 'snmpconsole', 'discoveryserver', 'wmiserver']
    .concat(['pluginserver', 'predictionserver', 'exportserver', 'inventoryserver', 'webserver'])
    .concat(['icmpserver', 'snmpserver', 'eventserver', 'logserver', 'wuxserver', 'syslogserver'])
    .concat(['netflowserver', 'madeserver']);
  const lines = [
    `servername perl-${role}`,
    `incomingdir ${join(dir, `perl_${role}_data_in`)}`,
    `log_file ${join(dir, `pandora_${role}.log`)}`,
    `errorlog_file ${join(dir, `pandora_${role}.error`)}`,
    `dbname ${dbName}`,
    `dbuser ${login.user}`,
    `dbpass ${login.password}`,
    `dbhost ${db.host}`,
    `dbport ${db.port}`,
    'verbosity 5',
    // No master duties (unknown detection, fired counts) from the executor: ours are the ones.
    'master 0',
    'server_threshold 1',
    ...off.map((key) => `${key} 0`),
    ...(role === 'executor'
      ? ['dataserver 0', 'alertserver 1', 'alertserver_threads 1', 'alertserver_warn 0']
      : ['dataserver 1', 'alertserver 0', 'alertserver_queue 1']),
    // Set, so that start-up neither creates an API user nor rewrites this file; the check of the
    // console API fails at once on the discard port (one system event, ignored here).
    'console_api_url http://127.0.0.1:9/pandora_console/include/api.php',
    'console_api_pass interop',
    'console_user interop',
    'console_pass interop',
  ];
  const file = join(dir, `pandora_${role}.conf`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

export async function stop(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) =>
    child.once('exit', () => {
      done();
    }),
  );
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface PerlServer {
  readonly child: ChildProcess;
  /** Its stdout and stderr, then its log and error-log files. */
  output(): string;
}

/** `pandora_server CONF` from the source folder, TZ=UTC like our `serve` in the tests. */
export function startPerl(
  serverDir: string,
  dir: string,
  role: PerlRole,
  conf: string,
): PerlServer {
  const child = spawn(
    'perl',
    // -P before the file: the reference takes its last plain argument as the configuration.
    ['bin/pandora_server', '-P', join(dir, `pandora_${role}.pid`), conf],
    {
      cwd: serverDir,
      env: { ...process.env, TZ: 'UTC', PERL5LIB: join(serverDir, 'lib') },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const collect = (chunk: Buffer) => {
    out += chunk.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  return {
    child,
    output: () =>
      [out]
        .concat(
          [`pandora_${role}.log`, `pandora_${role}.error`]
            .map((f) => join(dir, f))
            .filter((f) => existsSync(f))
            .map((f) => readFileSync(f, 'utf8')),
        )
        .join('\n'),
  };
}
