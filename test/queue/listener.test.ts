/**
 * Scale-out, the listener side (scaleout.md §3, §6 tests 6, 7, 9): a Tentacle listener whose
 * uploads go to Redis through BullMQ, against a redis-server of the test's own. The jobs are
 * read back from Redis (name, bytes, order) since the worker side is built elsewhere.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { HEAP_RESERVE_BYTES } from '../../src/core/index.js';
import {
  ENQUEUE_HEAP_BYTES_PER_BYTE,
  enqueueByteBudget,
  metaKey,
  openQueueProducer,
  partitionOf,
  planDurability,
  type RedisFacts,
} from '../../src/queue/index.js';
import { memoryLogger } from '../tentacle/fixtures/harness.js';
import { RedisServer } from '../helpers/redis-server.js';
import { Registry } from 'prom-client';
import { jobsIn, PARTITIONS, sendFile, startQueueListener } from './fixtures/listener.js';

const facts = (over: Partial<RedisFacts>): RedisFacts => ({
  version: '7.0.15',
  appendonly: true,
  appendfsync: 'always',
  maxmemoryPolicy: 'noeviction',
  replicas: 0,
  role: 'master',
  ...over,
});

function packet(agent: string, seq: number): { name: string; body: Buffer } {
  return {
    name: `${agent}.${String(1_700_000_000 + seq)}.data`,
    body: Buffer.from(`<agent_data agent_name="${agent}" seq="${String(seq)}"></agent_data>\n`),
  };
}

describe('durability plan from Redis settings', () => {
  test('appendfsync always: the add reply is enough', () => {
    const plan = planDurability(facts({}));
    assert.equal(plan.waitAof, false);
    assert.equal(plan.waitReplica, false);
    assert.equal(plan.warning, undefined);
  });
  test('everysec on 7.2+: WAITAOF; on 7.0: a warning that a second can be lost', () => {
    assert.equal(
      planDurability(facts({ appendfsync: 'everysec', version: '7.2.4' })).waitAof,
      true,
    );
    const old = planDurability(facts({ appendfsync: 'everysec' }));
    assert.equal(old.waitAof, false);
    assert.match(old.warning ?? '', /no WAITAOF.*once a second/);
  });
  test('a replica is waited for; no AOF warns', () => {
    assert.equal(planDurability(facts({ replicas: 1 })).waitReplica, true);
    assert.match(planDurability(facts({ appendonly: false })).warning ?? '', /appendonly no/);
  });
});

describe('enqueue byte budget from the heap limit', () => {
  const heap256 = 304 * 1024 * 1024; // heap_size_limit under --max-old-space-size=256
  test('a listener only gets the heap beyond the reserve, priced at 4 bytes a byte', () => {
    assert.equal(
      enqueueByteBudget(false, heap256),
      (heap256 - HEAP_RESERVE_BYTES) / ENQUEUE_HEAP_BYTES_PER_BYTE,
    );
  });
  test('beside a dataserver it gets a quarter of the reserve; budget x price fits the heap', () => {
    const shared = enqueueByteBudget(true, heap256);
    assert.equal(shared, HEAP_RESERVE_BYTES / 4 / ENQUEUE_HEAP_BYTES_PER_BYTE);
    for (const appliesToo of [true, false]) {
      const held = enqueueByteBudget(appliesToo, heap256) * ENQUEUE_HEAP_BYTES_PER_BYTE;
      assert.ok(held + HEAP_RESERVE_BYTES / 2 <= heap256, 'room left for the rest of the server');
    }
  });
});

describe('queue listener against its own redis-server', () => {
  test('test 6: appendonly no starts with a warning; allkeys-lru refuses to start', async (t) => {
    const noAof = await RedisServer.start(t, { appendonly: false });
    const { producer, logs } = await startQueueListener(t, noAof.url, 'p6');
    assert.ok(producer.isConnected);
    const warned = logs.find((r) => r['event'] === 'queue_durability_weak');
    assert.ok(warned, 'a warning is logged');
    assert.match(String(warned['msg']), /acknowledged with SEND OK are lost/);
    assert.ok(
      logs.some((r) => r['event'] === 'queue_durability'),
      'the decision is logged',
    );

    const lru = await RedisServer.start(t, { maxmemoryPolicy: 'allkeys-lru' });
    await assert.rejects(
      openQueueProducer(
        {
          settings: {
            queue_url: lru.url,
            queue_prefix: 'p6',
            queue_partitions: PARTITIONS,
            queue_max_waiting: 10,
          },
          serverName: 'x',
        },
        { logger: memoryLogger().logger, registry: new Registry() },
      ),
      /maxmemory-policy is allkeys-lru.*noeviction/,
    );
  });

  test('uploads become jobs in their agent partition, in send order, bytes intact', async (t) => {
    const redis = await RedisServer.start(t);
    const { tentacle } = await startQueueListener(t, redis.url, 'ord');
    const peer = await tentacle.connect();
    const sent: { name: string; body: Buffer }[] = [];
    for (let seq = 0; seq < 5; seq++) {
      for (const agent of ['alpha', 'beta', 'gamma']) {
        const p = packet(agent, seq);
        assert.equal(await sendFile(peer, p.name, p.body), 'SEND OK');
        sent.push(p);
      }
    }
    assert.deepEqual(await import('node:fs').then((fs) => fs.readdirSync(tentacle.dir)), []);
    const jobs = await jobsIn(redis.url, 'ord');
    assert.equal(jobs.length, sent.length);
    for (const agent of ['alpha', 'beta', 'gamma']) {
      const mine = jobs.filter((j) => j.name.startsWith(`${agent}.`));
      assert.deepEqual(
        mine.map((j) => j.name),
        sent.filter((s) => s.name.startsWith(`${agent}.`)).map((s) => s.name),
        'oldest first within the partition',
      );
      for (const j of mine) {
        assert.equal(j.partition, partitionOf(j.name, PARTITIONS));
        assert.deepEqual(j.bytes, sent.find((s) => s.name === j.name)?.body);
        assert.equal(j.via, 'listener-test');
      }
    }
  });

  test('test 7: 200 packets over queue_max_waiting 100, no worker: 100 OK, then SEND ERR', async (t) => {
    const redis = await RedisServer.start(t);
    const { tentacle, producer, registry } = await startQueueListener(t, redis.url, 'bp', {
      maxWaiting: 100,
    });
    const replies: string[] = [];
    const acknowledged: string[] = [];
    const peer = await tentacle.connect();
    for (let i = 0; i < 200; i++) {
      const p = packet(`agent${String(i % 20)}`, i);
      const reply = await sendFile(peer, p.name, p.body);
      replies.push(reply);
      if (reply === 'SEND OK') acknowledged.push(p.name);
    }
    assert.deepEqual(replies.slice(0, 100), Array<string>(100).fill('SEND OK'));
    assert.deepEqual(replies.slice(100), Array<string>(100).fill('SEND ERR'));
    const jobs = await jobsIn(redis.url, 'bp');
    assert.deepEqual(
      jobs.map((j) => j.name).sort(),
      acknowledged.sort(),
      'nothing acknowledged dropped',
    );
    assert.equal(producer.readinessReason(), 'queue', 'not ready at the limit');
    const refusals = await registry.getSingleMetricAsString('pandora_queue_refusals_total');
    assert.match(refusals, /reason="full"} 100/);
    // The waiting count under the one name workers use too (scaleout.md §5: waiting jobs).
    await producer.refreshWaiting();
    assert.match(await registry.metrics(), /^pandora_queue_jobs_waiting 100$/m);
    assert.doesNotMatch(await registry.metrics(), /pandora_queue_waiting_packets/);
  });

  test('enqueues in flight are bounded in bytes: past the budget one is refused', async (t) => {
    const redis = await RedisServer.start(t);
    const { logger, records } = memoryLogger();
    const registry = new Registry();
    const producer = await openQueueProducer(
      {
        settings: {
          queue_url: redis.url,
          queue_prefix: 'mem',
          queue_partitions: PARTITIONS,
          queue_max_waiting: 100,
        },
        serverName: 'x',
        memoryBytes: 150_000,
      },
      { logger, registry },
    );
    t.after(() => producer.close());
    const big = Buffer.alloc(100_000, 0x41);
    let reads = 0;
    const readBig = () => {
      reads++;
      return Promise.resolve(big);
    };
    const results = await Promise.allSettled([
      producer.enqueue('a.1.data', big),
      producer.enqueueFrom('b.1.data', big.length, readBig),
      producer.enqueueFrom('c.1.data', big.length, readBig),
    ]);
    assert.equal(results[0].status, 'fulfilled');
    assert.equal(results[1].status, 'rejected');
    assert.equal(results[2].status, 'rejected');
    assert.match(String(results[1].reason), /too many bytes/);
    assert.equal(reads, 0, 'a refused packet is never read');
    const refusing = records.filter((r) => r['event'] === 'queue_refusing');
    assert.equal(refusing.length, 1, 'one line for the burst, not one per refusal');
    assert.match(
      await registry.getSingleMetricAsString('pandora_queue_refusals_total'),
      /reason="memory"} 2/,
    );
    // Once the first is in, the budget is free again.
    await producer.enqueue('b.1.data', big);
    assert.deepEqual((await jobsIn(redis.url, 'mem')).map((j) => j.name).sort(), [
      'a.1.data',
      'b.1.data',
    ]);
  });

  test('enqueues of one event-loop turn are added together, each in its partition in call order', async (t) => {
    const redis = await RedisServer.start(t);
    const producer = await openQueueProducer(
      {
        settings: {
          queue_url: redis.url,
          queue_prefix: 'tick',
          queue_partitions: PARTITIONS,
          queue_max_waiting: 1000,
        },
        serverName: 'x',
      },
      { logger: memoryLogger().logger, registry: new Registry() },
    );
    t.after(() => producer.close());
    const sent = Array.from({ length: 40 }, (_, i) => packet(`agent${String(i % 7)}`, i));
    // All in one turn: they share a pipeline; every promise settles after its own job is in.
    await Promise.all(sent.map((p) => producer.enqueue(p.name, p.body)));
    const jobs = await jobsIn(redis.url, 'tick');
    assert.equal(jobs.length, sent.length);
    for (let a = 0; a < 7; a++) {
      const prefix = `agent${String(a)}.`;
      assert.deepEqual(
        jobs.filter((j) => j.name.startsWith(prefix)).map((j) => j.name),
        sent.filter((p) => p.name.startsWith(prefix)).map((p) => p.name),
      );
    }
    for (const j of jobs) assert.deepEqual(j.bytes, sent.find((p) => p.name === j.name)?.body);
  });

  test('test 9: another queue_partitions on a non-empty queue refuses; on an empty one it is rewritten', async (t) => {
    const redis = await RedisServer.start(t);
    const first = await startQueueListener(t, redis.url, 'parts');
    const peer = await first.tentacle.connect();
    const p = packet('solo', 1);
    assert.equal(await sendFile(peer, p.name, p.body), 'SEND OK');
    const open = (partitions: number) =>
      openQueueProducer(
        {
          settings: {
            queue_url: redis.url,
            queue_prefix: 'parts',
            queue_partitions: partitions,
            queue_max_waiting: 10,
          },
          serverName: 'x',
        },
        { logger: memoryLogger().logger, registry: new Registry() },
      );
    await assert.rejects(
      open(16),
      /queue_partitions is 16 but the queue under prefix "parts" was created with 8 partitions and still holds 1 unapplied packets/,
    );
    // Empty the queue (what the workers would do), then the change is accepted.
    const client = new Redis(redis.url);
    t.after(() => {
      client.disconnect();
    });
    for (const key of await client.keys('parts:ingest-*')) await client.del(key);
    const changed = await open(16);
    await changed.close();
    assert.equal(await client.hget(metaKey('parts'), 'partitions'), '16');
  });
});
