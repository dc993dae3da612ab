/**
 * The `tentacle-server` command line (spec §9): Perl-style short options, the config file and
 * its precedence, exit codes, quiet mode without the reference's auth bypass (case 39), signals,
 * daemon mode. Runs the real entry point as a separate process.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseConfText } from '../../src/core/conf-file.js';
import { resolveTentacleSettings, serverOptionsFromSettings } from '../../src/tentacle/index.js';
import { parseServerArgs } from '../../src/tentacle/server-args.js';
import { freePort } from '../helpers/net.js';
import { passLine, RawPeer, runSteps } from './fixtures/harness.js';

const CLI = join(import.meta.dirname, '../../src/cli/tentacle-server.ts');

describe('command-line parsing', () => {
  test('short options as Getopt::Std reads them: bundles, attached values, -v/-V', () => {
    const a = parseServerArgs(['-oI', '-p41999', '-s', '/spool', '-c', '5', '-x', 'pwd', '-v']);
    assert.deepEqual(Object.fromEntries(a.flags), {
      overwrite: '1',
      insecure: '1',
      port: '41999',
      directory: '/spool',
      max_connections: '5',
      password: 'pwd',
      verbose: '1',
    });
    assert.equal(parseServerArgs(['-v', '-V']).flags.get('verbose'), '2');
    assert.equal(parseServerArgs(['-F', 'x.conf']).configFile, 'x.conf');
    assert.equal(parseServerArgs(['-qF/etc/t.conf']).configFile, '/etc/t.conf');
    assert.equal(parseServerArgs(['-h']).help, true);
    assert.equal(parseServerArgs(['-i', '.*\\.conf:conf']).flags.get('filters'), '.*\\.conf:conf');
  });

  test('long extension options', () => {
    const a = parseServerArgs([
      '--sync=none',
      '--transfer-timeout',
      '30',
      '--no-overwrite',
      '--file-mode=0600',
    ]);
    assert.deepEqual(Object.fromEntries(a.flags), {
      sync: 'none',
      transfer_timeout: '30',
      overwrite: '0',
      file_mode: '0600',
    });
  });

  test('unknown options, missing values and leftover arguments are usage errors', () => {
    assert.throws(() => parseServerArgs(['-y']), /Unknown option: y/);
    assert.throws(() => parseServerArgs(['-p']), /needs a value/);
    assert.throws(() => parseServerArgs(['-s', '/x', 'extra']), /unexpected argument/);
    assert.throws(() => parseServerArgs(['--nope']), /unknown option --nope/);
  });

  test('config file: command line wins; trailing whitespace and CR trimmed; booleans 1 or 0', () => {
    // A switch that is neither 1 nor 0 is an error naming file:line (issue 14); the Perl
    // server would read `insecure yes` as off without a word.
    assert.throws(
      () => resolveTentacleSettings({ file: parseConfText('port 1\ninsecure yes\n', 't.conf') }),
      /t\.conf:2: insecure must be 1 or 0, got "yes"/,
    );
    const file = parseConfText(
      [
        'addresses 127.0.0.1',
        'port 41289\r',
        'directory /srv/in',
        'max_size 10 ',
        'overwrite 1',
        'insecure 0',
        'filters .*\\.conf:conf',
        'password secret ',
        '  port 1',
        '# sync none',
      ].join('\n'),
      't.conf',
    );
    const { values } = resolveTentacleSettings({
      file,
      flags: parseServerArgs(['-p', '41300']).flags,
    });
    assert.equal(values.port, 41300);
    assert.equal(values.max_size, 10);
    assert.equal(values.overwrite, true);
    assert.equal(values.insecure, false);
    assert.equal(values.password, 'secret');
    assert.equal(values.sync, 'always');
    const options = serverOptionsFromSettings(values);
    assert.equal(options.directory, '/srv/in');
    assert.equal(options.filters, '.*\\.conf:conf');
    assert.equal(options.fileMode, 0o640);
  });
});

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function runCli(t: TestContext, args: string[], cwd?: string): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(cwd ? { cwd } : {}),
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      resolve(code);
    });
  });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** The pid and port from the server's `started` log line (run with -v and -p 0). */
async function started(read: () => string): Promise<{ pid: number; port: number }> {
  for (let i = 0; i < 100; i++) {
    const line = read()
      .split('\n')
      .filter((l) => l.startsWith('{') && l.endsWith('}'))
      .map((l) => JSON.parse(l) as { event?: string; pid?: number; addresses?: string[] })
      .find((l) => l.event === 'started');
    const port = Number(line?.addresses?.[0]?.split(':').pop());
    if (line?.pid !== undefined && port > 0) return { pid: line.pid, port };
    await sleep(100);
  }
  throw new Error('the server did not log that it started');
}

