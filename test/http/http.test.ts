// The HTTP operations side against a real coordinator on a real database: liveness,
// readiness (and each reason it can fail), drain, status JSON and /metrics parsed.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { Counter } from 'prom-client';
import { OWNER_FILE } from '../../src/ha/index.js';
import { testDbServer } from '../helpers/db.js';
import { createTcpProxy } from '../helpers/tcp-proxy.js';
import { eventually, parsePrometheus, startHttpNode } from './fixtures.js';

interface ReadyBody {
  ready: boolean;
  reasons: string[];
  server_name: string;
  is_master: boolean;
  epoch: number;
}

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

async function getReady(url: string): Promise<{ status: number; body: ReadyBody }> {
  const { status, body } = await getJson(url);
  return { status, body: body as ReadyBody };
}

test('livez, readyz, status and metrics of a healthy master', async (t) => {
  const node = await startHttpNode();
  t.after(() => node.close());
  await eventually(() => Promise.resolve(node.coordinator.isMaster()), 10_000, 'master');

  const live = await getJson(`${node.baseUrl}/livez`);
  assert.deepEqual([live.status, live.body], [200, { live: true, server: 'http-node' }]);

  const ready = await getReady(`${node.baseUrl}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(
    [ready.body.ready, ready.body.server_name, ready.body.is_master, ready.body.epoch],
    [true, 'http-node', true, 1],
  );

  // HA sessions bound lock waits and kill transactions a stalled process leaves open.
  const session = await node.coordinator.runFenced('probe', async ({ conn }) => {
    const [rows] = await conn.query<RowDataPacket[]>(
      'SELECT @@session.innodb_lock_wait_timeout AS lw, @@session.idle_transaction_timeout AS it',
    );
    return rows[0];
  });
  assert.deepEqual([session?.['lw'], session?.['it']], [1, 2]);

  const received = new Counter({
    name: 'pandora_tentacle_files_received_total',
    help: 'test counter standing in for the receiver',
    registers: [node.registry],
  });
  received.inc(5);
  node.pipeline.queueDepth = 7; // the dataserver's health(), as main.ts wires it
  const raw = await getJson(`${node.baseUrl}/status`);
  const status = { status: raw.status, body: raw.body as Record<string, unknown> };
  assert.equal(status.status, 200);
  assert.equal(status.body['server'], 'http-node');
  assert.equal(status.body['role'], 'master');
  assert.equal(status.body['master'], 'http-node');
  assert.equal(status.body['master_kind'], 'ours');
  assert.equal(status.body['epoch'], 1);
  assert.equal(status.body['queue_depth'], 7);
  assert.deepEqual(status.body['totals'], { files_received: 5 });
  assert.ok(
    typeof (status.body['rates'] as Record<string, number>)['files_received_per_sec'] === 'number',
  );
  const peers = status.body['peers'] as { name: string; isLive: boolean }[];
  assert.deepEqual(
    peers.map((p) => [p.name, p.isLive]),
    [['http-node', true]],
  );

  const res = await fetch(`${node.baseUrl}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const samples = parsePrometheus(text);
  assert.equal(samples.get('pandora_ha_master'), 1);
  assert.equal(samples.get('pandora_ha_pandora_master'), 0);
  assert.equal(samples.get('pandora_ha_epoch'), 1);
  assert.ok((samples.get('pandora_ha_role_changes_total') ?? 0) >= 1);
  assert.equal(samples.get('pandora_tentacle_files_received_total'), 5);
  assert.match(text, /# TYPE pandora_ha_master gauge/);
  assert.match(text, /# TYPE pandora_ha_role_changes_total counter/);
});

test('readyz is 503 with reason "spool" when the spool folder is gone; livez stays 200', async (t) => {
  const node = await startHttpNode();
  t.after(() => node.close());
  rmSync(node.spoolDir, { recursive: true, force: true });
  const ready = await getReady(`${node.baseUrl}/readyz`);
  assert.equal(ready.status, 503);
  assert.deepEqual(ready.body.reasons, ['spool']);
  assert.equal((await fetch(`${node.baseUrl}/livez`)).status, 200);
});

test('readyz is 503 "stalled" while the dataserver stall guard is raised', async (t) => {
  const node = await startHttpNode();
  t.after(() => node.close());
  // What the dataserver's health() says (test/dataserver/queue-stall.test.ts raises the stall
  // guard for real); HA reads it through the hook, not through a metric name.
  assert.equal((await getReady(`${node.baseUrl}/readyz`)).status, 200);
  node.pipeline.stalled = true;
  const ready = await getReady(`${node.baseUrl}/readyz`);
  assert.equal(ready.status, 503);
  assert.deepEqual(ready.body.reasons, ['stalled']);
  node.pipeline.stalled = false;
  assert.equal((await getReady(`${node.baseUrl}/readyz`)).status, 200);
});

test('POST /drain: not ready, resigns mastership, drains the receiver, stays live', async (t) => {
  const node = await startHttpNode();
  t.after(() => node.close());
  await eventually(() => Promise.resolve(node.coordinator.isMaster()), 10_000, 'master');
  const res = await fetch(`${node.baseUrl}/drain`, { method: 'POST' });
  assert.equal(res.status, 202);
  assert.deepEqual(await res.json(), { draining: true, server: 'http-node' });
  await node.state.whenDrained();
  assert.equal(node.drainCalls.length, 1);
  assert.equal(node.coordinator.isMaster(), false, 'resigned at once');
  const ready = await getReady(`${node.baseUrl}/readyz`);
  assert.equal(ready.status, 503);
  assert.ok(ready.body.reasons.includes('draining'));
  assert.equal((await fetch(`${node.baseUrl}/livez`)).status, 200);
  // The lease was released (expires now), not left to expire.
  const [rows] = await node.db.pool.query<import('mysql2/promise').RowDataPacket[]>(
    "SELECT expires_at <= NOW(3) AS free FROM tha_lease WHERE role = 'master'",
  );
  assert.equal(Number(rows[0]?.['free']), 1);
  // A second drain is harmless.
  assert.equal((await fetch(`${node.baseUrl}/drain`, { method: 'POST' })).status, 202);
  assert.equal(node.drainCalls.length, 1);
});

test('readyz turns 503 "db" when the database is cut off, and recovers', async (t) => {
  const server = testDbServer();
  const proxy = await createTcpProxy({ host: server.host, port: server.port });
  t.after(() => proxy.close());
  const node = await startHttpNode({ dbPort: proxy.port });
  t.after(() => node.close());
  await eventually(
    async () => (await fetch(`${node.baseUrl}/readyz`)).status === 200,
    10_000,
    'ready',
  );
  proxy.cut();
  // Bound: two ticks (1 s) plus a query timeout, with slack for a loaded host.
  await eventually(
    async () => {
      const r = await getReady(`${node.baseUrl}/readyz`);
      return r.status === 503 && r.body.reasons.includes('db');
    },
    8000,
    'readyz 503 db',
  );
  assert.equal((await fetch(`${node.baseUrl}/livez`)).status, 200);
  proxy.restore();
  await eventually(
    async () => (await fetch(`${node.baseUrl}/readyz`)).status === 200,
    10_000,
    'ready again',
  );
});

test('readyz is 503 "shared-incomingdir" while another live server owns our incoming folder', async (t) => {
  const node = await startHttpNode();
  t.after(() => node.close());
  const owner = join(node.spoolDir, OWNER_FILE);
  await eventually(
    async () => (await fetch(`${node.baseUrl}/readyz`)).status === 200,
    10_000,
    'ready',
  );
  assert.equal((JSON.parse(readFileSync(owner, 'utf8')) as { server: string }).server, 'http-node');

  // A second live server writes its marker into the same folder.
  await node.db.pool.query(
    `INSERT INTO tha_member (server_name, instance_id, priority, candidate, state, last_seen,
       started_at) VALUES ('other', 'x', 1, 1, 'running', NOW(3), NOW(3))`,
  );
  await eventually(
    () => Promise.resolve(node.coordinator.snapshot().peers.some((p) => p.name === 'other')),
    10_000,
    'the other server seen as a peer',
  );
  writeFileSync(owner, JSON.stringify({ server: 'other', instance: 'x' }));
  await eventually(
    async () => {
      const r = await getReady(`${node.baseUrl}/readyz`);
      return r.status === 503 && r.body.reasons.includes('shared-incomingdir');
    },
    10_000,
    'readyz 503 shared-incomingdir',
  );
  // Once that server is dead, its stale marker is taken over and we are ready again.
  await node.db.pool.query(
    "UPDATE tha_member SET last_seen = NOW(3) - INTERVAL 1 HOUR WHERE server_name = 'other'",
  );
  await eventually(
    async () => (await fetch(`${node.baseUrl}/readyz`)).status === 200,
    10_000,
    'ready again',
  );
  assert.equal((JSON.parse(readFileSync(owner, 'utf8')) as { server: string }).server, 'http-node');
});
