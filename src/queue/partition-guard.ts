import { Queue, type JobType } from 'bullmq';
import type { Redis } from 'ioredis';
import { ConfigError, type Logger } from '../core/index.js';
import { metaKey, partitionQueueName } from './topology.js';

/** Hash field of `metaKey(prefix)` that records the partition count P. */
export const META_PARTITIONS_FIELD = 'partitions';

/** Job states that still hold a packet (anything a worker has not finished). */
const UNFINISHED: JobType[] = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'];

/** Packets not yet applied in partitions 0..partitions-1. */
export async function unfinishedJobs(
  redis: Redis,
  prefix: string,
  partitions: number,
): Promise<number> {
  let total = 0;
  for (let p = 0; p < partitions; p++) {
    const queue = new Queue(partitionQueueName(p), { connection: redis, prefix });
    try {
      const counts = await queue.getJobCounts(...UNFINISHED);
      for (const n of Object.values(counts)) total += n;
    } finally {
      await queue.close();
    }
  }
  return total;
}

/**
 * The partition count is fixed for the life of a queue (scaleout.md §1): a packet's partition is
 * `hash mod P`, so another P would send an agent's next packet to another queue and let it
 * overtake the older ones still waiting. A different `queue_partitions` is accepted only on an
 * empty queue (the record is rewritten); otherwise this throws a ConfigError saying why.
 */
export async function guardPartitions(
  redis: Redis,
  prefix: string,
  partitions: number,
  log: Logger,
): Promise<void> {
  const key = metaKey(prefix);
  await redis.hsetnx(key, META_PARTITIONS_FIELD, String(partitions));
  const recorded = Number(await redis.hget(key, META_PARTITIONS_FIELD));
  if (recorded === partitions) return;
  const pending =
    Number.isInteger(recorded) && recorded > 0 ? await unfinishedJobs(redis, prefix, recorded) : 0;
  if (pending > 0) {
    throw new ConfigError(
      `queue_partitions is ${String(partitions)} but the queue under prefix "${prefix}" was created with ${String(recorded)} partitions and still holds ${String(pending)} unapplied packets; changing it would reorder agents' packets. Keep queue_partitions ${String(recorded)}, or let the workers empty the queue (stop the listeners first) and start again`,
    );
  }
  await redis.hset(key, META_PARTITIONS_FIELD, String(partitions));
  log.warn(
    { event: 'queue_partitions_changed', from: recorded, to: partitions, prefix },
    'queue was empty: partition count rewritten',
  );
}
