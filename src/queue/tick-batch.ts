import { Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { waitDurable, type DurabilityPlan } from './durability.js';
import { PACKET_JOB, type PacketJobData } from './topology.js';

/** BullMQ job options of a packet (the producer's PACKET_JOB_OPTIONS). */
type JobOptions = ConstructorParameters<typeof Job<PacketJobData>>[3];

interface PendingAdd {
  readonly queue: Queue<PacketJobData>;
  readonly data: PacketJobData;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** The add was stored but not made durable in time: the caller answers `SEND ERR`. */
export class DurabilityWaitError extends Error {
  override readonly name = 'DurabilityWaitError';
}

/**
 * Adds the packets that reach the producer within one event-loop turn together: one pipeline
 * across their partitions (one write to Redis, one read there and, under `appendfsync always`,
 * one AOF fsync for them all) and one durability wait after it. Every caller still resolves
 * only once its own job is stored and durable; a job whose add failed rejects alone. Order per
 * partition is the order of `add` calls (a pipeline runs its commands in order), and an agent
 * has at most one packet in flight (it waits for `SEND OK`).
 */
export class TickBatch {
  readonly #redis: Redis;
  readonly #plan: DurabilityPlan;
  readonly #options: JobOptions;
  readonly #durabilityWaitMs: number;
  #pending: PendingAdd[] | undefined;

  constructor(redis: Redis, plan: DurabilityPlan, options: JobOptions, durabilityWaitMs: number) {
    this.#redis = redis;
    this.#plan = plan;
    this.#options = options;
    this.#durabilityWaitMs = durabilityWaitMs;
  }

  /** Resolves once this packet's job is in Redis and durable as planned. */
  add(queue: Queue<PacketJobData>, data: PacketJobData): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let pending = this.#pending;
      if (pending === undefined) {
        pending = [];
        this.#pending = pending;
        // After this turn's I/O callbacks: every upload finished in this turn joins the batch.
        setImmediate(() => void this.#flush());
      }
      pending.push({ queue, data, resolve, reject });
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#pending ?? [];
    this.#pending = undefined;
    const first = batch[0];
    if (!first) return;
    const stored: PendingAdd[] = [];
    try {
      // Every partition queue shares the producer's connection: one pipeline carries them all.
      const pipeline = (await first.queue.getBackend().client).pipeline();
      for (const p of batch) {
        // Queues exactly one script call on the pipeline. Its promise settles at once (a
        // pipeline command returns the pipeline), so only exec's replies say what was stored.
        void new Job<PacketJobData>(p.queue, PACKET_JOB, p.data, this.#options)
          .addJob(pipeline)
          .catch(() => undefined);
      }
      const replies = (await pipeline.exec()) ?? [];
      batch.forEach((pending, i) => {
        const reply: [Error | null, unknown] = replies[i] ?? [new Error('no reply'), undefined];
        const [err, id] = reply;
        // A negative reply is one of BullMQ's script error codes: not stored.
        if (err === null && !(typeof id === 'number' && id < 0)) stored.push(pending);
        else pending.reject(err ?? new Error(`add refused by Redis (code ${String(id)})`));
      });
    } catch (err) {
      for (const pending of batch) pending.reject(err);
      return;
    }
    if (stored.length === 0) return;
    try {
      await waitDurable(this.#redis, this.#plan, this.#durabilityWaitMs);
    } catch (err) {
      const error = new DurabilityWaitError((err as Error).message, { cause: err });
      for (const pending of stored) pending.reject(error);
      return;
    }
    for (const pending of stored) pending.resolve();
  }
}
