// HA settings: Pandora's keys and our extensions resolve with the documented defaults, and
// values that cannot be safe are refused with a message naming the key (ha.md E17).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../../src/core/errors.js';
import { parseLongFlags, resolveSettings } from '../../src/core/settings.js';
import { HA_SETTINGS, haConfigFrom } from '../../src/ha/index.js';

function configFrom(argv: string[]) {
  const { flags } = parseLongFlags(argv, HA_SETTINGS);
  return haConfigFrom(resolveSettings(HA_SETTINGS, { flags }).values, 'v');
}

test('defaults derive from server_keepalive and server_threshold', () => {
  const config = configFrom(['--servername', 'a']);
  assert.deepEqual(
    {
      priority: config.priority,
      tickMs: config.tickMs,
      leaseTtlMs: config.leaseTtlMs,
      memberDeadAfterMs: config.memberDeadAfterMs,
      preempt: config.preempt,
      preemptDelayMs: config.preemptDelayMs,
      startupGraceMs: config.startupGraceMs,
      fenceMarginMs: config.fenceMarginMs,
    },
    {
      priority: 1,
      tickMs: 5000,
      leaseTtlMs: 90_000,
      memberDeadAfterMs: 90_000,
      preempt: true,
      preemptDelayMs: 10_000,
      startupGraceMs: 10_000,
      fenceMarginMs: 5000,
    },
  );
});

test('master outside 0..7 is a configuration error, not a silent priority', () => {
  assert.throws(
    () => configFrom(['--servername', 'a', '--master', '10']),
    (err: { code?: string; message: string }) =>
      err.code === ErrorCode.ConfigInvalid &&
      /--master: master must be <= 7, got 10/.test(err.message),
  );
  assert.throws(() => configFrom(['--master', 'x']), /must be an integer/);
});

test('a tick longer than a third of the lease is refused', () => {
  assert.throws(
    () => configFrom(['--servername', 'a', '--server-keepalive', '1', '--server-threshold', '1']),
    /must be at most a third of the lease/,
  );
  assert.equal(configFrom(['--servername', 'a', '--ha-preempt', '0']).preempt, false);
});
