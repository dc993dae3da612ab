// The shipper (`tentacle-client --watch DIR`) with real servers of ours: 10,000 files through a
// server restart with none lost or doubled and each agent's files in order; on_error and always
// fan-out; files every server refuses are set aside instead of blocking the queue.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../../src/core/log.js';
import { createMetricsRegistry } from '../../src/core/metrics.js';
import type { DeliveryConfig } from '../../src/agent/index.js';
import { REJECTED_DIR, createShipper, type Shipper } from '../../src/agent/shipper.js';
import { runTentacleClient } from '../../src/cli/tentacle-client.js';
import {
  captureIo,
  filesIn,
  refusedPort,
  startBlackHole,
  startDownTentacle,
  startTentacle,
  deliveryConfig,
  folder,
  pairConfig,
  type Cleanup,
  type TestServer,
} from './helpers.js';

function startShipper(
  t: Cleanup,
  cfg: DeliveryConfig,
  dir: string,
  registry = createMetricsRegistry({ defaultMetrics: false }),
): Shipper {
  const shipper = createShipper(
    cfg,
    { dir, rescanMs: 200, settleMs: 0, retryInitialMs: 50, retryMaxMs: 200 },
    { logger: silentLogger(), registry },
  );
  t.after(() => shipper.close());
  return shipper;
}

/** Polls `done` (cheap checks only) until true; fails after `limitMs`. */
async function until(done: () => boolean, limitMs: number, what: string): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const AGENTS = 10;
const TOTAL = 10_000;

test('10,000 files through a server restart: none lost, none doubled, per-agent order kept', async (t) => {
  const server = await startTentacle(t, { port: await refusedPort(), sync: 'none' });
  const inbox = folder(t);
  const cfg = deliveryConfig({
    server_ip: '127.0.0.1',
    server_port: server.port,
    transfer_timeout: 5,
  });
  const shipper = startShipper(t, cfg, inbox);
  await shipper.start();
  const started = Date.now();

  // The producer writes in bursts (temp name, then rename, as a careful writer does) while the
  // shipper runs; the server goes away for a while in the middle.
  let restarted = false;
  for (let burst = 0; burst < 10; burst++) {
    for (let i = 0; i < TOTAL / 10; i++) {
      const seq = burst * (TOTAL / 10) + i;
      const agent = seq % AGENTS;
      const name = `agent${agent}.${1_700_000_000_000 + seq}.data`;
      writeFileSync(join(inbox, name), `<agent_data agent="${agent}" seq="${seq}"/>`);
    }
    if (burst === 4) {
      await until(() => server.stored.length >= 3000, 60_000, '3000 files before the restart');
      await server.down();
      const stalledAt = server.stored.length;
      await new Promise((resolve) => setTimeout(resolve, 700));
      assert.equal(server.stored.length, stalledAt, 'nothing stored while down');
      await server.up();
      restarted = true;
    }
  }
  await until(() => server.stored.length >= TOTAL, 120_000, 'all files');
  await until(
    () => readdirSync(inbox).filter((n) => !n.startsWith('.')).length === 0,
    10_000,
    'an empty inbox',
  );
  const elapsedMs = Date.now() - started;
  assert.ok(restarted);
  // Settle: nothing more may arrive (a double would show up here).
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(server.stored.length, TOTAL, 'each file stored exactly once');
  assert.equal(new Set(server.stored).size, TOTAL);
  const onDisk = readdirSync(server.dir).filter((n) => n.endsWith('.data'));
  assert.equal(onDisk.length, TOTAL);
  const sample = onDisk[1234] ?? '';
  const seq = Number(/\.(\d+)\.data$/.exec(sample)?.[1]) - 1_700_000_000_000;
  assert.equal(
    readFileSync(join(server.dir, sample), 'utf8'),
    `<agent_data agent="${seq % AGENTS}" seq="${seq}"/>`,
  );
  const lastSeq = new Map<string, number>();
  for (const name of server.stored) {
    const [agent = '', number = ''] = name.split('.');
    const n = Number(number);
    assert.ok(n > (lastSeq.get(agent) ?? 0), `${name} arrived after a newer file of ${agent}`);
    lastSeq.set(agent, n);
  }
  t.diagnostic(`shipped ${TOTAL} files through a restart in ${elapsedMs} ms`);
});

