import { performance } from 'node:perf_hooks';
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { ConfigError, type Logger, type Registry } from '../core/index.js';
import { closeConnection, createProducerConnection } from './connection.js';
import { planDurability, readRedisFacts, refusalOf, type DurabilityPlan } from './durability.js';
import {
  createProducerMetrics,
  RefusalReason,
  reportJobsWaiting,
  type ProducerMetrics,
} from './metrics.js';
import { enqueueByteBudget } from './enqueue-memory.js';
import { guardPartitions } from './partition-guard.js';
import { RefusalBurstLog } from './refusal-log.js';
import type { QueueSettings } from './settings.js';
import { DurabilityWaitError, TickBatch } from './tick-batch.js';
import {
  encodePacketJob,
  partitionOf,
  partitionQueueName,
  type PacketJobData,
} from './topology.js';

/** One enqueue (add + durability wait) may take this long; then `SEND ERR` (client waits 4 s). */
export const ENQUEUE_DEADLINE_MS = 2500;
/** WAITAOF / WAIT timeout inside that deadline. */
export const DURABILITY_WAIT_MS = 1000;
/** How often the waiting count is read from Redis (never per packet). */
export const WAITING_REFRESH_MS = 500;

/**
 * Job options of every packet: no BullMQ retries (a retried job goes to the tail and overtakes
 * younger packets of its agent; the worker retries transient errors inside the job), finished
 * jobs removed (the ledger is the record; a kept job keeps its bytes in Redis memory), failed
 * ones kept a bounded while for an operator.
 */
export const PACKET_JOB_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: true,
  removeOnFail: { count: 100, age: 7 * 24 * 3600 },
};

/** An upload the queue did not take; the listener answers `SEND ERR`. */
export class QueueRefusal extends Error {
  readonly reason: RefusalReason;
  /** @internal Already counted in the refusals metric. */
  counted = false;
  constructor(reason: RefusalReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QueueRefusal';
    this.reason = reason;
  }
}

export interface QueueProducerOptions {
  readonly settings: QueueSettings;
  /** servername of this listener (carried in each job). */
  readonly serverName: string;
  readonly enqueueDeadlineMs?: number;
  readonly waitingRefreshMs?: number;
  /**
   * Packet bytes that may be enqueued at once (enqueue-memory.ts); default: derived from the
   * heap limit, smaller when this process also applies packets (`appliesToo`).
   */
  readonly memoryBytes?: number;
  /** This process runs a dataserver beside the listener (its heap is shared). */
  readonly appliesToo?: boolean;
}

export interface QueueProducerDeps {
  readonly logger: Logger;
  readonly registry: Registry;
}

/**
 * Connects to `queue_url`, checks Redis (refuses an evicting or read-only Redis), logs what
 * `SEND OK` will mean with its persistence settings, guards the partition count, and returns
 * a producer. Throws (ConfigError for a refusal) and leaves no connection behind on failure.
 */
export async function openQueueProducer(
  options: QueueProducerOptions,
  deps: QueueProducerDeps,
): Promise<QueueProducer> {
  const log = deps.logger.child({ component: 'queue' });
  const { settings } = options;
  const redis = createProducerConnection(
    settings.queue_url,
    `tentacle-ingest:${options.serverName}`,
  );
  redis.on('error', () => undefined); // reported through status, refusals and readiness
  try {
    await redis.connect();
    const facts = await readRedisFacts(redis);
    const refusal = refusalOf(facts);
    if (refusal !== undefined) throw new ConfigError(refusal);
    const plan = planDurability(facts);
    log.info(
      { event: 'queue_durability', redis: facts, durability: plan.summary },
      `queue: ${plan.summary}`,
    );
    if (plan.warning !== undefined) {
      log.warn({ event: 'queue_durability_weak' }, plan.warning);
    }
    await guardPartitions(redis, settings.queue_prefix, settings.queue_partitions, log);
    const producer = new QueueProducer(redis, plan, options, { ...deps, logger: log });
    logConnectionChanges(redis, log);
    await producer.start();
    return producer;
  } catch (err) {
    redis.disconnect();
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(
      `queue_url: cannot use Redis (${(err as Error).message}); scale-out mode needs it at start`,
      { cause: err },
    );
  }
}

