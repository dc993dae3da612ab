import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { createTestDatabase } from '../helpers/db.js';
import { freePort } from '../helpers/net.js';
import { startServeChild, waitUntil } from '../helpers/serve-child.js';
import { teardown } from '../helpers/teardown.js';
import { tempDir } from '../helpers/tmp.js';

// SIGHUP in serve (issue 14): logrotate moves the log file and sends HUP; the server reopens
// its log, reads its files again, applies the new limit, log level and TLS certificate, names
// what needs a restart, and keeps serving (it used to die on the spot).

function selfSigned(dir: string, cn: string): { cert: string; key: string } {
  const cert = join(dir, `${cn}.crt`);
  const key = join(dir, `${cn}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'pipe' },
  );
  return { cert, key };
}

/** A TLS session to the listener: resolves once the handshake is done, rejects if refused. */
async function tlsConnect(port: number): Promise<tls.TLSSocket> {
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  let received = '';
  socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
    socket.once('close', () => {
      reject(new Error('closed before the handshake'));
    });
  });
  return Object.assign(socket, {
    replies: () => received,
  });
}

async function sendFile(socket: tls.TLSSocket, name: string, body: string): Promise<void> {
  const replies = (): string => (socket as tls.TLSSocket & { replies(): string }).replies();
  const before = replies().length;
  socket.write(`SEND <${name}> SIZE ${String(body.length)}\n`);
  await waitUntil(() => replies().length >= before + 8, 10_000, 'SEND OK');
  socket.write(body);
  await waitUntil(() => replies().length >= before + 16, 10_000, 'the second SEND OK');
  assert.equal(replies().slice(before), 'SEND OK\nSEND OK\n');
}

async function quit(socket: tls.TLSSocket): Promise<void> {
  const closed = once(socket, 'close');
  socket.end('QUIT\n');
  await closed;
}

function subject(socket: tls.TLSSocket): string {
  return String(socket.getPeerCertificate().subject.CN);
}

test(
  'SIGHUP: log reopened, new limit, log level and certificate in effect, restart keys named, still serving',
  { timeout: 240_000 },
  async (t) => {
    const cleanup = teardown(t);
    const db = await createTestDatabase('ti_hup');
    cleanup(() => db.drop());
    const tmp = tempDir('ti-sighup-');
    cleanup(() => {
      tmp.cleanup();
    });
    const incoming = join(tmp.path, 'data_in');
    mkdirSync(incoming);
    const first = selfSigned(tmp.path, 'first');
    const second = selfSigned(tmp.path, 'second');
    const cert = join(tmp.path, 'tentacle.crt');
    const key = join(tmp.path, 'tentacle.key');
    const install = (pair: { cert: string; key: string }) => {
      execFileSync('cp', [pair.cert, cert]);
      execFileSync('cp', [pair.key, key]);
    };
    install(first);
    const tentacleConf = join(tmp.path, 'tentacle_server.conf');
    writeFileSync(
      tentacleConf,
      `ssl_cert ${cert}\nssl_key ${key}\nfirst_byte_timeout 60\ntimeout 30\nsync none\n`,
    );
    const log = join(tmp.path, 'log', 'serve.log');
    const port = await freePort();
    const conf = join(tmp.path, 'pandora_server.conf');
    const writeConf = (perAddress: number, threshold: number, verbosity: number) => {
      writeFileSync(
        conf,
        [
          `incomingdir ${incoming}`,
          `dbname ${db.name}`,
          'servername hup01',
          `log_file ${log}`,
          // JSON lines: the test reads the reload line's fields.
          'log_format json',
          `verbosity ${String(verbosity)}`,
          `tentacle_address 127.0.0.1`,
          `tentacle_port ${String(port)}`,
          `tentacle_config ${tentacleConf}`,
          `tentacle_max_connections_per_address ${String(perAddress)}`,
          `server_threshold ${String(threshold)}`,
          '',
        ].join('\n'),
      );
    };
    writeConf(8, 1, 3);
    const serve = await startServeChild({ args: ['-c', conf], logFiles: [`${log}.1`, log] });
    cleanup(async () => {
      assert.equal(await serve.stop(), 0, serve.stderr());
    });

    const a = await tlsConnect(port);
    assert.equal(subject(a), 'first');
    const b = await tlsConnect(port);
    await quit(b); // two at once are allowed now
    assert.doesNotMatch(serve.logs(), /"event":"quit"/, 'no debug lines at verbosity 3');

    // logrotate: move the file, then HUP. Meanwhile the operator lowered the cap, raised the
    // log level, renewed the certificate and changed a key only a restart applies.
    writeConf(1, 2, 6);
    install(second);
    renameSync(log, `${log}.1`);
    serve.child.kill('SIGHUP');
    await waitUntil(
      () => serve.logs().includes('SIGHUP: configuration reloaded'),
      30_000,
      'the reload line in the reopened log',
    );
    const reloadLine = serve
      .logs()
      .split('\n')
      .find((l) => l.includes('SIGHUP: configuration reloaded'));
    const fields = JSON.parse(reloadLine ?? '{}') as {
      changed: string[];
      restartNeeded: string[];
      logFileReopened: string;
      listener: { applied: string[] };
    };
    assert.deepEqual(fields.changed, ['tentacle_max_connections_per_address', 'verbosity']);
    assert.deepEqual(fields.restartNeeded, ['server_threshold']);
    assert.equal(fields.logFileReopened, log);
    assert.deepEqual(fields.listener.applied.sort(), ['maxConnectionsPerAddress', 'tls']);
    assert.match(
      serve.logs(),
      /"keys":\["server_threshold"\],"msg":"changed keys that take effect only after a restart"/,
    );

    // The new cap: the open session holds the one connection this address may have.
    await assert.rejects(tlsConnect(port));
    await sendFile(a, 'agent1.1709287200.data', '<agent_data/>');
    await quit(a);
    // The renewed certificate for new connections; the server still stores files.
    const c = await tlsConnect(port);
    assert.equal(subject(c), 'second');
    await sendFile(c, 'agent2.1709287200.data', '<agent_data/>');
    await quit(c);
    await waitUntil(
      () => serve.logs().includes('"event":"quit"'),
      10_000,
      'a debug line (verbosity 6)',
    );
    // A configuration that no longer resolves: the reload says why, the server keeps running.
    writeFileSync(conf, `verbosity loud\n`, { flag: 'a' });
    serve.child.kill('SIGHUP');
    await waitUntil(
      () => serve.logs().includes('reload partly failed'),
      30_000,
      'the failed reload line',
    );
    assert.match(
      serve.logs(),
      /"failed":\{"settings":"[^"]*pandora_server\.conf:12: verbosity must be an integer/,
    );
    const d = await tlsConnect(port);
    await sendFile(d, 'agent3.1709287200.data', '<agent_data/>');
    await quit(d);
    assert.equal(serve.child.exitCode, null, 'still running');
  },
);
