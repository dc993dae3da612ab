// Agent-side delivery (ha.md §1, scenarios §5.1) with real servers of ours on loopback ports:
// on_error and always, refused / black-holed / refusing primaries, the ordered buffer with the
// reference's limits, address lists, and the --config entry of the CLI.
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { runTentacleClient } from '../../src/cli/tentacle-client.js';
import { ConfigError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/log.js';
import { runDeliveryCycle } from '../../src/agent/cycle.js';
import { createTargetLink } from '../../src/agent/link.js';
import {
  captureIo,
  makeCerts,
  filesIn,
  refusedPort,
  startBlackHole,
  startDownTentacle,
  startTentacle,
  deliveryConfig,
  folder,
  pairConfig,
} from './helpers.js';

const AGENT = 'b1946ac92492d2347c6235b4d2611184'; // md5hex of the agent name

/** A logger whose lines a test can read. */
function recordingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write: (line: string) => {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  );
  return { logger, lines };
}

/** Writes the agent's next data file (names sort by their epoch number). */
function agentFile(dir: string, epoch: number, body = `<agent_data seq="${epoch}"/>`): string {
  const path = join(dir, `${AGENT}.${epoch}.data`);
  writeFileSync(path, body);
  return path;
}

const name = (epoch: number): string => `${AGENT}.${epoch}.data`;

test('on_error, both up: the file lands on the primary only; the secondary is never contacted', async (t) => {
  const primary = await startTentacle(t);
  const secondary = await startBlackHole(t);
  const work = folder(t);
  const cfg = pairConfig('on_error', primary.port, secondary.port, {
    temporal: folder(t),
    xml_buffer: 1,
  });
  const report = await runDeliveryCycle(cfg, [agentFile(work, 1700000001)], recording());
  assert.equal(report.files[0]?.outcome, 'delivered');
  assert.deepEqual(primary.stored, [name(1700000001)]);
  assert.equal(secondary.accepted(), 0);
  assert.deepEqual(readdirSync(cfg.temporal), []);
});

function recording(): { logger: Logger } {
  return { logger: recordingLogger().logger };
}