async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const peer = await RawPeer.connect(port);
      peer.destroy();
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`nothing listens on ${port}`);
}

describe('tentacle-server process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tentacle-cli-'));
  test.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('-h prints the usage and exits 1', async (t) => {
    const run = runCli(t, ['-h']);
    assert.equal(await run.exited, 1);
    assert.match(run.stdout(), /Usage: tentacle-server -s <storage directory>/);
  });

  test('no -s: usage, exit 1; missing folder: exit 2; bad filter: exit 2', async (t) => {
    const noDir = runCli(t, ['-a', '127.0.0.1']);
    assert.equal(await noDir.exited, 1);
    const missing = runCli(t, ['-a', '127.0.0.1', '-s', join(dir, 'missing')]);
    assert.equal(await missing.exited, 2);
    assert.match(missing.stderr(), /does not exist/);
    const badFilter = runCli(t, ['-a', '127.0.0.1', '-s', dir, '-i', '([:x']);
    assert.equal(await badFilter.exited, 2);
    assert.match(badFilter.stderr(), /invalid regex/);
  });

  test('no listener can bind: exit 255 (fail fast, no process listening nowhere)', async (t) => {
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    t.after(() => blocker.close());
    const { port } = blocker.address() as net.AddressInfo;
    const run = runCli(t, ['-a', '127.0.0.1', '-p', String(port), '-s', dir]);
    assert.equal(await run.exited, 255);
    assert.match(run.stderr(), /no listener could be bound/);
  });

  test('case 39: -x with -q: a wrong PASS is dropped (no quiet-mode bypass); SIGTERM exits 0', async (t) => {
    const port = await freePort();
    const run = runCli(t, ['-a', '127.0.0.1', '-p', String(port), '-s', dir, '-x', 'secret', '-q']);
    await waitListening(port);
    const wrong = await RawPeer.connect(port);
    wrong.write('PASS 00000000000000000000000000000000\n');
    await wrong.expectClose();
    const missing = await RawPeer.connect(port);
    missing.write('SEND <q.data> SIZE 1\n');
    await missing.expectClose();
    const right = await RawPeer.connect(port);
    await runSteps(right, [
      { send: passLine('secret') },
      { expect: 'PASS OK\n' },
      { send: 'QUIT\n' },
      { close: true },
    ]);
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0);
  });

  test('-F config file (CRLF) with the command line on top; logs name the peer', async (t) => {
    const conf = join(dir, 't.conf');
    writeFileSync(
      conf,
      [
        'addresses 127.0.0.1',
        'port 1',
        `directory ${dir}`,
        'max_size 10',
        'verbose 1',
        'sync none',
        '',
      ].join('\r\n'),
    );
    const run = runCli(t, ['-F', conf, '-p', '0']);
    const { port } = await started(run.stdout);
    const peer = await RawPeer.connect(port);
    await runSteps(peer, [
      { send: 'SEND <big.data> SIZE 11\n' },
      { expect: 'SEND ERR (file is too big)\n' },
      { send: 'SEND <ok.data> SIZE 10\n' },
      { expect: 'SEND OK\n' },
      { send: '0123456789' },
      { expect: 'SEND OK\n' },
      { send: 'HELLO\n' },
      { close: true },
    ]);
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 0);
    assert.equal(readFileSync(join(dir, 'ok.data'), 'utf8'), '0123456789');
    const lines = run
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const unknown = lines.find((l) => l['reason'] === 'ERR_TENTACLE_UNKNOWN_COMMAND');
    assert.equal(unknown?.['peer'], '127.0.0.1');
    assert.ok(lines.some((l) => l['event'] === 'file_received'));
    assert.ok(lines.some((l) => l['event'] === 'shutdown'));
  });

  test('-d: the parent exits 0 once the background server listens', async (t) => {
    const log = join(dir, 'daemon.log');
    const run = runCli(t, ['-a', '127.0.0.1', '-p', '0', '-s', dir, '-d', '-v', '-l', log]);
    assert.equal(await run.exited, 0, run.stderr());
    const { pid, port } = await started(() => {
      try {
        return readFileSync(log, 'utf8');
      } catch {
        return ''; // not created yet: the log is flushed within a second
      }
    });
    assert.notEqual(pid, run.child.pid, 'the daemon is another process');
    await waitListening(port);
    t.after(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    });
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 50; i++) {
      try {
        process.kill(pid, 0);
        await sleep(100);
      } catch {
        return;
      }
    }
    assert.fail('daemon did not stop on SIGTERM');
  });

  test('-d with a bad setting: the parent reports it and exits non-zero', async (t) => {
    const run = runCli(t, ['-a', '127.0.0.1', '-s', join(dir, 'missing'), '-d']);
    assert.equal(await run.exited, 2);
    assert.match(run.stderr(), /does not exist/);
  });
});
