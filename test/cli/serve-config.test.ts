// `tentacle-ingest serve` as an operator meets it: the shipped pandora_server.conf starts with
// one list of ignored keys and nothing else surprising, -P writes and removes the PID file, the
// log file holds Pandora's layout and its last line, `dataserver 0` runs the listener only, a
// missing incomingdir and bad values stop the start, and --check-config answers 0/1 after
// checking the database login, the folders and the TLS files.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { testDbServer } from '../helpers/db.js';
import { freePort } from '../helpers/net.js';
import { tempDir } from '../helpers/tmp.js';

const MAIN = ['--import', 'tsx', 'src/main.ts'];
const SHIPPED = 'test/fixtures/conf/pandora_server.shipped.conf';
const STARTUP_DEADLINE_MS = 120_000;

/** The keys of the shipped file that serve names as ignored (conf-keys.md, active ones). */
const SHIPPED_IGNORED = [
  'async_recovery',
  'block_size',
  'braa',
  'braa_retries',
  'claim_back_snmp_modules',
  'critical_on_error',
  'dataserver_smart_queue',
  'discovery_threads',
  'discoveryserver',
  'dynamic_updates',
  'enc_dir',
  'errorlog_file',
  'event_expiry_time',
  'event_window',
  'eventserver',
  'eventserver_threads',
  'export_threads',
  'exportserver',
  'fping',
  'fsnmp',
  'global_alert_timeout',
  'ha_interval',
  'ha_mode',
  'icmp_checks',
  'icmp_packets',
  'icmp_threads',
  'icmpserver',
  'inventory_threads',
  'inventoryserver',
  'log_window',
  'logserver',
  'logserver_threads',
  'madeserver',
  'madeserver_autofit',
  'madeserver_backend',
  'madeserver_interval',
  'madeserver_max_history',
  'madeserver_min_train',
  'madeserver_path',
  'madeserver_sensitivity',
  'madeserver_threads',
  'mail_in_separate',
  'multiprocess',
  'ncm_ssh_utility',
  'ncmserver_threads',
  'netflowserver',
  'netflowserver_threads',
  'network_threads',
  'network_timeout',
  'networkserver',
  'nmap',
  'nmap_timing_template',
  'plugin_exec',
  'plugin_threads',
  'plugin_timeout',
  'pluginserver',
  'policy_manager',
  'predictionserver',
  'rcmd_timeout',
  'rcmd_timeout_bin',
  'recon_threads',
  'recon_timing_template',
  'remote_config',
  'remote_config_address',
  'restart',
  'restart_delay',
  'self_monitoring',
  'self_monitoring_agent_name',
  'self_monitoring_interval',
  'snmp_checks',
  'snmp_ignore_authfailure',
  'snmp_logfile',
  'snmp_pdu_address',
  'snmp_proc_deadresponse',
  'snmp_storm_protection',
  'snmp_storm_silence_period',
  'snmp_storm_timeout',
  'snmp_threads',
  'snmp_timeout',
  'snmpconsole',
  'snmpconsole_threads',
  'snmpget',
  'snmpserver',
  'ssh_launcher',
  'ssl_verify',
  'syslog_file',
  'syslog_max',
  'syslog_threads',
  'syslogserver',
  'tcp_checks',
  'tcp_timeout',
  'tentacle_service_watchdog',
  'thread_log',
  'translate_enterprise_strings',
  'translate_variable_bindings',
  'unknown_block_size',
  'unknown_updates',
  'warmup_unknown_interval',
  'web_threads',
  'web_timeout',
  'webserver',
  'wmi_client',
  'wmi_threads',
  'wmi_timeout',
  'wmiserver',
  'wuxserver',
];

function ingest(args: string[]) {
  return spawnSync(process.execPath, [...MAIN, ...args], { encoding: 'utf8', timeout: 120_000 });
}

/** Flags that point the shipped file at the test's database, folders and a free port. */
async function localFlags(dir: string, dbName: string): Promise<string[]> {
  const db = testDbServer();
  const incoming = join(dir, 'data_in');
  mkdirSync(incoming, { recursive: true });
  return [
    ...['--incomingdir', incoming, '--dbname', dbName, '--dbhost', db.host],
    ...['--dbport', String(db.port), '--dbuser', db.user, '--dbpass', db.password],
    ...['--tentacle-port', String(await freePort())],
    ...['--servername', `ti-conf-${randomBytes(4).toString('hex')}`],
  ];
}