test('on_error: primary refused, black-holed or refusing → the file lands on the secondary only', async (t) => {
  const secondary = await startTentacle(t);
  const hole = await startBlackHole(t);
  const refusing = await startTentacle(t);
  const work = folder(t);
  const primaries: [string, number, () => void][] = [
    ['refused', await refusedPort(), () => undefined],
    ['black-holed', hole.port, () => undefined],
    [
      'refusing',
      refusing.port,
      () => {
        writeFileSync(join(refusing.dir, name(1700000003)), 'already here');
      },
    ],
  ];
  let epoch = 1700000001;
  for (const [label, port, prepare] of primaries) {
    prepare();
    const cfg = pairConfig('on_error', port, secondary.port, {
      transfer_timeout: 1,
      temporal: folder(t),
      xml_buffer: 1,
    });
    const started = Date.now();
    const report = await runDeliveryCycle(cfg, [agentFile(work, epoch)], recording());
    const elapsed = Date.now() - started;
    assert.equal(report.files[0]?.outcome, 'delivered', label);
    assert.deepEqual(report.files[0].lanes[0], {
      lane: 'primary',
      result: 'delivered',
      target: 'secondary',
    });
    assert.ok(secondary.stored.includes(name(epoch)), label);
    if (label === 'black-holed') {
      // Aborted at transfer_timeout (1 s), and the connection really closed.
      assert.ok(elapsed >= 900 && elapsed < 4000, `black hole cost ${elapsed} ms`);
      assert.equal(hole.accepted(), 1);
      for (let i = 0; i < 100 && hole.open() > 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(hole.open(), 0, 'the timed-out transfer was killed');
    }
    epoch++;
  }
  assert.deepEqual(refusing.stored, []);
  assert.deepEqual(secondary.stored, [name(1700000001), name(1700000002), name(1700000003)]);
});

test('always, both up: the same bytes land on both; nothing stays in either buffer', async (t) => {
  const primary = await startTentacle(t);
  const secondary = await startTentacle(t);
  const work = folder(t);
  const cfg = pairConfig('always', primary.port, secondary.port, {
    temporal: folder(t),
    xml_buffer: 1,
  });
  await runDeliveryCycle(cfg, [agentFile(work, 1700000001, 'same bytes')], recording());
  assert.deepEqual(filesIn(primary.dir), { [name(1700000001)]: 'same bytes' });
  assert.deepEqual(filesIn(secondary.dir), { [name(1700000001)]: 'same bytes' });
  assert.deepEqual(filesIn(cfg.temporal), {});
  assert.deepEqual(filesIn(cfg.secondaryTemporal), {});
});

test('always, primary down: the secondary gets each file at once; the primary its backlog in order', async (t) => {
  const primary = await startDownTentacle(t);
  const secondary = await startTentacle(t);
  const work = folder(t);
  const cfg = pairConfig('always', primary.port, secondary.port, {
    temporal: folder(t),
    xml_buffer: 1,
  });
  for (const epoch of [1700000001, 1700000002, 1700000003]) {
    const report = await runDeliveryCycle(cfg, [agentFile(work, epoch)], recording());
    assert.equal(report.files[0]?.outcome, 'buffered');
  }
  assert.deepEqual(secondary.stored, [name(1700000001), name(1700000002), name(1700000003)]);
  assert.equal(Object.keys(filesIn(cfg.temporal)).length, 3);
  await primary.up();
  const report = await runDeliveryCycle(cfg, [agentFile(work, 1700000004)], recording());
  assert.equal(report.files[0]?.outcome, 'delivered');
  assert.deepEqual(primary.stored, [
    name(1700000001),
    name(1700000002),
    name(1700000003),
    name(1700000004),
  ]);
  assert.deepEqual(secondary.stored, [
    name(1700000001),
    name(1700000002),
    name(1700000003),
    name(1700000004),
  ]);
  assert.deepEqual(filesIn(cfg.temporal), {});
});

test('always, secondary down: its copies wait in pandorafms.secondary and go in order', async (t) => {
  const primary = await startTentacle(t);
  const secondary = await startDownTentacle(t);
  const work = folder(t);
  const cfg = pairConfig('always', primary.port, secondary.port, {
    temporal: folder(t),
    xml_buffer: 1,
  });
  assert.equal(cfg.secondaryTemporal, join(cfg.temporal, 'pandorafms.secondary'));
  await runDeliveryCycle(cfg, [agentFile(work, 1700000002)], recording());
  await runDeliveryCycle(cfg, [agentFile(work, 1700000001)], recording()); // older name, later
  assert.deepEqual(primary.stored, [name(1700000002), name(1700000001)]);
  assert.deepEqual(Object.keys(filesIn(cfg.secondaryTemporal)).sort(), [
    name(1700000001),
    name(1700000002),
  ]);
  await secondary.up();
  await runDeliveryCycle(cfg, [agentFile(work, 1700000003)], recording());
  // Oldest first by the agent's own clock, then the new file.
  assert.deepEqual(secondary.stored, [name(1700000001), name(1700000002), name(1700000003)]);
  assert.equal(primary.stored.length, 3);
  assert.deepEqual(filesIn(cfg.secondaryTemporal), {});
});

test('on_error, both down: buffered; all delivered in order once one returns, none twice', async (t) => {
  for (const returning of ['primary', 'secondary'] as const) {
    const primary = await startDownTentacle(t);
    const secondary = await startDownTentacle(t);
    const work = folder(t);
    const cfg = pairConfig('on_error', primary.port, secondary.port, {
      temporal: folder(t),
      xml_buffer: 1,
    });
    for (const epoch of [1700000001, 1700000002, 1700000003]) {
      const report = await runDeliveryCycle(cfg, [agentFile(work, epoch)], recording());
      assert.equal(report.files[0]?.outcome, 'buffered');
    }
    await (returning === 'primary' ? primary : secondary).up();
    await runDeliveryCycle(cfg, [agentFile(work, 1700000004)], recording());
    const all = [name(1700000001), name(1700000002), name(1700000003), name(1700000004)];
    const back = returning === 'primary' ? primary : secondary;
    const other = returning === 'primary' ? secondary : primary;
    assert.deepEqual(back.stored, all, returning);
    assert.deepEqual(other.stored, [], returning);
    assert.deepEqual(filesIn(cfg.temporal), {});
    // Another cycle sends nothing again.
    await runDeliveryCycle(cfg, [], recording());
    assert.deepEqual(back.stored, all);
  }
});

test('buffer limits: oldest kept and newest dropped (logged), or drop_oldest; free-disk floor', async (t) => {
  const down = await refusedPort();
  for (const policy of ['drop_newest', 'drop_oldest'] as const) {
    const work = folder(t);
    const cfg = deliveryConfig({
      server_ip: '127.0.0.1',
      server_port: down,
      temporal: folder(t),
      xml_buffer: 1,
      temporal_max_files: 3,
      temporal_min_size: 0,
      xml_buffer_overflow: policy,
    });
    const { logger, lines } = recordingLogger();
    const outcomes: string[] = [];
    for (let epoch = 1700000001; epoch <= 1700000005; epoch++) {
      const report = await runDeliveryCycle(cfg, [agentFile(work, epoch)], { logger });
      outcomes.push(report.files[0]?.outcome ?? '');
    }
    const kept = Object.keys(filesIn(cfg.temporal)).sort();
    const drops = lines.filter((l) => /file dropped/.test(String(l['msg'])));
    assert.equal(drops.length, 2, policy);
    if (policy === 'drop_newest') {
      assert.deepEqual(kept, [name(1700000001), name(1700000002), name(1700000003)]);
      assert.deepEqual(outcomes, ['buffered', 'buffered', 'buffered', 'dropped', 'dropped']);
      assert.equal(drops[0]?.['dropped'], name(1700000004));
      assert.equal(drops[0]['files'], 3);
    } else {
      assert.deepEqual(kept, [name(1700000003), name(1700000004), name(1700000005)]);
      assert.deepEqual(
        drops.map((d) => d['dropped']),
        [name(1700000001), name(1700000002)],
      );
    }
  }
  // Not enough free disk (a floor no disk meets): dropped with a warning; 0 disables the check.
  const work = folder(t);
  for (const [minSize, expected] of [
    [100_000_000, 'dropped'],
    [0, 'buffered'],
  ] as const) {
    const { logger, lines } = recordingLogger();
    const cfg = deliveryConfig({
      server_ip: '127.0.0.1',
      server_port: down,
      temporal: folder(t),
      xml_buffer: 1,
      temporal_min_size: minSize,
    });
    const report = await runDeliveryCycle(cfg, [agentFile(work, 1700000009)], { logger });
    assert.equal(report.files[0]?.outcome, expected);
    if (expected === 'dropped') {
      assert.ok(lines.some((l) => /not enough free disk/.test(String(l['msg']))));
    }
  }
});

test('xml_buffer 0: nothing buffered, nothing resent later', async (t) => {
  const primary = await startDownTentacle(t);
  const work = folder(t);
  const cfg = deliveryConfig({
    server_ip: '127.0.0.1',
    server_port: primary.port,
    temporal: folder(t),
  });
  const report = await runDeliveryCycle(cfg, [agentFile(work, 1700000001)], recording());
  assert.equal(report.files[0]?.outcome, 'dropped');
  assert.deepEqual(filesIn(cfg.temporal), {});
  await primary.up();
  await runDeliveryCycle(cfg, [], recording());
  assert.deepEqual(primary.stored, []);
});

test('a drain stops at the first failure and keeps order; symlinks are never sent', async (t) => {
  const primary = await startTentacle(t);
  const temporal = folder(t);
  for (let epoch = 1700000001; epoch <= 1700000005; epoch++) agentFile(temporal, epoch);
  const outside = join(folder(t), 'secret.txt');
  writeFileSync(outside, 'not agent data');
  symlinkSync(outside, join(temporal, `${AGENT}.1600000000.data`));
  writeFileSync(join(primary.dir, name(1700000003)), 'blocks the third file');
  const cfg = deliveryConfig({
    server_ip: '127.0.0.1',
    server_port: primary.port,
    temporal,
    xml_buffer: 1,
  });
  await runDeliveryCycle(cfg, [], recording());
  assert.deepEqual(primary.stored, [name(1700000001), name(1700000002)]);
  assert.deepEqual(Object.keys(filesIn(temporal)).sort(), [
    name(1700000003),
    name(1700000004),
    name(1700000005),
  ]);
  unlinkSync(join(primary.dir, name(1700000003)));
  await runDeliveryCycle(cfg, [], recording());
  assert.deepEqual(primary.stored.slice(2), [name(1700000003), name(1700000004), name(1700000005)]);
  assert.ok(existsSync(join(temporal, name(1600000000))), 'the symlink is left alone');
  assert.ok(!primary.stored.includes(name(1600000000)));
});

test('server_ip list: the first address refuses, the second delivers; no secondary attempt', async (t) => {
  const primary = await startTentacle(t);
  const secondary = await startBlackHole(t);
  const work = folder(t);
  const cfg = deliveryConfig({
    server_ip: `127.0.0.1:${await refusedPort()},127.0.0.1:${primary.port}`,
    secondary_mode: 'on_error',
    secondary_server_ip: '127.0.0.1',
    secondary_server_port: secondary.port,
    temporal: folder(t),
  });
  assert.equal(cfg.primary.addresses.length, 2);
  const report = await runDeliveryCycle(
    cfg,
    [agentFile(work, 1700000001), agentFile(work, 1700000002)],
    recording(),
  );
  assert.deepEqual(
    report.files.map((f) => f.outcome),
    ['delivered', 'delivered'],
  );
  assert.deepEqual(primary.stored, [name(1700000001), name(1700000002)]);
  assert.equal(secondary.accepted(), 0);
});

test('configuration errors name the key and the allowed values', () => {
  assert.throws(
    () => deliveryConfig({ secondary_mode: 'onerror' }),
    (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(
        err.message,
        /secondary_mode "onerror" is not valid; use never, on_error or always/,
      );
      return true;
    },
  );
  assert.throws(
    () => deliveryConfig({ transfer_mode: 'ftp' }),
    /transfer_mode ftp is not supported/,
  );
  assert.throws(() => deliveryConfig({ xml_buffer_overflow: 'newest' }), /xml_buffer_overflow/);
  assert.throws(
    () => deliveryConfig({ transfer_timeout: 'x' }),
    /transfer_timeout must be an integer/,
  );
});

test('tentacle-client --config pandora_agent.conf file…: on_error failover from the CLI', async (t) => {
  const secondary = await startTentacle(t, { password: 'pw2' });
  const work = folder(t);
  const temporal = join(work, 'spool');
  mkdirSync(temporal);
  const conf = join(work, 'pandora_agent.conf');
  writeFileSync(
    conf,
    [
      '# agent configuration',
      'server_ip 127.0.0.1',
      `server_port ${await refusedPort()}`,
      `temporal ${temporal}`,
      'xml_buffer 1',
      'transfer_timeout 5',
      'secondary_mode on_error',
      'secondary_server_ip 127.0.0.1',
      `secondary_server_port ${secondary.port}`,
      'secondary_server_pwd pw2',
      'interval 300',
      '',
    ].join('\n'),
  );
  const file = agentFile(work, 1700000001);
  const io = captureIo(work);
  const code = await runTentacleClient(['-v', '--config', conf, file], io);
  assert.equal(code, 0, io.stderr.join('\n'));
  assert.deepEqual(secondary.stored, [name(1700000001)]);
  assert.ok(io.stdout.includes(`[log] File '${name(1700000001)}' sent to the secondary`));

  // --secondary-* flags override the file; a bad key is an [err] and exit 1.
  const bad = captureIo(work);
  assert.equal(
    await runTentacleClient(['--config', conf, '--secondary-mode', 'sometimes', file], bad),
    1,
  );
  assert.match(bad.stderr[0] ?? '', /^\[err\] secondary_mode "sometimes" is not valid/);
  const unknown = captureIo(work);
  assert.equal(await runTentacleClient(['--secondary-colour', 'red', file], unknown), 1);
  assert.deepEqual(unknown.stderr, ['[err] Unknown option --secondary-colour.']);
});

test('agent style: the new file already in temporal is part of the backlog, sent once, in order', async (t) => {
  const primary = await startDownTentacle(t);
  const secondary = await startDownTentacle(t);
  const temporal = folder(t);
  const cfg = pairConfig('on_error', primary.port, secondary.port, { temporal, xml_buffer: 1 });
  // Both down: the agent's own spool files simply stay where they are.
  for (const epoch of [1700000001, 1700000002]) {
    const report = await runDeliveryCycle(cfg, [agentFile(temporal, epoch)], recording());
    assert.equal(report.files[0]?.outcome, 'buffered');
  }
  assert.equal(Object.keys(filesIn(temporal)).length, 2);
  await secondary.up();
  const report = await runDeliveryCycle(cfg, [agentFile(temporal, 1700000003)], recording());
  assert.deepEqual(report.files[0]?.lanes, [
    { lane: 'primary', result: 'delivered', target: 'secondary' },
  ]);
  assert.deepEqual(secondary.stored, [name(1700000001), name(1700000002), name(1700000003)]);
  assert.deepEqual(filesIn(temporal), {});
  // A missing file fails the run before anything is sent.
  await assert.rejects(
    runDeliveryCycle(cfg, [join(temporal, 'nope.data')], recording()),
    /File '.*nope\.data' does not exist or cannot be read\./,
  );
});

test('a transfer whose confirmation never came is not doubled when a later run resends it', async (t) => {
  const server = await startTentacle(t);
  // A primary that takes the body, stores it where the real server will find it, and never
  // confirms (the reply is "delayed beyond transfer_timeout").
  const slow = createServer((socket) => {
    let buffered = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const match = /^SEND <([^>]+)> SIZE (\d+)\n/.exec(buffered.toString('latin1'));
      if (!match) return;
      const header = match[0].length;
      if (buffered.length === header) socket.write('SEND OK\n');
      if (buffered.length === header + Number(match[2])) {
        writeFileSync(join(server.dir, match[1] ?? ''), buffered.subarray(header));
      }
    });
  });
  slow.listen(0, '127.0.0.1');
  await once(slow, 'listening');
  t.after(() => slow.close());
  const temporal = folder(t);
  const work = folder(t);
  const settings = { temporal, xml_buffer: 1, transfer_timeout: 1 };
  const first = deliveryConfig({
    ...settings,
    server_ip: '127.0.0.1',
    server_port: (slow.address() as AddressInfo).port,
  });
  const report = await runDeliveryCycle(first, [agentFile(work, 1700000001)], recording());
  assert.equal(report.files[0]?.outcome, 'buffered');
  assert.ok(existsSync(join(server.dir, name(1700000001))), 'the server holds it anyway');
  // Next run (a new process would do the same: the mark is on disk): refused as existing,
  // which is recognised as our own unconfirmed copy → delivered, not stuck, not doubled.
  const second = deliveryConfig({ ...settings, server_ip: '127.0.0.1', server_port: server.port });
  const next = await runDeliveryCycle(second, [agentFile(work, 1700000002)], recording());
  assert.deepEqual(next.backlogDelivered['primary'], [name(1700000001)]);
  assert.deepEqual(server.stored, [name(1700000002)]);
  assert.deepEqual(readdirSync(temporal), []);
});

