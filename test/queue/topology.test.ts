import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodePacketBytes,
  encodePacketJob,
  fnv1a32,
  partitionOf,
  partitionQueueName,
} from '../../src/queue/index.js';

describe('queue topology', () => {
  it('hashes agent keys with FNV-1a 32 (fixed values: every server must agree)', () => {
    assert.equal(fnv1a32(''), 0x811c9dc5);
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32('foobar'), 0xbf9cf968);
  });

  it('puts every file of one agent in the same partition, whatever its timestamp', () => {
    const p = partitionOf('web-01.1700000000.data', 64);
    assert.equal(partitionOf('web-01.1700000123.data', 64), p);
    assert.equal(partitionOf('web-01_1700000999.data', 64), p);
    assert.equal(p, fnv1a32('web-01') % 64);
  });

  it('spreads agents over the partitions', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(partitionOf(`agent-${i}.1700000000.data`, 64));
    assert.equal(seen.size, 64);
  });

  it('names partition queues with a fixed width and round-trips job bytes', () => {
    assert.equal(partitionQueueName(7), 'ingest-0007');
    const bytes = Buffer.from([0, 1, 0xff, 0x3c, 0x3f]);
    const job = encodePacketJob('a.1.data', bytes, 'srv1', 42);
    assert.deepEqual(decodePacketBytes(job), bytes);
    assert.equal(job.storedAt, 42);
  });
});
