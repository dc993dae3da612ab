import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { silentLogger } from '../../src/core/log.js';
import { createMetricsRegistry } from '../../src/core/metrics.js';
import { createDbPool, initDatabase } from '../../src/db/index.js';
import {
  createDataserver,
  createPacketParser,
  loadDataserverConfig,
  processPacket,
  queueIntakeFactory,
} from '../../src/dataserver/index.js';
import {
  metaKey,
  partitionOf,
  partitionQueueName,
  quarantineKey,
  type QuarantineEntry,
} from '../../src/queue/index.js';
import { safeOutput } from '../../src/pandora/index.js';
import { dropFile, flagsMap, startHarness } from '../dataserver/harness.js';
import { waitFor } from '../dataserver/child.js';
import { createTestDatabase, testDbServer } from '../helpers/db.js';
import { createTestRedisPrefix, testRedisUrl } from '../helpers/redis.js';
import { teardown } from '../helpers/teardown.js';
import { tempDir } from '../helpers/tmp.js';
import { agentPacket, enqueue, queueState, snapshot } from './fixture.js';

const PARTITIONS = 8;

/** A dataserver in this process on the queue intake (a fresh database and Redis prefix). */
async function queueDataserver(t: TestContext, overrides: Record<string, string> = {}) {
  const cleanup = teardown(t);
  const db = await createTestDatabase();
  cleanup(() => db.drop());
  await initDatabase(
    { ...testDbServer(), database: db.name },
    { createDatabase: false },
    { logger: silentLogger() },
  );
  const redisPrefix = createTestRedisPrefix();
  cleanup(() => redisPrefix.cleanup());
  const tmp = tempDir('ti-qi-');
  cleanup(() => {
    tmp.cleanup();
  });
  const config = loadDataserverConfig({
    flags: flagsMap({
      incomingdir: join(tmp.path, 'data_in'),
      dbname: db.name,
      dbhost: db.host,
      dbport: String(db.port),
      dbuser: db.user,
      ...overrides,
    }),
  });
  const pool = createDbPool(
    { ...config.db, password: db.password, connectionLimit: 4, queueLimit: 1000 },
    { logger: silentLogger() },
  );
  cleanup(() => pool.end());
  const parser = createPacketParser(config, { logger: silentLogger() });
  cleanup(() => parser.close());
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const settings = {
    queue_url: testRedisUrl(),
    queue_prefix: redisPrefix.prefix,
    queue_partitions: PARTITIONS,
    queue_max_waiting: 100_000,
    queue_lock_ms: 5000,
  };
  const ds = createDataserver(config, {
    pool,
    logger: silentLogger(),
    registry,
    processPacket,
    parser,
    intake: queueIntakeFactory(settings, config, { registry }),
  });
  cleanup(() => ds.close());
  return { db, ds, registry, prefix: redisPrefix.prefix, start: () => ds.start() };
}

async function count(pool: { query: (sql: string) => Promise<unknown> }, sql: string) {
  const [rows] = (await pool.query(sql)) as [Record<string, unknown>[]];
  return Number(rows[0]?.['n']);
}

