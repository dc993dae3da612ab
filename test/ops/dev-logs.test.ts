import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { stdoutLogFormat } from '../../src/core/log.js';
import { readyMessage } from '../../src/serve/index.js';
import { createTestDatabase, testDbServer } from '../helpers/db.js';
import { freePort } from '../helpers/net.js';
import { waitUntil } from '../helpers/serve-child.js';
import { teardown } from '../helpers/teardown.js';
import { tempDir } from '../helpers/tmp.js';

// `npm run dev` as a newcomer sees it (issue 14): on a terminal the log is Pandora's text layout,
// piped it stays JSON lines, `log_format` overrides both, and one line says it is ready and
// where. The terminal is a real pseudo-terminal (`script` from util-linux).

const TEXT_LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \[V\d+\] /;

interface DevRun {
  readonly lines: string[];
  readonly port: number;
  readonly httpPort: number;
  readonly incoming: string;
  readonly dbName: string;
}

/** `npm run dev` with a test database, under a pseudo-terminal or piped; stopped by SIGTERM. */
async function runDev(
  t: Parameters<typeof teardown>[0],
  how: { tty: boolean; extra?: readonly string[] },
): Promise<DevRun> {
  const cleanup = teardown(t);
  const db = await createTestDatabase('ti_dev');
  cleanup(() => db.drop());
  const tmp = tempDir('ti-dev-');
  cleanup(() => {
    tmp.cleanup();
  });
  const server = testDbServer();
  const incoming = join(tmp.path, 'data_in');
  mkdirSync(incoming);
  const pidFile = join(tmp.path, 'serve.pid');
  const [port, httpPort] = [await freePort(), await freePort()];
  const args = [
    'run',
    'dev',
    '--',
    ...['--dbhost', server.host, '--dbport', String(server.port), '--dbuser', server.user],
    ...['--dbname', db.name, '--incomingdir', incoming, '--dataserver_threads', '0'],
    ...['--tentacle-port', String(port), '--http-port', String(httpPort), '-P', pidFile],
    ...(how.extra ?? []),
  ];
  // A state folder of our own: dev.sh's exit trap stops only what it started, and here that is
  // nothing (MariaDB already answers).
  const env = { ...process.env, SERVICES_STATE_DIR: join(tmp.path, 'services') };
  const child = how.tty
    ? spawn('script', ['-qec', ['npm', ...args].join(' '), '/dev/null'], { env })
    : spawn('npm', args, { env });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = once(child, 'exit');
  try {
    await waitUntil(
      () => {
        if (child.exitCode !== null) throw new Error(`dev exited: ${out}`);
        return out.includes('tentacle-ingest serving') && existsSync(pidFile);
      },
      90_000,
      'npm run dev to be ready',
    );
  } finally {
    // serve drains on SIGTERM and exits; dev.sh and script follow it.
    if (existsSync(pidFile)) process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGTERM');
    else child.kill('SIGKILL');
    await exited;
  }
  const lines = out.replace(/\r/g, '').split('\n');
  return { lines, port, httpPort, incoming, dbName: db.name };
}

function readyLine(run: DevRun): string {
  return `tentacle-ingest serving: ready, Tentacle on 127.0.0.1:${String(run.port)}, HTTP on http://127.0.0.1:${String(run.httpPort)}, database ${testDbServer().user}@${testDbServer().host}:${String(testDbServer().port)}/${run.dbName}, spool ${run.incoming}`;
}

/** The logger's lines only: npm's banner and dev.sh's [services] lines are not ours. */
const logLines = (run: DevRun): string[] =>
  run.lines.filter((l) => TEXT_LINE.test(l) || l.startsWith('{'));

test('stdout layout: text on a terminal, JSON when piped, log_format decides when set', () => {
  assert.equal(stdoutLogFormat(undefined, true), 'text');
  assert.equal(stdoutLogFormat(undefined, false), 'json');
  assert.equal(stdoutLogFormat('json', true), 'json');
  assert.equal(stdoutLogFormat('text', false), 'text');
});

test(
  'npm run dev on a terminal: Pandora text lines and one ready line naming where',
  { timeout: 180_000 },
  async (t) => {
    const run = await runDev(t, { tty: true });
    const lines = logLines(run);
    assert.ok(lines.length >= 3, run.lines.join('\n'));
    for (const line of lines) assert.match(line, TEXT_LINE, 'no JSON line on a terminal');
    const ready = lines.filter((l) => l.includes('tentacle-ingest serving'));
    assert.equal(ready.length, 1, 'one ready line');
    assert.ok(ready[0]?.endsWith(`[V3] ${readyLine(run)}`), ready[0]);
    assert.ok(
      lines.some((l) => / \[V3\] stopped$/.test(l)),
      'the stop is logged as text too',
    );
  },
);

test(
  'npm run dev piped: JSON lines with the same ready message',
  { timeout: 180_000 },
  async (t) => {
    const run = await runDev(t, { tty: false });
    const lines = logLines(run);
    assert.ok(lines.length >= 3, run.lines.join('\n'));
    const records = lines.map((l) => {
      assert.ok(l.startsWith('{'), `JSON when piped: ${l}`);
      return JSON.parse(l) as { msg: string; level: number };
    });
    const ready = records.filter((r) => r.msg.startsWith('tentacle-ingest serving'));
    assert.equal(ready.length, 1);
    assert.equal(ready[0]?.msg, readyLine(run));
  },
);

test('log_format json keeps JSON lines on a terminal', { timeout: 180_000 }, async (t) => {
  const run = await runDev(t, { tty: true, extra: ['--log-format', 'json'] });
  const lines = logLines(run);
  assert.ok(lines.length >= 3, run.lines.join('\n'));
  for (const line of lines) assert.ok(line.startsWith('{'), `JSON as asked: ${line}`);
});

test('the ready line with the listener off, IPv6 addresses and the dataserver off', () => {
  assert.equal(
    readyMessage({
      tentacle: [],
      http: { host: '::1', port: 8080 },
      db: { user: 'pandora', host: 'db.example', port: 3306, database: 'pandora' },
      incomingDir: '/var/spool/pandora/data_in',
      dataserver: true,
    }),
    'tentacle-ingest serving: ready, Tentacle listener off, HTTP on http://[::1]:8080, database pandora@db.example:3306/pandora, spool /var/spool/pandora/data_in',
  );
  assert.equal(
    readyMessage({
      tentacle: [
        { address: '::', port: 41121 },
        { address: '127.0.0.1', port: 41121 },
      ],
      db: { user: 'root', host: '127.0.0.1', port: 3306, database: 'pandora' },
      incomingDir: './data_in',
      dataserver: false,
    }),
    'tentacle-ingest serving: ready, Tentacle on [::]:41121, 127.0.0.1:41121, HTTP off, database root@127.0.0.1:3306/pandora, spool ./data_in (dataserver off)',
  );
});