async function dropDatabase(name: string): Promise<void> {
  const admin = await mysql.createConnection({ ...testDbServer() });
  try {
    await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await admin.end();
  }
}

/** Waits until `path` holds a line matching `pattern` (the child logs asynchronously). */
async function waitForLine(path: string, pattern: RegExp, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + STARTUP_DEADLINE_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`serve exited with ${String(child.exitCode)}`);
    if (existsSync(path) && pattern.test(readFileSync(path, 'utf8'))) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no line ${String(pattern)} in ${path}`);
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  return code;
}

test('the shipped pandora_server.conf: one list of ignored keys, nothing else surprising; -P and log_file', async (t) => {
  const tmp = tempDir('ti-shipped-');
  const dbName = `ti_test_conf_${randomBytes(4).toString('hex')}`;
  const logFile = join(tmp.path, 'log', 'pandora_server.log');
  const pidFile = join(tmp.path, 'serve.pid');
  const args = [SHIPPED, '-P', pidFile, '--log-file', logFile];
  const child = spawn(
    process.execPath,
    [...MAIN, ...args, ...(await localFlags(tmp.path, dbName))],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  t.after(async () => {
    await stop(child);
    await dropDatabase(dbName);
    tmp.cleanup();
  });
  await waitForLine(logFile, /\[V3\] tentacle-ingest serving/, child);
  assert.equal(readFileSync(pidFile, 'utf8'), `${String(child.pid)}\n`);

  const lines = readFileSync(logFile, 'utf8').trimEnd().split('\n');
  for (const line of lines)
    assert.match(line, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ti-conf-\w+ \[V\d+\] /);
  const warnings = lines.filter((line) => / \[V[01]\] /.test(line));
  assert.equal(warnings.length, 1, warnings.join('\n'));
  const warning = warnings[0] ?? '';
  assert.match(warning, / \[V1\] pandora_server\.conf: 106 configuration keys ignored\. /);
  for (const key of SHIPPED_IGNORED) assert.match(warning, new RegExp(`[ .]${key}[,:]`), key);
  assert.equal(SHIPPED_IGNORED.length, 106);
  assert.equal(stderr, '');

  assert.equal(await stop(child), 0);
  assert.equal(existsSync(pidFile), false, 'the PID file is removed at exit');
  // The last lines of a graceful stop reach the file (closeLogFiles waits for them).
  assert.match(readFileSync(logFile, 'utf8').trimEnd().split('\n').at(-1) ?? '', /\[V3\] stopped$/);
});

/** One Tentacle SEND on a raw socket; resolves with the server's replies. */
async function sendFile(port: number, name: string, body: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let replies = '';
  socket.on('data', (chunk: Buffer) => {
    replies += chunk.toString('latin1');
    if (replies === 'SEND OK\n') socket.write(body);
    if (replies === 'SEND OK\nSEND OK\n') socket.end('QUIT\n');
  });
  socket.write(`SEND <${name}> SIZE ${String(body.length)}\n`);
  await once(socket, 'close');
  return replies;
}

test('dataserver 0: the listener stores files and nothing consumes them', async (t) => {
  const tmp = tempDir('ti-nods-');
  const dbName = `ti_test_conf_${randomBytes(4).toString('hex')}`;
  const conf = join(tmp.path, 'pandora_server.conf');
  writeFileSync(conf, 'dataserver 0\nserver_threshold 1\n');
  const logFile = join(tmp.path, 'serve.log');
  const flags = await localFlags(tmp.path, dbName);
  const port = Number(flags[flags.indexOf('--tentacle-port') + 1]);
  const child = spawn(process.execPath, [...MAIN, 'serve', conf, '--log-file', logFile, ...flags], {
    stdio: 'ignore',
  });
  t.after(async () => {
    await stop(child);
    await dropDatabase(dbName);
    tmp.cleanup();
  });
  await waitForLine(
    logFile,
    /tentacle-ingest serving: ready, .*spool .*\(dataserver off\)$/m,
    child,
  );
  assert.equal(await sendFile(port, 'agent1.data', '<agent_data/>'), 'SEND OK\nSEND OK\n');
  assert.equal(await stop(child), 0);
  // The data file waits in the folder (beside the remote-configuration folders serve creates).
  const stored = readdirSync(join(tmp.path, 'data_in'), { withFileTypes: true });
  assert.deepEqual(
    stored.filter((e) => e.isFile()).map((e) => e.name),
    ['agent1.data'],
  );
  // Neither started nor stopped a dataserver, and no error on the way.
  assert.doesNotMatch(
    readFileSync(logFile, 'utf8'),
    /dataserver started|dataserver stopped|\[V0\]/,
  );
});

test('a missing incomingdir in a configuration file stops the start; bad values name file:line', (t) => {
  const tmp = tempDir('ti-badconf-');
  t.after(() => {
    tmp.cleanup();
  });
  const conf = join(tmp.path, 'pandora_server.conf');
  writeFileSync(conf, `incomingdir ${join(tmp.path, 'nope')}\n`);
  const missing = ingest(['serve', conf]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /incomingdir .*\/nope does not exist/);
  assert.equal(existsSync(join(tmp.path, 'nope')), false);

  writeFileSync(conf, `incomingdir ${tmp.path}\n# comment\ndataserver yes\n`);
  const bad = ingest(['serve', conf]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, new RegExp(`${conf}:3: dataserver must be 1 or 0, got "yes"`));
  const checked = ingest(['serve', conf, '--check-config']);
  assert.equal(checked.status, 1);
  assert.match(checked.stderr, /dataserver must be 1 or 0/);
});