test('on_error: the secondary takes over while the primary is down; always: both get each file', async (t) => {
  const primary = await startDownTentacle(t);
  const secondary = await startTentacle(t);
  const inbox = folder(t);
  const cfg = pairConfig('on_error', primary.port, secondary.port);
  for (let i = 1; i <= 20; i++) writeFileSync(join(inbox, `a.${1700000000 + i}.data`), `f${i}`);
  const shipper = startShipper(t, cfg, inbox);
  assert.deepEqual(await shipper.runUntilIdle(), { remaining: 0 });
  assert.equal(secondary.stored.length, 20);
  assert.deepEqual(primary.stored, []);
  await primary.up();
  writeFileSync(join(inbox, 'a.1700000100.data'), 'back');
  // The primary is re-probed once its back-off expires.
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.deepEqual(await shipper.runUntilIdle(), { remaining: 0 });
  assert.deepEqual(primary.stored, ['a.1700000100.data']);

  // always: one side down → its copies wait in DIR/.secondary and follow when it returns.
  const a = await startTentacle(t);
  const b = await startDownTentacle(t);
  const fanIn = folder(t);
  const both = pairConfig('always', a.port, b.port);
  const fan = startShipper(t, both, fanIn);
  for (let i = 1; i <= 5; i++) writeFileSync(join(fanIn, `x.${1700000000 + i}.data`), `x${i}`);
  assert.equal((await fan.runUntilIdle()).remaining, 5, 'five copies wait for the secondary');
  assert.equal(a.stored.length, 5);
  assert.deepEqual(filesIn(fanIn), {});
  assert.equal(readdirSync(join(fanIn, '.secondary')).length, 5);
  // A second file under a name whose copy still waits: it must not overwrite that copy.
  writeFileSync(join(fanIn, 'x.1700000001.data'), 'x1 again');
  assert.equal((await fan.runUntilIdle()).remaining, 6);
  assert.deepEqual(filesIn(fanIn), { 'x.1700000001.data': 'x1 again' });
  await b.up();
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.deepEqual(await fan.runUntilIdle(), { remaining: 0 });
  assert.deepEqual(b.stored.slice(0, 5), a.stored.slice(0, 5));
  assert.deepEqual(filesIn(b.dir), filesIn(a.dir));
  assert.equal(filesIn(b.dir)['x.1700000001.data'], 'x1');
  // Both servers refuse the repeated name (no overwrite): it is set aside, not lost.
  assert.deepEqual(filesIn(join(fanIn, REJECTED_DIR)), { 'x.1700000001.data': 'x1 again' });
});

test('a file every server refuses is set aside; later files still go; temp names are ignored', async (t) => {
  const srv: TestServer = await startTentacle(t);
  writeFileSync(join(srv.dir, 'b.1700000002.data'), 'the server has this one');
  const inbox = folder(t);
  writeFileSync(join(inbox, 'a.1700000001.data'), 'a');
  writeFileSync(join(inbox, 'b.1700000002.data'), 'b');
  writeFileSync(join(inbox, 'c.1700000003.data'), 'c');
  writeFileSync(join(inbox, '.d.1700000004.data.tmp'), 'still being written');
  const cfg = deliveryConfig({ server_ip: '127.0.0.1', server_port: srv.port });
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const shipper = startShipper(t, cfg, inbox, registry);
  assert.deepEqual(await shipper.runUntilIdle(), { remaining: 0 });
  assert.deepEqual(srv.stored, ['a.1700000001.data', 'c.1700000003.data']);
  const text = await registry.metrics();
  assert.match(text, /pandora_delivery_files_total\{target="primary",result="ok"\} 2/);
  assert.match(text, /pandora_delivery_files_total\{target="primary",result="rejected"\} 1/);
  assert.ok(existsSync(join(inbox, REJECTED_DIR, 'b.1700000002.data')));
  assert.ok(existsSync(join(inbox, '.d.1700000004.data.tmp')));
});