export class QueueProducer {
  readonly plan: DurabilityPlan;
  readonly metrics: ProducerMetrics;
  readonly #redis: Redis;
  readonly #queues: Queue<PacketJobData>[];
  readonly #options: QueueProducerOptions;
  readonly #log: Logger;
  readonly #deadlineMs: number;
  readonly #memoryBytes: number;
  readonly #refusalLog: RefusalBurstLog;
  readonly #stopReportingWaiting: () => void;
  readonly #batch: TickBatch;
  /** Waiting count read from Redis, and the adds already in it when it was read. */
  #waitingBase = 0;
  #acceptedAtBase = 0;
  /** Adds accepted by this server (started and not failed). */
  #accepted = 0;
  /** Body bytes of the enqueues in flight, and how many there are. */
  #bytesInFlight = 0;
  #inFlight = 0;
  /** Open while the waiting count is read: enqueues wait at it. */
  #countGate: Promise<void> | undefined;
  #whenIdle: (() => void)[] = [];
  #countedOnce = false;
  #refreshing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastErrorLogAt = 0;
  #closing: Promise<void> | undefined;

  constructor(
    redis: Redis,
    plan: DurabilityPlan,
    options: QueueProducerOptions,
    deps: QueueProducerDeps,
  ) {
    this.#redis = redis;
    this.plan = plan;
    this.#options = options;
    this.#log = deps.logger;
    this.#deadlineMs = options.enqueueDeadlineMs ?? ENQUEUE_DEADLINE_MS;
    this.#memoryBytes = options.memoryBytes ?? enqueueByteBudget(options.appliesToo ?? true);
    this.#refusalLog = new RefusalBurstLog(deps.logger);
    this.#batch = new TickBatch(redis, plan, PACKET_JOB_OPTIONS, DURABILITY_WAIT_MS);
    this.metrics = createProducerMetrics(deps.registry);
    this.#stopReportingWaiting = reportJobsWaiting(deps.registry, () => this.#waitingBase);
    const { queue_prefix: prefix, queue_partitions: partitions } = options.settings;
    this.#queues = Array.from({ length: partitions }, (_, p) => {
      const queue = new Queue<PacketJobData>(partitionQueueName(p), {
        connection: redis,
        prefix,
      });
      queue.on('error', (err) => {
        this.#logError(err, 'queue error');
      });
      return queue;
    });
  }

  get partitions(): number {
    return this.#queues.length;
  }

  /** Global concurrency 1 on every partition (idempotent; workers set it too), first count. */
  async start(): Promise<void> {
    for (const queue of this.#queues) await queue.setGlobalConcurrency(1);
    await this.refreshWaiting();
    const every = this.#options.waitingRefreshMs ?? WAITING_REFRESH_MS;
    this.#timer = setInterval(() => void this.refreshWaiting(), every);
    this.#timer.unref();
  }

  /** Waiting packets as far as this server knows: the last count plus its own adds since. */
  get waitingEstimate(): number {
    return this.#waitingBase + (this.#accepted - this.#acceptedAtBase);
  }

  /** Whether Redis answers right now (the connection is up). */
  get isConnected(): boolean {
    return this.#redis.status === 'ready';
  }

  /**
   * Adds the packet to its partition and waits until the job is durable; resolves only then
   * (the listener answers `SEND OK`). Rejects with a QueueRefusal within the deadline when the
   * queue is full, Redis is unreachable, or durability was not reached.
   */
  enqueue(name: string, bytes: Buffer): Promise<void> {
    return this.enqueueFrom(name, bytes.length, () => Promise.resolve(bytes));
  }

  /**
   * enqueue() of a packet of `size` bytes that `read` returns: admission (queue_max_waiting and
   * the byte budget) is decided before `read` is called, so a refused packet is never loaded.
   */
  async enqueueFrom(name: string, size: number, read: () => Promise<Buffer>): Promise<void> {
    if (this.#closing || !this.isConnected) {
      throw this.#refuse(RefusalReason.Unavailable, 'Redis is not connected');
    }
    const started = performance.now();
    const deadline = this.#deadline();
    try {
      // While the waiting count is read, no add starts (so the count is exact; ~1 ms).
      if (this.#countGate) await Promise.race([this.#countGate, deadline.expired]);
      this.#admit(size);
      this.#inFlight++;
      this.#accepted++;
      this.#bytesInFlight += size;
      try {
        await Promise.race([this.#addDurably(name, read), deadline.expired]);
      } catch (err) {
        this.#accepted--;
        throw err;
      } finally {
        this.#bytesInFlight -= size;
        this.#inFlight--;
        if (this.#inFlight === 0) for (const wake of this.#whenIdle.splice(0)) wake();
      }
    } catch (err) {
      if (err instanceof QueueRefusal && err.counted) throw err;
      throw err instanceof QueueRefusal
        ? this.#refuse(err.reason, err.message, err)
        : this.#refuse(RefusalReason.Unavailable, (err as Error).message, err);
    } finally {
      deadline.clear();
    }
    this.metrics.enqueued.inc();
    this.metrics.enqueueDuration.observe((performance.now() - started) / 1000);
  }

  /** Throws a (counted) refusal when the queue is full or too many bytes are in flight. */
  #admit(size: number): void {
    const max = this.#options.settings.queue_max_waiting;
    if (this.waitingEstimate >= max) {
      throw this.#refuse(RefusalReason.Full, `queue_max_waiting (${String(max)}) packets wait`);
    }
    if (this.#bytesInFlight > 0 && this.#bytesInFlight + size > this.#memoryBytes) {
      throw this.#refuse(RefusalReason.Memory, 'too many bytes being enqueued at once');
    }
  }

  #deadline(): { expired: Promise<never>; clear(): void } {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const ms = String(this.#deadlineMs);
        reject(new QueueRefusal(RefusalReason.Unavailable, `enqueue took longer than ${ms} ms`));
      }, this.#deadlineMs);
    });
    expired.catch(() => undefined);
    return {
      expired,
      clear: () => {
        clearTimeout(timer);
      },
    };
  }

  async #addDurably(name: string, read: () => Promise<Buffer>): Promise<void> {
    const { queue_partitions: partitions } = this.#options.settings;
    const queue = this.#queues[partitionOf(name, partitions)];
    if (!queue) throw new Error('no partition queue');
    const data = encodePacketJob(name, await read(), this.#options.serverName);
    try {
      await this.#batch.add(queue, data);
    } catch (err) {
      if (!(err instanceof DurabilityWaitError)) throw err;
      throw new QueueRefusal(RefusalReason.Durability, err.message, { cause: err });
    }
  }

  #refuse(reason: RefusalReason, message: string, cause?: unknown): QueueRefusal {
    this.metrics.refusals.inc({ reason });
    this.#refusalLog.note(reason, message);
    const refusal = new QueueRefusal(reason, `queue refused the packet: ${message}`, { cause });
    refusal.counted = true;
    return refusal;
  }

  /** Reads the waiting count (one pipelined LLEN per partition); single-flight. */
  refreshWaiting(): Promise<void> {
    this.#refreshing ??= this.#readWaiting().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  /**
   * The count is exact for this server's own adds: new adds wait at the gate, the ones in flight
   * finish (each within its deadline), then the LLENs run with none of ours in between.
   */
  async #readWaiting(): Promise<void> {
    if (!this.isConnected) return;
    let open = (): void => undefined;
    this.#countGate = new Promise<void>((resolve) => {
      open = resolve;
    });
    try {
      if (this.#inFlight > 0) {
        await new Promise<void>((resolve) => {
          this.#whenIdle.push(resolve);
        });
      }
      const pipeline = this.#redis.pipeline();
      for (const queue of this.#queues) pipeline.llen(queue.keys['wait'] ?? '');
      const replies = (await pipeline.exec()) ?? [];
      let total = 0;
      for (const [err, n] of replies) {
        if (err) throw err;
        total += Number(n);
      }
      this.#waitingBase = total;
      this.#acceptedAtBase = this.#accepted;
      this.#countedOnce = true;
    } catch (err) {
      this.#logError(err, 'could not read the waiting count');
    } finally {
      this.#countGate = undefined;
      open();
    }
  }

  /**
   * `/readyz` reason `queue`: Redis unreachable, or queue_max_waiting reached (a new upload would
   * be refused; every listener of the cluster sees the same queue, so a balancer stops them all).
   */
  readinessReason(): string | undefined {
    if (!this.isConnected || !this.#countedOnce) return 'queue';
    if (this.waitingEstimate >= this.#options.settings.queue_max_waiting) return 'queue';
    return undefined;
  }

  #logError(err: unknown, message: string): void {
    const now = Date.now();
    if (now - this.#lastErrorLogAt < 5000) return;
    this.#lastErrorLogAt = now;
    this.#log.warn({ err: (err as Error).message }, message);
  }

  /** Stops the refresh, closes the partition queues and the connection. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#timer);
      this.#refusalLog.close();
      this.#stopReportingWaiting();
      await this.#refreshing;
      await Promise.all(this.#queues.map((q) => q.close().catch(() => undefined)));
      await closeConnection(this.#redis);
    })();
    return this.#closing;
  }
}

/** One line when Redis goes away and one when it is back (uploads meanwhile get SEND ERR). */
function logConnectionChanges(redis: Redis, log: Logger): void {
  let lost = false;
  redis.on('close', () => {
    if (lost) return;
    lost = true;
    log.warn({ event: 'queue_redis_lost' }, 'queue: Redis connection lost; uploads are refused');
  });
  redis.on('ready', () => {
    if (!lost) return;
    lost = false;
    log.info({ event: 'queue_redis_back' }, 'queue: Redis reachable again');
  });
}
