import { Queue, WaitingError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { ConfigError, describeError, type Logger } from '../../core/index.js';
import {
  decodePacketBytes,
  META_PARTITIONS_FIELD,
  metaKey,
  partitionQueueName,
  PACKET_JOB,
  QUARANTINE_ENTRY_BYTES,
  QUARANTINE_KEPT,
  quarantineKey,
  type PacketJobData,
  type QuarantineEntry,
} from '../../queue/index.js';

/**
 * Stall recoveries BullMQ allows before it fails a job itself. Ours are counted per handing
 * (`STARTS_FIELD`) and end in a quarantine, so BullMQ's own limit must never be the one reached.
 */
const MAX_STALLED_COUNT = 1_000_000;
/** Our start counter, a field of BullMQ's job hash: it goes when the job is removed. */
const STARTS_FIELD = 'ti:starts';
/** An idle worker's blocking fetch times out after this many seconds (then it blocks again). */
const DRAIN_DELAY_SEC = 5;
/** Error logs of one kind (Redis away) at most this often. */
const ERROR_LOG_EVERY_MS = 10_000;

/** A job this process holds: its packet, decoded, and where it came from. */
export interface ArrivedJob {
  readonly partition: number;
  readonly jobId: string;
  readonly name: string;
  readonly bytes: Buffer;
  readonly storedAt: number;
  readonly via: string;
  /** Handings of this job that never finished (deaths of the processes that held it). */
  readonly starts: number;
}

/** How a held job leaves this process: completed in Redis, or back at the head of its queue. */
export type JobOutcome = 'complete' | 'release';

/** Cluster-wide figures of the partition queues (summed), read from Redis. */
export interface QueueFigures {
  readonly waiting: number;
  readonly active: number;
  /** Age in seconds of the oldest waiting packet (its `storedAt`), 0 when none waits. */
  readonly oldestWaitingAgeSec: number;
}

export interface QueueSourceConfig {
  readonly url: string;
  readonly prefix: string;
  readonly partitions: number;
  /** BullMQ lock duration: a dead worker's job is taken again after about this long. */
  readonly lockMs: number;
}

export interface QueueSource {
  /** The Redis list refused packets are kept in (topology.ts quarantineKey). */
  readonly quarantineKey: string;
  /** Sets global concurrency 1 on every partition and starts one worker per partition. */
  start(onJob: (job: ArrivedJob) => Promise<JobOutcome>): Promise<void>;
  /** A start of the job (handed to processing) is recorded before it runs. */
  countStart(job: ArrivedJob): void;
  /** The handing ended without the job finishing and without a death (shutdown, outage). */
  uncountStart(job: ArrivedJob): void;
  figures(): Promise<QueueFigures>;
  /** Keeps a refused packet's bytes in the quarantine list (before its job completes). */
  quarantine(job: ArrivedJob, suffix: string): Promise<void>;
  /** Stops fetching; resolves once every held job has completed or been released. */
  close(): Promise<void>;
}

/**
 * Waiting and active jobs over the partition queues, and the add time of the oldest job at the
 * head of a wait list (the next one each partition hands out), in one round trip.
 * KEYS: wait and active list of each partition; ARGV[1]: the job-key prefix of each, `|`-joined.
 * The add time is BullMQ's own `timestamp` field of the job (set by the listener's add, the same
 * moment as the packet's `storedAt`): decoding each head job's data for `storedAt` parsed its
 * whole base64 body, 1.8 ms of Redis CPU per call against 0.13 ms with 64 partitions of 7 KB
 * packets waiting; every worker server calls it each second.
 */
const FIGURES_LUA = `
local waiting, active, oldest = 0, 0, 0
local prefixes = {}
for p in string.gmatch(ARGV[1], '[^|]+') do prefixes[#prefixes + 1] = p end
for i = 1, #KEYS, 2 do
  local n = redis.call('LLEN', KEYS[i])
  waiting = waiting + n
  active = active + redis.call('LLEN', KEYS[i + 1])
  if n > 0 then
    local id = redis.call('LINDEX', KEYS[i], -1)
    local t = tonumber(redis.call('HGET', prefixes[(i + 1) / 2] .. id, 'timestamp'))
    if t and (oldest == 0 or t < oldest) then oldest = t end
  end
end
return {waiting, active, oldest}
`;

/**
 * The consumer side of the shared queue: one BullMQ worker (concurrency 1) per partition queue,
 * each queue with global concurrency 1, so the cluster has at most one active job per partition
 * (scaleout.md §2). A job's processor hands the packet to `onJob` and waits for its outcome:
 * `complete` returns (BullMQ completes the job and fetches the partition's next one in the same
 * call); `release` moves it back to the head of its wait list. No BullMQ retries (attempts 1):
 * they would put the job behind younger packets.
 */
export function createQueueSource(config: QueueSourceConfig, log: Logger): QueueSource {
  return new BullQueueSource(config, log);
}

type OnJob = (job: ArrivedJob) => Promise<JobOutcome>;

class BullQueueSource implements QueueSource {
  readonly #config: QueueSourceConfig;
  readonly #log: Logger;
  readonly #redis: Redis;
  readonly #workers: Worker<PacketJobData>[] = [];
  readonly #lastErrorLog = new Map<string, number>();
  readonly #queueNames: string[];
  #closed: Promise<void> | undefined;

  constructor(config: QueueSourceConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
    this.#redis = new Redis(config.url, { maxRetriesPerRequest: null, lazyConnect: true });
    this.#queueNames = Array.from({ length: config.partitions }, (_, p) => partitionQueueName(p));
    this.#redis.on('error', (err) => {
      this.#logError('redis', err);
    });
  }

  async start(onJob: OnJob): Promise<void> {
    const { prefix, partitions, lockMs } = this.#config;
    await this.#redis.connect();
    await this.#checkPartitions();
    const queues = this.#queueNames.map(
      (name) => new Queue(name, { connection: this.#redis, prefix }),
    );
    try {
      await Promise.all(queues.map((q) => q.setGlobalConcurrency(1)));
    } finally {
      await Promise.all(queues.map((q) => q.close()));
    }
    for (let p = 0; p < partitions; p++) this.#workers.push(this.#createWorker(p, onJob));
    for (const w of this.#workers) {
      w.run().catch((err: unknown) => {
        this.#logError('worker', err);
      });
    }
    this.#log.info({ prefix, partitions, lockMs }, 'queue workers started');
  }

  get quarantineKey(): string {
    return quarantineKey(this.#config.prefix);
  }

  countStart(job: ArrivedJob): void {
    this.#addStarts(job, 1);
  }

  async quarantine(job: ArrivedJob, suffix: string): Promise<void> {
    const truncated = job.bytes.length > QUARANTINE_ENTRY_BYTES;
    const entry: QuarantineEntry = {
      name: job.name,
      bytes: job.bytes.subarray(0, QUARANTINE_ENTRY_BYTES).toString('base64'),
      storedAt: job.storedAt,
      via: job.via,
      suffix,
      partition: job.partition,
      at: Date.now(),
      ...(truncated && { truncatedFrom: job.bytes.length }),
    };
    await this.#redis
      .multi()
      .lpush(this.quarantineKey, JSON.stringify(entry))
      .ltrim(this.quarantineKey, 0, QUARANTINE_KEPT - 1)
      .exec();
  }

  uncountStart(job: ArrivedJob): void {
    this.#addStarts(job, -1);
  }

  async figures(): Promise<QueueFigures> {
    const { prefix } = this.#config;
    const keys = this.#queueNames.flatMap((n) => [`${prefix}:${n}:wait`, `${prefix}:${n}:active`]);
    const prefixes = this.#queueNames.map((n) => `${prefix}:${n}:`).join('|');
    const [waiting, active, oldest] = (await this.#redis.eval(
      FIGURES_LUA,
      keys.length,
      ...keys,
      prefixes,
    )) as [number, number, number];
    const ageSec = oldest > 0 ? Math.max(0, (Date.now() - oldest) / 1000) : 0;
    return { waiting, active, oldestWaitingAgeSec: ageSec };
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      // Not forced: each worker waits for its held job's outcome (the caller settles them).
      await Promise.all(this.#workers.map((w) => w.close()));
      await this.#redis.quit().catch(() => undefined);
    })();
    return this.#closed;
  }

  #jobKey(p: number, id: string): string {
    return `${this.#config.prefix}:${this.#queueNames[p] ?? ''}:${id}`;
  }

  #addStarts(job: ArrivedJob, by: number): void {
    this.#redis
      .hincrby(this.#jobKey(job.partition, job.jobId), STARTS_FIELD, by)
      .catch((err: unknown) => {
        this.#logError('starts', err);
      });
  }

  #logError(kind: string, err: unknown): void {
    const now = Date.now();
    if (now - (this.#lastErrorLog.get(kind) ?? 0) < ERROR_LOG_EVERY_MS) return;
    this.#lastErrorLog.set(kind, now);
    this.#log.error({ err: describeError(err), kind }, 'queue error');
  }

  async #startsOf(p: number, job: Job<PacketJobData>): Promise<number> {
    // Only a job that stalled (its holder lost it) can have starts left unfinished: skips a
    // round trip for every other job.
    if (job.stalledCounter === 0) return 0;
    return Number((await this.#redis.hget(this.#jobKey(p, job.id ?? ''), STARTS_FIELD)) ?? 0);
  }

  #processorOf(p: number, onJob: OnJob) {
    return async (job: Job<PacketJobData>, token?: string): Promise<void> => {
      if (job.name !== PACKET_JOB) {
        this.#log.warn(
          { partition: p, jobId: job.id, job: job.name },
          'not a packet job; completed',
        );
        return;
      }
      const { data } = job;
      const outcome = await onJob({
        partition: p,
        jobId: job.id ?? '',
        name: data.name,
        bytes: decodePacketBytes(data),
        storedAt: data.storedAt,
        via: data.via,
        starts: await this.#startsOf(p, job),
      });
      if (outcome === 'complete') return;
      // Back to the head of the wait list (RPUSH: the next job the partition hands out), so it
      // keeps its place before the agent's younger packets.
      await job.moveToWait(token);
      throw new WaitingError();
    };
  }

  #createWorker(p: number, onJob: OnJob): Worker<PacketJobData> {
    const { prefix, lockMs } = this.#config;
    const worker = new Worker<PacketJobData>(
      this.#queueNames[p] ?? '',
      this.#processorOf(p, onJob),
      {
        connection: this.#redis,
        prefix,
        concurrency: 1,
        autorun: false,
        lockDuration: lockMs,
        stalledInterval: Math.max(500, Math.floor(lockMs / 2)),
        maxStalledCount: MAX_STALLED_COUNT,
        drainDelay: DRAIN_DELAY_SEC,
        removeOnComplete: { count: 0 },
        removeOnFail: { count: 10_000 },
      },
    );
    worker.on('error', (err) => {
      this.#logError('worker', err);
    });
    worker.on('failed', (job, err) => {
      // Never expected (the processor only throws to release): say so, with the job.
      this.#log.error(
        { err: describeError(err), partition: p, jobId: job?.id },
        'queue job failed',
      );
    });
    return worker;
  }

  /**
   * A worker with another P would read other queues than the listeners fill, and apply an
   * agent's packets out of order: refused. The listeners own the record (they rewrite it when
   * the queue is empty); a worker only reads it.
   */
  async #checkPartitions(): Promise<void> {
    const { prefix, partitions } = this.#config;
    const recorded = await this.#redis.hget(metaKey(prefix), META_PARTITIONS_FIELD);
    if (recorded === null || Number(recorded) === partitions) return;
    throw new ConfigError(
      `queue_partitions is ${String(partitions)} but the queue under prefix "${prefix}" has ${recorded} partitions: use queue_partitions ${recorded} on every server of the cluster`,
    );
  }
}