test('tentacle-client --watch DIR --once ships what is there and exits 0 (1 if the server is down)', async (t) => {
  const srv = await startTentacle(t);
  const inbox = folder(t);
  writeFileSync(join(inbox, 'w.1700000001.data'), 'watch me');
  const io = captureIo(inbox);
  const args = ['-p', String(srv.port), '--watch', inbox, '--watch-settle-ms', '0', '--once'];
  assert.equal(await runTentacleClient(args, io), 0, io.stderr.join('\n'));
  assert.deepEqual(srv.stored, ['w.1700000001.data']);
  writeFileSync(join(inbox, 'w.1700000002.data'), 'nobody home');
  const down = captureIo(inbox);
  const refused = [
    '-p',
    String(await refusedPort()),
    '--watch',
    inbox,
    '--watch-settle-ms',
    '0',
    '--once',
  ];
  assert.equal(await runTentacleClient(refused, down), 1);
  assert.ok(down.stderr.includes('[err] 1 file(s) could not be shipped yet.'));
  assert.ok(existsSync(join(inbox, 'w.1700000002.data')), 'kept for later');
});

test('tentacle-client --watch DIR runs until stopped, shipping files as they appear', async (t) => {
  const srv = await startTentacle(t);
  const inbox = folder(t);
  const stop = new AbortController();
  const io = captureIo(inbox);
  const args = ['-p', String(srv.port), '--watch', inbox, '--watch-settle-ms', '0'];
  const running = runTentacleClient(args, io, stop.signal);
  writeFileSync(join(inbox, 'live.1700000001.data'), 'first');
  await until(() => srv.stored.length === 1, 30_000, 'the first file');
  writeFileSync(join(inbox, 'live.1700000002.data'), 'second');
  await until(() => srv.stored.length === 2, 30_000, 'the second file');
  stop.abort();
  assert.equal(await running, 0);
  assert.deepEqual(srv.stored, ['live.1700000001.data', 'live.1700000002.data']);
  assert.deepEqual(filesIn(inbox), {});
});

test('signals: the shipper process stops gracefully (exit 0); a one-shot run dies at once', async (t) => {
  const srv = await startTentacle(t);
  const hole = await startBlackHole(t);
  const inbox = folder(t);
  const entry = join(import.meta.dirname, '../../src/cli/tentacle-client.ts');
  const start = (args: string[]) => {
    const child = spawn(
      process.execPath,
      ['--import', import.meta.resolve('tsx'), entry, ...args],
      {
        cwd: inbox,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    t.after(() => child.kill('SIGKILL'));
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    return { child, exited };
  };
  const shipper = start(['-p', String(srv.port), '--watch', inbox, '--watch-settle-ms', '0']);
  writeFileSync(join(inbox, 's.1700000001.data'), 'signal test');
  await until(() => srv.stored.length === 1, 60_000, 'the file through the shipper process');
  shipper.child.kill('SIGTERM');
  assert.deepEqual(await shipper.exited, [0, null]);

  writeFileSync(join(inbox, 'hang.data'), 'x');
  const oneShot = start(['-p', String(hole.port), '-t', '30', 'hang.data']);
  await until(() => hole.accepted() === 1, 60_000, 'the one-shot client to connect');
  const killedAt = Date.now();
  oneShot.child.kill('SIGTERM');
  assert.deepEqual(await oneShot.exited, [143, null]);
  assert.ok(Date.now() - killedAt < 5000);
});
