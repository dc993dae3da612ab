// The reference tentacle_client's observable behaviour, against real servers of ours on
// loopback: options, [log]/[err] lines, exit codes, several files per session, first rejection
// stops, get mode into the working folder, -z, password, TLS with and without a client cert.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runTentacleClient } from '../../src/cli/tentacle-client.js';
import {
  captureIo,
  filesIn,
  makeCerts,
  refusedPort,
  startTentacle,
  writeFiles,
} from '../agent/helpers.js';
import { tempDir } from '../helpers/tmp.js';

function workDir(t: { after(fn: () => unknown): void }): string {
  const dir = tempDir('ti-cli-');
  t.after(() => {
    dir.cleanup();
  });
  return dir.path;
}

test('sends several files in one session under their base names; -v [log] lines; exit 0', async (t) => {
  const srv = await startTentacle(t);
  const cwd = workDir(t);
  writeFiles(cwd, { 'a.data': 'hello', 'b.data': 'second file\n' });
  const io = captureIo(cwd);
  const code = await runTentacleClient(
    ['-v', '-a', '127.0.0.1', '-p', String(srv.port), 'a.data', join(cwd, 'b.data')],
    io,
  );
  assert.equal(code, 0);
  assert.deepEqual(io.stdout, [
    `[log] Connected to 127.0.0.1 port ${srv.port}`,
    "[log] Request to send file 'a.data' size 5b",
    '[log] Server responded SEND OK',
    '[log] File sent',
    "[log] Request to send file 'b.data' size 12b",
    '[log] Server responded SEND OK',
    '[log] File sent',
  ]);
  assert.deepEqual(io.stderr, []);
  assert.deepEqual(filesIn(srv.dir), { 'a.data': 'hello', 'b.data': 'second file\n' });
  assert.deepEqual(srv.stored, ['a.data', 'b.data']);
});

test('first rejection stops the session: [err] line, exit 1, later files not sent', async (t) => {
  const srv = await startTentacle(t);
  writeFiles(srv.dir, { 'b.data': 'old' });
  const cwd = workDir(t);
  writeFiles(cwd, { 'a.data': 'A', 'b.data': 'new', 'c.data': 'C' });
  const io = captureIo(cwd);
  const code = await runTentacleClient(['-p', String(srv.port), 'a.data', 'b.data', 'c.data'], io);
  assert.equal(code, 1);
  assert.deepEqual(io.stderr, ['[err] Server responded SEND ERR (file already exists).']);
  assert.deepEqual(io.stdout, []);
  assert.deepEqual(filesIn(srv.dir), { 'a.data': 'A', 'b.data': 'old' });
});

test('-q hides [err] but not the exit code; an empty file is refused as too big', async (t) => {
  const srv = await startTentacle(t);
  const cwd = workDir(t);
  writeFiles(cwd, { 'empty.data': '' });
  const quiet = captureIo(cwd);
  assert.equal(await runTentacleClient(['-q', '-p', String(srv.port), 'empty.data'], quiet), 1);
  assert.deepEqual(quiet.stderr, []);
  const loud = captureIo(cwd);
  assert.equal(await runTentacleClient(['-p', String(srv.port), 'empty.data'], loud), 1);
  assert.deepEqual(loud.stderr, ['[err] Server responded SEND ERR (file is too big).']);
});

test('"No files to send.", missing file, bad options, help: exit 1 with the reference text', async (t) => {
  const srv = await startTentacle(t);
  const cwd = workDir(t);
  const cases: [string[], string][] = [
    [['-p', String(srv.port)], '[err] No files to send.'],
    [['-p', String(srv.port), 'nope.data'], "[err] File 'nope.data' does not exist."],
    [['-p', '0', 'x'], '[err] Port 0 is not valid.'],
    [['-a', 'bad_host!', 'x'], '[err] Address bad_host! is not valid.'],
    [['-t', '0', 'x'], '[err] Invalid timeout for network operations.'],
    [['-k', 'key.pem', 'x'], '[err] Flag -e must be set to use a private key file.'],
    [['-e', 'nope.pem', 'x'], '[err] File nope.pem does not exist.'],
    [['-c', '-e', 'nope.pem', 'x'], '[err] Flags -c and -e can not be used at the same time.'],
  ];
  for (const [argv, line] of cases) {
    const io = captureIo(cwd);
    assert.equal(await runTentacleClient(argv, io), 1, argv.join(' '));
    assert.deepEqual(io.stderr, [line], argv.join(' '));
  }
  const help = captureIo(cwd);
  assert.equal(await runTentacleClient(['-h'], help), 1);
  assert.match(help.stdout.join('\n'), /Usage: tentacle-client \[options\] \[file\]/);
  const unknown = captureIo(cwd);
  assert.equal(await runTentacleClient(['-j', 'x'], unknown), 1);
  assert.deepEqual(unknown.stderr, ['Unknown option: j']);
});

test('connection refused: the reference error line, exit 1', async (t) => {
  const port = await refusedPort();
  const cwd = workDir(t);
  writeFiles(cwd, { 'a.data': 'x' });
  const io = captureIo(cwd);
  assert.equal(await runTentacleClient(['-p', String(port), 'a.data'], io), 1);
  assert.deepEqual(io.stderr, [
    `[err] Cannot connect to 127.0.0.1 on port ${port}: Connection refused.`,
  ]);
});

