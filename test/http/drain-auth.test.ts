// POST /drain takes a server out of service: on a non-loopback http_address it needs
// http_drain_token. Real HTTP on loopback; the guard is built as for a public address.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drainAuthFor, isLoopbackAddress } from '../../src/http/index.js';
import { startHttpNode } from './fixtures.js';

test('loopback addresses: 127/8, ::1, mapped 127, localhost; not 0.0.0.0, ::, a LAN address', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1', 'localhost'])
    assert.equal(isLoopbackAddress(a), true, a);
  for (const a of ['0.0.0.0', '::', '192.0.2.10', '10.0.0.1', 'example.org', ''])
    assert.equal(isLoopbackAddress(a), false, a);
});

test('POST /drain on a non-loopback address without a token: 403, nothing drained', async (t) => {
  const node = await startHttpNode({ drainAuth: drainAuthFor('0.0.0.0', undefined) });
  t.after(() => node.close());
  const res = await fetch(`${node.baseUrl}/drain`, { method: 'POST' });
  assert.equal(res.status, 403);
  assert.match(((await res.json()) as { error: string }).error, /http_drain_token/);
  assert.equal(node.drainCalls.length, 0);
  assert.equal((await fetch(`${node.baseUrl}/readyz`)).status, 200);
});

test('POST /drain with http_drain_token: 401 without or with a wrong bearer, 202 with it', async (t) => {
  const node = await startHttpNode({ drainAuth: drainAuthFor('0.0.0.0', 's3cret-token') });
  t.after(() => node.close());
  const post = (authorization?: string) =>
    fetch(`${node.baseUrl}/drain`, {
      method: 'POST',
      ...(authorization ? { headers: { authorization } } : {}),
    });
  assert.equal((await post()).status, 401);
  assert.equal((await post('Bearer wrong')).status, 401);
  assert.equal((await post('Bearer s3cret-token-longer')).status, 401);
  assert.equal((await post('s3cret-token')).status, 401);
  assert.equal(node.drainCalls.length, 0);
  assert.equal((await post('Bearer s3cret-token')).status, 202);
  await node.state.whenDrained();
  assert.equal(node.drainCalls.length, 1);
});

test('POST /drain on loopback without a token stays open (the existing behaviour)', async (t) => {
  const node = await startHttpNode({ drainAuth: drainAuthFor('127.0.0.1', undefined) });
  t.after(() => node.close());
  assert.equal((await fetch(`${node.baseUrl}/drain`, { method: 'POST' })).status, 202);
});
