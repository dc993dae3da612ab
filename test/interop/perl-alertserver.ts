/**
 * Interop check of spec alerts.md §8 tests 38 and 39 against Pandora's real Perl Alert Server.
 * Not part of `npm test` (CI has no Pandora source): run it with
 * `scripts/perl-alertserver-check.sh PANDORA_SOURCE`, which installs the Perl server's Debian
 * packages first (docs/alerts.md, "Interop check").
 *
 * Our `serve` writes the queue rows (tests 1 and 3 on `cpu`, and the seeded template 1 with the
 * seeded "Monitoring Event" action on `load`); then the Perl `pandora_server` of the given
 * source runs with `alertserver 1` and every other server off, consumes the queue, and the check
 * prints PASS/FAIL per expectation of tests 38 and 39. Nothing of the Perl source is copied: the
 * scratch database gets the tables and columns our schema subset lacks from the source's own
 * `pandora_console/pandoradb.sql`, loaded into a side database and copied over.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import mysql from 'mysql2/promise';
import { decodeQueueData } from '../../src/dataserver/alerts/index.js';
import { safeInput } from '../../src/pandora/index.js';
import { spawnServe, waitFor } from '../dataserver/child.js';
import { dropFile } from '../dataserver/harness.js';
import { createSchemaDatabase, testDbServer, type TestDatabase } from '../helpers/db.js';
import { tempDir } from '../helpers/tmp.js';

type Row = Record<string, unknown>;

/** A datum with Latin-1, BMP and astral characters (reference defect D-A3). */
const NON_ASCII = 'café ✓ 🙂';

const results: { ok: boolean; what: string; detail: string }[] = [];

function expect(ok: boolean, what: string, detail = ''): void {
  results.push({ ok, what, detail });
  console.log(`${ok ? 'PASS' : 'FAIL'} ${what}${ok || detail === '' ? '' : ` — ${detail}`}`);
}