test('failover_backoff: a primary that failed is skipped on the next runs, then re-probed', async (t) => {
  const hole = await startBlackHole(t);
  const secondary = await startTentacle(t);
  const work = folder(t);
  const settings = { temporal: folder(t), transfer_timeout: 1, failover_backoff: 1, interval: 2 };
  const cfg = pairConfig('on_error', hole.port, secondary.port, settings);
  const timed = async (epoch: number): Promise<number> => {
    const started = Date.now();
    const report = await runDeliveryCycle(cfg, [agentFile(work, epoch)], recording());
    assert.equal(report.files[0]?.outcome, 'delivered');
    return Date.now() - started;
  };
  assert.ok((await timed(1700000001)) >= 900, 'first run pays the black hole once');
  assert.ok((await timed(1700000002)) < 900, 'second run skips the primary');
  assert.equal(hole.accepted(), 1);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await timed(1700000003); // back-off over: the primary is tried again (and fails again)
  assert.equal(hole.accepted(), 2);
  assert.equal(secondary.stored.length, 3);
  // Without the key, every run tries the primary first (the reference's behaviour).
  const plain = pairConfig('on_error', hole.port, secondary.port, {
    temporal: settings.temporal,
    transfer_timeout: 1,
  });
  await runDeliveryCycle(plain, [agentFile(work, 1700000004)], recording());
  assert.equal(hole.accepted(), 3);
});