test(
  'a dataserver on the queue intake writes what the spool writes and leaves no job behind',
  { timeout: 180_000 },
  async (t) => {
    const AGENTS = 20;
    const ROUNDS = 5;
    const q = await queueDataserver(t);
    const packets = [];
    for (let r = 0; r < ROUNDS; r++)
      for (let a = 1; a <= AGENTS; a++) packets.push(agentPacket('qi', a, r));
    await enqueue(q.prefix, PARTITIONS, packets);
    await q.start();
    const ledger = 'SELECT COUNT(*) n FROM tingest_ledger';
    await waitFor(async () => (await count(q.db.pool, ledger)) === packets.length, 120_000, 'all');

    const reference = await startHarness({ servername: 'pandora01' });
    t.after(() => reference.close());
    packets.forEach((p, i) => {
      dropFile(reference.dir, p.name, p.xml, 1_709_280_000 + i);
    });
    await reference.ds.drain();

    assert.deepEqual(await snapshot(q.db.pool), await snapshot(reference.db.pool));
    await waitFor(
      async () => {
        const s = await queueState(q.prefix, PARTITIONS);
        return s.waiting + s.active + s.failed + s.completed === 0;
      },
      10_000,
      'queues empty',
    );
    const hold = await q.registry.getSingleMetric('pandora_queue_job_hold_seconds')?.get();
    const holds =
      hold?.values.find((v) => (v as { metricName?: string }).metricName?.endsWith('_count'))
        ?.value ?? 0;
    assert.equal(holds, packets.length, 'every job was held once');
    const status = q.ds.health().queue;
    assert.ok(status && 'waiting' in status && 'oldest_waiting_age_seconds' in status);
  },
);

test(
  'a job its holders died with poison_deaths times is quarantined with an event, not failed',
  { timeout: 120_000 },
  async (t) => {
    const q = await queueDataserver(t, { dataserver_poison_deaths: '2' });
    const poison = agentPacket('qp', 1, 0);
    const next = agentPacket('qp', 1, 1);
    await enqueue(q.prefix, PARTITIONS, [poison, next]);
    // As two deaths leave it: BullMQ counted two stalls, our counter two unfinished handings.
    const redis = new Redis(testRedisUrl());
    t.after(() => {
      redis.disconnect();
    });
    const queueKey = `${q.prefix}:${partitionQueueName(partitionOf(poison.name, PARTITIONS))}`;
    const firstId = (await redis.lrange(`${queueKey}:wait`, -1, -1))[0] ?? '';
    await redis.hset(`${queueKey}:${firstId}`, 'stc', '2', 'ti:starts', '2');
    await q.start();

    await waitFor(
      async () => (await count(q.db.pool, 'SELECT COUNT(*) n FROM tingest_ledger')) === 2,
      60_000,
      'the poison job and the next one',
    );
    // Event texts are stored through safe_input (spaces as &#x20;).
    const [events] = await q.db.pool.query(
      "SELECT evento FROM tevento WHERE event_type = 'error' AND evento LIKE '%qp-1.1000.data%died%2%times%'",
    );
    assert.equal((events as unknown[]).length, 1, 'one poison event');
    // It says where the packet went: the quarantine list, not a _FAILED file the queue never keeps.
    const text = safeOutput(String((events as { evento: string }[])[0]?.evento));
    const key = quarantineKey(q.prefix);
    assert.match(text, new RegExp(`set aside in the Redis list '${key}'\\.$`));
    assert.doesNotMatch(text, /_FAILED/);
    const kept = (await redis.lrange(key, 0, -1)).map((e) => JSON.parse(e) as QuarantineEntry);
    assert.deepEqual(
      kept.map((e) => [e.name, Buffer.from(e.bytes, 'base64').toString(), e.suffix]),
      [[poison.name, poison.xml, '_FAILED']],
      'the packet is in that list, bytes and all',
    );
    // The poison packet wrote no data; the agent's next packet was applied after it.
    const history = await count(q.db.pool, 'SELECT COUNT(*) n FROM tagente_datos');
    assert.equal(history, 2, 'only the second packet (cpu and proc) became history');
    await waitFor(
      async () => {
        const s = await queueState(q.prefix, PARTITIONS);
        return s.waiting + s.active + s.failed === 0;
      },
      10_000,
      'queues empty, nothing failed',
    );
  },
);

test('a worker whose queue_partitions differs from the queue record refuses to start', async (t) => {
  const q = await queueDataserver(t);
  const redis = new Redis(testRedisUrl());
  t.after(() => {
    redis.disconnect();
  });
  await redis.hset(metaKey(q.prefix), 'partitions', String(PARTITIONS * 2));
  await assert.rejects(q.start(), /queue_partitions is 8 but the queue .* has 16 partitions/);
});