function sourcePaths(root: string): { server: string; schema: string } {
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

/** "YYYY/MM/DD HH:MM:SS" in UTC, the agent's timestamp text (both servers run with TZ=UTC). */
function agentNow(): string {
  return new Date().toISOString().slice(0, 19).replace('T', ' ').replaceAll('-', '/');
}

function agentXml(cpu: number, load: number, text: string): string {
  return `<?xml version='1.0' encoding='UTF-8'?>
<agent_data agent_name='host1' group='Servers' os_name='Linux' interval='300' timestamp='${agentNow()}'>
<module><name>cpu</name><type>generic_data</type><data>${cpu}</data></module>
<module><name>load</name><type>generic_data</type><min_warning>70</min_warning><min_critical>90</min_critical><data>${load}</data></module>
<module><name>msg</name><type>generic_data_string</type><data><![CDATA[${text}]]></data></module>
</agent_data>`;
}

/**
 * Gives the scratch database every table and column of the source's `pandoradb.sql` that our
 * subset lacks, as an installation has them. Returns what was added.
 */
async function completeSchema(db: TestDatabase, schemaFile: string): Promise<string[]> {
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

/** The Perl server refuses an empty `dbpass`: a throw-away login for the scratch database. */
async function perlLogin(
  db: TestDatabase,
): Promise<{ user: string; password: string; drop(): Promise<void> }> {
  const server = testDbServer();
  if (server.password !== '')
    return { user: server.user, password: server.password, drop: async () => {} };
  const user = `ti_perl_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  const host = server.host;
  await db.pool.query('CREATE USER ?@? IDENTIFIED BY ?', [user, host, password]);
  await db.pool.query(`GRANT ALL ON \`${db.name}\`.* TO ?@?`, [user, host]);
  return {
    user,
    password,
    drop: async () => {
      await db.pool.query('DROP USER IF EXISTS ?@?', [user, host]);
    },
  };
}

function perlConf(dir: string, dbName: string, login: { user: string; password: string }): string {
  const db = testDbServer();
  const off = ['dataserver', 'networkserver', 'snmpconsole', 'discoveryserver', 'wmiserver']
    .concat(['pluginserver', 'predictionserver', 'exportserver', 'inventoryserver', 'webserver'])
    .concat(['icmpserver', 'snmpserver', 'eventserver', 'logserver', 'wuxserver', 'syslogserver'])
    .concat(['netflowserver', 'madeserver']);
  const lines = [
    'servername perl-alertserver',
    `incomingdir ${join(dir, 'perl_data_in')}`,
    `log_file ${join(dir, 'pandora_server.log')}`,
    `errorlog_file ${join(dir, 'pandora_server.error')}`,
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
    'alertserver 1',
    'alertserver_threads 1',
    'alertserver_warn 0',
    // Set, so that start-up neither creates an API user nor rewrites this file; the check of the
    // console API fails at once on the discard port (one system event, ignored here).
    'console_api_url http://127.0.0.1:9/pandora_console/include/api.php',
    'console_api_pass interop',
    'console_user interop',
    'console_pass interop',
  ];
  const file = join(dir, 'pandora_server.conf');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

async function stop(child: ChildProcess, graceMs: number): Promise<void> {
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

async function main(): Promise<void> {
  const root = process.argv[2];
  if (root === undefined) throw new Error('usage: perl-alertserver.ts PANDORA_SOURCE');
  const { server: perlRoot, schema } = sourcePaths(resolve(root));
  const keep = process.argv.includes('--keep');

  const db = await createSchemaDatabase('ti_perl_interop');
  const tmp = tempDir('ti-perl-interop-');
  const cleanups: (() => Promise<void>)[] = [];
  const rows = async (sql: string, values: unknown[] = []): Promise<Row[]> =>
    (await db.pool.query<mysql.RowDataPacket[]>(sql, values))[0];
  try {
    const added = await completeSchema(db, schema);
    const addedColumns = added.filter((name) => name.includes('.'));
    console.log(
      `scratch database ${db.name}; from pandoradb.sql: ${added.length - addedColumns.length} tables our subset lacks, and columns ${addedColumns.join(' ')}`,
    );
    const outFile = join(tmp.path, 'alerts-out');
    const textFile = join(tmp.path, 'alerts-text-out');
    const incoming = join(tmp.path, 'data_in');

    // Our server: the data path and its queue rows.
    const ours = spawnServe({
      incomingDir: incoming,
      dbName: db.name,
      serverName: 'ti-interop',
      extra: ['--alert_config_refresh', '0'],
    });
    cleanups.push(() => stop(ours, 10_000));
    await ours.ready;
    let seq = 0;
    const send = async (cpu: number, load: number, text: string): Promise<void> => {
      const name = `host1.${++seq}.data`;
      dropFile(incoming, name, agentXml(cpu, load, text));
      await waitFor(
        () => Promise.resolve(!existsSync(join(incoming, name))),
        60_000,
        `${name} processed`,
      );
      await waitFor(
        async () =>
          (await rows('SELECT 1 FROM tingest_ledger WHERE file_name = ?', [name])).length > 0,
        60_000,
        `${name} committed`,
      );
    };
    await send(10, 10, 'start');
    const [cpu, load, msg] = await Promise.all(
      ['cpu', 'load', 'msg'].map(async (m) => {
        const [r] = await rows('SELECT id_agente_modulo FROM tagente_modulo WHERE nombre = ?', [m]);
        return Number(r?.['id_agente_modulo']);
      }),
    );

    // Test 38's alert `a`: template Tmax and a shell action appending to the file.
    const insert = async (sql: string, values: unknown[]): Promise<number> =>
      (await db.pool.query<mysql.ResultSetHeader>(sql, values))[0].insertId;
    const command = await insert(
      'INSERT INTO talert_commands (name, command, internal) VALUES (?, ?, 0)',
      [
        safeInput('Echo to file'),
        safeInput(`echo _field1_ _agent_ _module_ _data_ _alert_times_fired_ >> ${outFile}`),
      ],
    );
    const action = await insert(
      'INSERT INTO talert_actions (name, id_alert_command, field1, field1_recovery) VALUES (?, ?, ?, ?)',
      [safeInput('Echo action'), command, 'FIRED', 'RECOVERED'],
    );
    const template = await insert(
      `INSERT INTO talert_templates (name, type, max_value, time_threshold, max_alerts, min_alerts,
         recovery_notify, priority, schedule) VALUES (?, 'max', 50, 86400, 1, 0, 1, 4, NULL)`,
      [safeInput('Tmax')],
    );
    const a = await insert(
      'INSERT INTO talert_template_modules (id_agent_module, id_alert_template) VALUES (?, ?)',
      [cpu, template],
    );
    await insert(
      'INSERT INTO talert_template_module_actions (id_alert_template_module, id_alert_action) VALUES (?, ?)',
      [a, action],
    );
    // Test 39's alert `b`: seeded template 1 "Critical condition" with seeded action 3.
    const b = await insert(
      'INSERT INTO talert_template_modules (id_agent_module, id_alert_template) VALUES (?, 1)',
      [load],
    );
    await insert(
      'INSERT INTO talert_template_module_actions (id_alert_template_module, id_alert_action) VALUES (?, 3)',
      [b],
    );
    // Alert `c` (issue 15: non-ASCII data in fired alerts; test 37 through the real consumer): a
    // regex template on the string module, a shell action writing the datum.
    const textCommand = await insert(
      'INSERT INTO talert_commands (name, command, internal) VALUES (?, ?, 0)',
      [safeInput('Echo data to file'), safeInput(`echo _field1_ _module_ _data_ >> ${textFile}`)],
    );
    const textAction = await insert(
      'INSERT INTO talert_actions (name, id_alert_command, field1, field1_recovery) VALUES (?, ?, ?, ?)',
      [safeInput('Echo data action'), textCommand, 'FIRED', 'RECOVERED'],
    );
    const textTemplate = await insert(
      `INSERT INTO talert_templates (name, type, value, matches_value, time_threshold, max_alerts,
         min_alerts, recovery_notify, priority, schedule)
       VALUES (?, 'regex', 'caf', 1, 86400, 1, 0, 1, 3, NULL)`,
      [safeInput('Tcaf')],
    );
    const c = await insert(
      'INSERT INTO talert_template_modules (id_agent_module, id_alert_template) VALUES (?, ?)',
      [msg, textTemplate],
    );
    await insert(
      'INSERT INTO talert_template_module_actions (id_alert_template_module, id_alert_action) VALUES (?, ?)',
      [c, textAction],
    );

    // Fire, then recover; a second apart, so the Alert Server's ORDER BY utimestamp keeps them.
    await send(95, 95, NON_ASCII);
    await new Promise((r) => setTimeout(r, 1100));
    await send(10, 10, 'all good');
    await stop(ours, 10_000);

    const queued = await rows(
      'SELECT id, data, utimestamp FROM talert_execution_queue ORDER BY id',
    );
    const decoded = queued.map((q) => decodeQueueData(String(q['data'])) as unknown[]);
    const ofAlert = (id: number) =>
      decoded.filter((d) => Number((d[3] as Row | undefined)?.['id_template_module']) === id);
    const [aFire, aRecover] = ofAlert(a);
    expect(
      queued.length === 6,
      'our server queued 6 rows (a, b and c, fired and recovered)',
      `${queued.length}`,
    );
    expect(
      aFire?.[0] === '95.00000' &&
        aFire[4] === 1 &&
        aRecover?.[0] === '10.00000' &&
        aRecover[4] === 0,
      'test 1/3 rows of a: [0] "95.00000" mode 1, then "10.00000" mode 0',
      JSON.stringify([aFire?.[0], aFire?.[4], aRecover?.[0], aRecover?.[4]]),
    );
    const [cFire] = ofAlert(c);
    expect(
      cFire?.[0] === NON_ASCII,
      `row of c: UTF-8 JSON with [0] ${JSON.stringify(NON_ASCII)}`,
      JSON.stringify(cFire?.[0]),
    );

    // The Perl Alert Server consumes the queue.
    const login = await perlLogin(db);
    cleanups.push(() => login.drop());
    const conf = perlConf(tmp.path, db.name, login);
    const perl = spawn(
      'perl',
      // -P before the file: the reference takes its last plain argument as the configuration.
      ['bin/pandora_server', '-P', join(tmp.path, 'pandora_server.pid'), conf],
      {
        cwd: perlRoot,
        env: { ...process.env, TZ: 'UTC', PERL5LIB: join(perlRoot, 'lib') },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let perlOut = '';
    perl.stdout.on('data', (c: Buffer) => (perlOut += c.toString()));
    perl.stderr.on('data', (c: Buffer) => (perlOut += c.toString()));
    cleanups.push(() => stop(perl, 20_000));
    const started = Date.now();
    const emptied = await waitFor(
      async () => (await rows('SELECT id FROM talert_execution_queue')).length === 0,
      60_000,
      'the Perl Alert Server to empty the queue',
    ).then(
      () => true,
      () => false,
    );
    const seconds = (Date.now() - started) / 1000;
    expect(
      emptied && seconds <= 15,
      'test 38: queue empty within 15 s of starting the Perl server',
      emptied ? `${seconds.toFixed(1)} s` : 'not emptied in 60 s',
    );
    await stop(perl, 20_000);

    const events = await rows(
      "SELECT id_alert_am, event_type, evento, criticity, source, custom_data FROM tevento WHERE event_type LIKE 'alert%' ORDER BY id_evento",
    );
    console.log(`alert events: ${JSON.stringify(events)}`);
    const of = (id: number, type: string) =>
      events.filter((e) => Number(e['id_alert_am']) === id && e['event_type'] === type);
    const fired = of(a, 'alert_fired');
    expect(
      fired.length === 1 &&
        fired[0]?.['evento'] === safeInput('fired (Tmax) assigned to (cpu)') &&
        Number(fired[0]['criticity']) === 4 &&
        String(fired[0]['custom_data']).includes('Echo action'),
      'test 38: one alert_fired "fired (Tmax) assigned to (cpu)", criticity 4, custom_data lists the action',
      JSON.stringify(fired),
    );
    const recovered = of(a, 'alert_recovered');
    expect(
      recovered.length === 1 && Number(recovered[0]?.['criticity']) === 2,
      'test 38: one alert_recovered, criticity 2',
      JSON.stringify(recovered),
    );
    const lines = existsSync(outFile)
      ? readFileSync(outFile, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
      : [];
    expect(
      JSON.stringify(lines) ===
        JSON.stringify(['FIRED host1 cpu 95 1', 'RECOVERED host1 cpu 10 1']),
      'test 38: the file has exactly "FIRED host1 cpu 95 1" and "RECOVERED host1 cpu 10 1"',
      JSON.stringify(lines),
    );
    const textLines = existsSync(textFile)
      ? readFileSync(textFile, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
      : [];
    expect(
      JSON.stringify(textLines) ===
        JSON.stringify([`FIRED msg ${NON_ASCII}`, 'RECOVERED msg all good']),
      `non-ASCII: the Perl server ran c's action with ${JSON.stringify(NON_ASCII)} as _data_`,
      JSON.stringify(textLines),
    );
    const bFired = of(b, 'alert_fired');
    expect(
      bFired.length === 1 &&
        bFired[0]?.['evento'] === safeInput('host1 load generated an event alert (95)') &&
        Number(bFired[0]['criticity']) === 4 &&
        bFired[0]['source'] === 'pandora',
      'test 39: Monitoring Event alert_fired "host1 load generated an event alert (95)", criticity 4, source pandora',
      JSON.stringify(bFired),
    );
    const bCeased = of(b, 'alert_ceased');
    expect(
      bCeased.length === 1 &&
        bCeased[0]?.['evento'] === safeInput('RECOVERED: host1 load generated event alert (10)'),
      'test 39: Monitoring Event alert_ceased "RECOVERED: host1 load generated event alert (10)"',
      JSON.stringify(bCeased),
    );
    expect(
      !events.some((e) => String(e['evento']).startsWith(safeInput('fired (Critical condition)'))),
      'test 39: no generic "fired (Critical condition) …" event',
    );
    const log = [perlOut]
      .concat(
        ['pandora_server.log', 'pandora_server.error']
          .map((f) => join(tmp.path, f))
          .filter(existsSync)
          .map((f) => readFileSync(f, 'utf8')),
      )
      .join('\n');
    const rejected = log
      .split('\n')
      .filter((l) => /Invalid alert queued|Executing alert|Executing invalid alert/.test(l));
    expect(
      rejected.length === 0,
      'the Perl server decoded every row (no "Invalid alert queued")',
      rejected.join(' | '),
    );
    if (results.some((r) => !r.ok)) console.log(`Perl server output and logs:\n${log}`);
  } finally {
    for (const cleanup of cleanups.reverse())
      await cleanup().catch((err: unknown) => {
        console.error(err);
      });
    if (keep) console.log(`kept database ${db.name} and ${tmp.path}`);
    else {
      await db.drop();
      tmp.cleanup();
    }
    await db.pool.end().catch(() => undefined);
  }
  const failed = results.filter((r) => !r.ok).length;
  console.log(failed === 0 ? `PASS all ${results.length}` : `FAIL ${failed} of ${results.length}`);
  process.exitCode = failed === 0 ? 0 : 1;
}

await main();