test('--config with TLS and passwords on both targets (server_ssl 1, secondary_server_ssl yes)', async (t) => {
  const certs = makeCerts(t);
  const tls = { cert: certs.serverCert, key: certs.serverKey };
  const primary = await startTentacle(t, { tls, password: 'one' });
  const secondary = await startTentacle(t, { tls, password: 'two' });
  const work = folder(t);
  const conf = join(work, 'agent.conf');
  writeFileSync(
    conf,
    [
      'server_ip 127.0.0.1',
      `server_port ${primary.port}`,
      'server_ssl 1',
      'server_pwd one',
      'secondary_mode always',
      'secondary_server_ip 127.0.0.1',
      `secondary_server_port ${secondary.port}`,
      'secondary_server_ssl yes',
      'secondary_server_pwd two',
      `temporal ${folder(t)}`,
      '',
    ].join('\n'),
  );
  const io = captureIo(work);
  const code = await runTentacleClient(['-v', '--config', conf, agentFile(work, 1700000001)], io);
  assert.equal(code, 0, io.stderr.join('\n'));
  assert.deepEqual(primary.stored, [name(1700000001)]);
  assert.deepEqual(secondary.stored, [name(1700000001)]);
});

test('server_ip list: an address that accepts but hangs loses its place to the next one', async (t) => {
  const hole = await startBlackHole(t);
  const good = await startTentacle(t);
  const cfg = deliveryConfig({
    server_ip: `127.0.0.1:${hole.port},127.0.0.1:${good.port}`,
    transfer_timeout: 1,
  });
  const link = createTargetLink(cfg.primary, { logger: recordingLogger().logger });
  t.after(() => link.close());
  await assert.rejects(link.send('h.1700000001.data', Buffer.from('1')), {
    code: 'ERR_TENTACLE_TRANSFER_DEADLINE',
  });
  await link.send('h.1700000002.data', Buffer.from('2'));
  await link.send('h.1700000003.data', Buffer.from('3')); // sticky: the good address first
  assert.deepEqual(good.stored, ['h.1700000002.data', 'h.1700000003.data']);
  assert.equal(hole.accepted(), 1);
});
