import assert from 'node:assert/strict';
import { test } from 'node:test';
import { helpText, KNOBS, parseE2eArgs } from '../../bench/e2e/options.js';

test('defaults are the standard scenario', () => {
  const o = parseE2eArgs([]);
  assert.equal(o.agents, 3000);
  assert.equal(o.modules, 33);
  assert.equal(o.steadyPasses, 2);
  assert.equal(o.mode, 'per-file');
  assert.equal(o.build, true);
  assert.equal(o.maxDurationMs, 280_000);
  assert.deepEqual(o.scalingAgents, [1000, 3000, 10_000, 30_000]);
  assert.deepEqual(o.serverArgs, []);
});

test('flags take "=value" or the next argument; booleans negate with --no-', () => {
  const o = parseE2eArgs([
    '--agents=10',
    '--concurrency',
    '3',
    '--no-build',
    '--server-arg=--dataserver-threads=0',
    '--server-arg',
    '--verbosity=1',
    '--poll-interval=250ms',
    '--mode=persistent',
  ]);
  assert.equal(o.agents, 10);
  assert.equal(o.concurrency, 3);
  assert.equal(o.build, false);
  assert.deepEqual(o.serverArgs, ['--dataserver-threads=0', '--verbosity=1']);
  assert.equal(o.pollIntervalMs, 250);
  assert.equal(o.mode, 'persistent');
});

test('bad values are refused with the flag named', () => {
  assert.throws(() => parseE2eArgs(['--agents=many']), /--agents/);
  assert.throws(() => parseE2eArgs(['--mode=burst']), /--mode/);
  assert.throws(() => parseE2eArgs(['--change-rate=2']), /--change-rate/);
  assert.throws(() => parseE2eArgs(['--target=127.0.0.1:41121']), /--db/);
  assert.throws(() => parseE2eArgs(['--agent-prefix=a b']), /--agent-prefix/);
  assert.throws(() => parseE2eArgs(['--frobnicate']), /unknown option/);
});

test('--alerts: five alerts per agent and an 11 s cache pause by default; refused with --scaling', () => {
  const plain = parseE2eArgs([]);
  assert.equal(plain.alerts, false);
  const o = parseE2eArgs(['--alerts', '--alerts-per-agent=1', '--alert-cache-wait=2s']);
  assert.deepEqual([o.alerts, o.alertsPerAgent, o.alertCacheWaitMs], [true, 1, 2000]);
  const d = parseE2eArgs(['--alerts']);
  assert.deepEqual([d.alertsPerAgent, d.alertCacheWaitMs], [5, 11_000]);
  assert.throws(() => parseE2eArgs(['--alerts', '--scaling']), /--alerts and --scaling/);
  assert.throws(() => parseE2eArgs(['--alerts-per-agent=0']), /--alerts-per-agent/);
});

test('--help lists every knob', () => {
  const help = helpText();
  for (const knob of KNOBS)
    assert.ok(help.includes(`--${knob.flag}`) || help.includes(`--[no-]${knob.flag}`), knob.flag);
});

test('--soak takes a duration; its share and rate are checked', () => {
  const o = parseE2eArgs(['--soak', '1h', '--soak-share', '0.3', '--rate', '400']);
  assert.equal(o.soakMs, 3_600_000);
  assert.equal(o.soakShare, 0.3);
  assert.equal(o.rate, 400);
  assert.equal(o.soakSampleMs, 10_000);
  assert.equal(parseE2eArgs([]).soakMs, undefined);
  assert.throws(() => parseE2eArgs(['--soak', '1h', '--soak-share', '1.5']), /soak-share/);
  assert.throws(() => parseE2eArgs(['--soak', '10m', '--alerts']), /run of its own/);
  assert.throws(() => parseE2eArgs(['--soak-from', 'soak.json']), /needs --readme/);
});

test('--queue runs the spool and each worker count; it needs our own server', () => {
  const o = parseE2eArgs(['--queue', '--queue-workers=1,3']);
  assert.equal(o.queue, true);
  assert.deepEqual(o.queueWorkers, [1, 3]);
  assert.deepEqual(parseE2eArgs([]).queueWorkers, [1, 2]);
  assert.throws(() => parseE2eArgs(['--queue', '--alerts']), /separate run/);
  assert.throws(
    () => parseE2eArgs(['--queue', '--target=127.0.0.1:41121', '--db=mysql://u@h/d']),
    /--target/,
  );
  assert.throws(() => parseE2eArgs(['--queue', '--queue-workers=0']), /--queue-workers/);
});
