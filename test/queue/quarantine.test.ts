/**
 * The quarantine list never drains (an operator reads and trims it): refused packets are kept
 * whole up to QUARANTINE_ENTRY_BYTES and cut beyond, so a peer whose max_size packets are all
 * refused cannot pin gigabytes of the shared Redis. Real Redis, a random prefix.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { createQueueSource } from '../../src/dataserver/stages/queue-source.js';
import {
  QUARANTINE_ENTRY_BYTES,
  quarantineKey,
  type QuarantineEntry,
} from '../../src/queue/index.js';
import { memoryLogger } from '../tentacle/fixtures/harness.js';
import { createTestRedisPrefix, testRedisUrl } from '../helpers/redis.js';

test('a small refused packet is kept whole, a large one cut to its first bytes', async (t) => {
  const keys = createTestRedisPrefix();
  const { prefix } = keys;
  t.after(() => keys.cleanup());
  const source = createQueueSource(
    { url: testRedisUrl(), prefix, partitions: 1, lockMs: 10_000 },
    memoryLogger().logger,
  );
  t.after(() => source.close());
  const job = (name: string, bytes: Buffer) => ({
    partition: 0,
    jobId: name,
    name,
    bytes,
    storedAt: 1,
    via: 'x',
    starts: 0,
  });
  const small = Buffer.from('<agent_data>not closed');
  const large = Buffer.alloc(2_000_000, 0x20);
  large.write('<agent_data>', 0);
  await source.quarantine(job('small.1.data', small), '_BADXML');
  await source.quarantine(job('large.1.data', large), '_BADXML');

  const redis = new Redis(testRedisUrl());
  t.after(() => {
    redis.disconnect();
  });
  const [newest, oldest] = (await redis.lrange(quarantineKey(prefix), 0, -1)).map(
    (e) => JSON.parse(e) as QuarantineEntry,
  );
  assert.ok(newest && oldest, 'both kept');
  assert.deepEqual(Buffer.from(oldest.bytes, 'base64'), small);
  assert.equal(oldest.truncatedFrom, undefined, 'a small packet is whole');
  assert.equal(newest.name, 'large.1.data');
  assert.deepEqual(
    Buffer.from(newest.bytes, 'base64'),
    large.subarray(0, QUARANTINE_ENTRY_BYTES),
    'the large one keeps its head',
  );
  assert.equal(newest.truncatedFrom, large.length, 'and says how large it was');
});