function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'],
      ...['-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${name}`],
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

test('serve --check-config: database login, folders and TLS files checked; secrets masked; 0/1', async (t) => {
  const tmp = tempDir('ti-check-');
  const server = testDbServer();
  const user = `ti_chk_${randomBytes(4).toString('hex')}`;
  const password = `pw-${randomBytes(6).toString('hex')}`;
  const admin = await mysql.createConnection({ ...server });
  await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
  t.after(async () => {
    await admin.query(`DROP USER IF EXISTS '${user}'@'%'`);
    await admin.end();
    tmp.cleanup();
  });
  const good = selfSigned(tmp.path, 'good');
  const other = selfSigned(tmp.path, 'other');
  const incoming = join(tmp.path, 'in');
  mkdirSync(incoming);
  const listenerConf = join(tmp.path, 'tentacle_server.conf');
  const conf = join(tmp.path, 'pandora_server.conf');
  const write = (o: { dbpass: string; incomingdir: string; key: string }): void => {
    writeFileSync(listenerConf, `ssl_cert ${good.cert}\nssl_key ${o.key}\ndaemon 1\n`);
    writeFileSync(
      conf,
      [
        `incomingdir ${o.incomingdir}`,
        `dbhost ${server.host}`,
        `dbport ${String(server.port)}`,
        `dbuser ${user}`,
        `dbpass ${o.dbpass}`,
        'dbname ti_check_never_created',
        `tentacle_config ${listenerConf}`,
        'dataserver_thread 4',
        '',
      ].join('\n'),
    );
  };

  write({ dbpass: password, incomingdir: incoming, key: good.key });
  const ok = ingest(['serve', conf, '--check-config']);
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, new RegExp(`ok {4}database login ${user}@`));
  assert.match(ok.stdout, /ok {4}incomingdir .* exists and is writable/);
  assert.match(ok.stdout, /ok {4}TLS files readable; certificate and key match/);
  assert.match(ok.stdout, /warn {2}.*dataserver_thread ignored; did you mean dataserver_threads\?/);
  assert.match(ok.stdout, /warn {2}tentacle_config: 1 configuration keys ignored\. daemon: /);
  assert.match(ok.stdout, /^ {2}dbpass \*{8}$/m);
  assert.match(ok.stdout, /^ {2}dataserver 1$/m);
  assert.doesNotMatch(ok.stdout, new RegExp(password));
  assert.match(ok.stdout, /configuration OK\n$/);

  write({ dbpass: 'wrong', incomingdir: join(tmp.path, 'missing'), key: other.key });
  const bad = ingest(['serve', conf, '--check-config']);
  assert.equal(bad.status, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout, new RegExp(`FAIL {2}database login ${user}@.*Access denied`));
  assert.match(bad.stdout, /FAIL {2}incomingdir .*\/missing does not exist/);
  assert.match(bad.stdout, /FAIL {2}TLS certificate and key: .*(mismatch|does not match)/i);
  assert.match(bad.stdout, /configuration has 3 problem\(s\)\n$/);
  assert.equal(existsSync(join(tmp.path, 'missing')), false, 'a check creates nothing');
});
