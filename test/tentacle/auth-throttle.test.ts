/**
 * The PASS-failure table on its own (the live behaviour is in server-fairness.test.ts): delays
 * that double up to the cap, turns reserved for parallel attempts, and a bounded table.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuthThrottle, FIRST_DELAY_MS } from '../../src/tentacle/auth-throttle.js';

test('delays double per failure up to the cap; the right password clears the address', () => {
  const throttle = new AuthThrottle(1000);
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 40].map((n) => throttle.delayAfter(n)),
    [FIRST_DELAY_MS, 200, 400, 800, 1000, 1000, 1000],
  );
  assert.deepEqual(throttle.turn('10.0.0.1', 0), { waitMs: 0 });
  throttle.failed('10.0.0.1', 0);
  assert.deepEqual(throttle.turn('10.0.0.1', 30), { waitMs: 70 });
  throttle.failed('10.0.0.1', 100);
  assert.deepEqual(throttle.turn('10.0.0.1', 100), { waitMs: 200 });
  throttle.succeeded('10.0.0.1');
  assert.deepEqual(throttle.turn('10.0.0.1', 101), { waitMs: 0 });
  assert.equal(throttle.size, 0);
});

test('parallel attempts queue one delay apart; one beyond the cap is refused unchecked', () => {
  const throttle = new AuthThrottle(1000);
  for (let i = 0; i < 5; i++) throttle.failed('10.0.0.2', 0); // delay now 1000
  assert.deepEqual(throttle.turn('10.0.0.2', 0), { waitMs: 1000 });
  assert.equal(throttle.turn('10.0.0.2', 0), 'refuse', 'its turn would be 2 s away');
  assert.deepEqual(throttle.turn('10.0.0.3', 0), { waitMs: 0 }, 'other addresses unaffected');
});

test('the table keeps at most maxAddresses, evicting the least recently failed', () => {
  const throttle = new AuthThrottle(1000, 100);
  for (let i = 0; i < 1000; i++) throttle.failed(`10.1.${i >> 8}.${i & 255}`, i);
  assert.equal(throttle.size, 100);
  assert.deepEqual(throttle.turn('10.1.0.0', 1000), { waitMs: 0 }, 'the first one was evicted');
  const last = throttle.turn('10.1.3.231', 1000); // failed at 999
  assert.ok(last !== 'refuse' && last.waitMs > 0, 'the latest one is still delayed');
});

test('an address is forgotten 15 minutes after its last failure', () => {
  const throttle = new AuthThrottle(1000);
  throttle.failed('10.0.0.4', 0);
  assert.deepEqual(throttle.turn('10.0.0.4', 15 * 60 * 1000 + 1), { waitMs: 0 });
  assert.equal(throttle.size, 0);
});