test('get mode writes into the working folder; a missing name is an [err], exit 1', async (t) => {
  // Files in the storage folder itself: served as the reference does (recv_any_file).
  const srv = await startTentacle(t, { recvAnyFile: true });
  writeFiles(srv.dir, { 'conf.data': 'configuration', 'z1.data': 'compressed please' });
  const cwd = workDir(t);
  const io = captureIo(cwd);
  assert.equal(
    await runTentacleClient(
      ['-v', '-g', '-b', '127.0.0.1', '-p', String(srv.port), 'conf.data'],
      io,
    ),
    0,
  );
  assert.equal(readFileSync(join(cwd, 'conf.data'), 'utf8'), 'configuration');
  assert.ok(io.stdout.includes("[log] Received file 'conf.data'"));
  const zipped = captureIo(cwd);
  assert.equal(await runTentacleClient(['-g', '-z', '-p', String(srv.port), 'z1.data'], zipped), 0);
  assert.equal(readFileSync(join(cwd, 'z1.data'), 'utf8'), 'compressed please');
  const missing = captureIo(cwd);
  assert.equal(await runTentacleClient(['-g', '-p', String(srv.port), 'nope.data'], missing), 1);
  assert.deepEqual(missing.stderr, ['[err] Server responded RECV ERR (file does not exist).']);
});

test('-z sends a ZIP with ZSEND; the server stores the original bytes', async (t) => {
  const srv = await startTentacle(t);
  const cwd = workDir(t);
  const body = '<agent_data>'.padEnd(5000, 'x') + '</agent_data>';
  writeFiles(cwd, { 'z.data': body });
  const io = captureIo(cwd);
  assert.equal(await runTentacleClient(['-v', '-z', '-p', String(srv.port), 'z.data'], io), 0);
  assert.match(
    io.stdout[1] ?? '',
    /^\[log\] Request to send file 'z.data' size \d+b \(compressed\)$/,
  );
  assert.equal(io.stdout[2], '[log] Server responded ZSEND OK');
  assert.equal(readFileSync(join(srv.dir, 'z.data'), 'utf8'), body);
});

test('password: right one sends; wrong one is dropped: "unexpectedly closed", exit 1', async (t) => {
  const srv = await startTentacle(t, { password: 'secret' });
  const cwd = workDir(t);
  writeFiles(cwd, { 'p.data': 'pw' });
  const good = captureIo(cwd);
  assert.equal(
    await runTentacleClient(['-x', 'secret', '-p', String(srv.port), 'p.data'], good),
    0,
  );
  assert.deepEqual(filesIn(srv.dir), { 'p.data': 'pw' });
  const bad = captureIo(cwd);
  assert.equal(await runTentacleClient(['-x', 'wrong', '-p', String(srv.port), 'p.data'], bad), 1);
  assert.deepEqual(bad.stderr, ['[err] Connection from 127.0.0.1 unexpectedly closed.']);
});

test('TLS: -c without a certificate; -e/-k/-f with one; -c refused where a cert is required', async (t) => {
  const certs = makeCerts(t);
  const plainTls = await startTentacle(t, {
    tls: { cert: certs.serverCert, key: certs.serverKey },
  });
  const mutual = await startTentacle(t, {
    tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca },
  });
  const cwd = workDir(t);
  writeFiles(cwd, { 't.data': 'over tls' });

  const noCert = captureIo(cwd);
  assert.equal(await runTentacleClient(['-c', '-p', String(plainTls.port), 't.data'], noCert), 0);
  assert.deepEqual(filesIn(plainTls.dir), { 't.data': 'over tls' });

  const withCert = captureIo(cwd);
  const certArgs = ['-e', certs.clientCert, '-k', certs.clientKey, '-f', certs.ca];
  assert.equal(
    await runTentacleClient([...certArgs, '-p', String(mutual.port), 't.data'], withCert),
    0,
    withCert.stderr.join('\n'),
  );
  assert.deepEqual(filesIn(mutual.dir), { 't.data': 'over tls' });

  const refused = captureIo(cwd);
  writeFileSync(join(cwd, 'u.data'), 'nope');
  assert.equal(await runTentacleClient(['-c', '-p', String(mutual.port), 'u.data'], refused), 1);
  assert.equal(refused.stderr.length, 1);
  assert.match(refused.stderr[0] ?? '', /^\[err\] /);
  assert.equal(filesIn(mutual.dir)['u.data'], undefined);

  // -f verifies the server: a CA that did not sign it fails the handshake.
  const other = makeCerts(t);
  const wrongCa = captureIo(cwd);
  assert.equal(
    await runTentacleClient(
      [
        '-e',
        certs.clientCert,
        '-k',
        certs.clientKey,
        '-f',
        other.ca,
        '-p',
        String(plainTls.port),
        'u.data',
      ],
      wrongCa,
    ),
    1,
  );
  assert.match(wrongCa.stderr[0] ?? '', /^\[err\] SSL error: /);
});

test('the installed entry point: a real process, exit codes 0 and 1', async (t) => {
  const srv = await startTentacle(t);
  const cwd = workDir(t);
  writeFiles(cwd, { 'proc.data': 'from a process' });
  const entry = join(import.meta.dirname, '../../src/cli/tentacle-client.ts');
  // Asynchronous: the server runs in this process and must keep answering.
  const run = (args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', import.meta.resolve('tsx'), entry, ...args],
        { cwd, encoding: 'utf8' },
        (err, stdout, stderr) => {
          resolve({
            status: err ? (typeof err.code === 'number' ? err.code : null) : 0,
            stdout,
            stderr,
          });
        },
      );
    });
  const ok = await run(['-v', '-p', String(srv.port), 'proc.data']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /\[log\] File sent\n$/);
  const fail = await run(['-p', String(srv.port), 'proc.data']);
  assert.equal(fail.status, 1);
  assert.equal(fail.stderr, '[err] Server responded SEND ERR (file already exists).\n');
});
