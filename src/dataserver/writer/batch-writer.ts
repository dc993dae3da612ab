import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, Gauge } from 'prom-client';
import { describeError, zeroSeries } from '../../core/index.js';
import { isTransientDbError } from '../../db/index.js';
import { lookupKey } from '../types.js';
import { createBatchTransaction } from './batch-transaction.js';
import {
  BatchTimeoutError,
  DuplicateFilesError,
  type BatchWriterConfig,
  type BatchWriterDeps,
  type WriteJob,
  type WriteResult,
} from './jobs.js';

export type { BatchWriterConfig, BatchWriterDeps, WriteJob, WriteResult } from './jobs.js';

export interface BatchWriter {
  submit(job: WriteJob): Promise<WriteResult>;
  /** Jobs waiting for a batch plus jobs in running batches. */
  readonly pending: number;
  /** False while the database is unreachable (the pipeline stops claiming). */
  readonly available: boolean;
  /** Resolves when nothing is pending or running. */
  drain(): Promise<void>;
  /**
   * Stops taking jobs and finishes what is queued and running; past `graceMs` the rest is
   * abandoned (files stay claimed) and running batches lose their connections.
   */
  close(graceMs?: number): Promise<void>;
}

interface Pending {
  readonly job: WriteJob;
  readonly agentKey: string | undefined;
  readonly resolve: (r: WriteResult) => void;
}

const BACKOFF_MIN_MS = 200;
const BACKOFF_MAX_MS = 5000;

type WriterLog = BatchWriterDeps['logger'];

function writerMetrics(registry: BatchWriterDeps['registry']) {
  const retries = new Counter({
    name: 'pandora_dataserver_db_retries_total',
    help: 'Batches retried after a database error (reason: duplicate, lock, transient, timeout, error)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  zeroSeries(
    retries,
    ['duplicate', 'lock', 'transient', 'timeout', 'error'].map((reason) => ({ reason })),
  );
  return {
    retries,
    dbUp: new Gauge({
      name: 'pandora_dataserver_db_up',
      help: '1 while the database accepts our batches',
      registers: [registry],
    }),
  };
}

/** Jobs waiting for a batch, and the agents that have a job in a running batch. */
class JobQueue {
  readonly #batchFiles: number;
  readonly jobs: Pending[] = [];
  readonly #activeAgents = new Set<string>();

  constructor(batchFiles: number) {
    this.#batchFiles = batchFiles;
  }

  /** Up to batchFiles jobs, at most one per agent, none for an agent in another running batch. */
  takeBatch(): Pending[] {
    const queue = this.jobs;
    const batch: Pending[] = [];
    for (let i = 0; i < queue.length && batch.length < this.#batchFiles;) {
      const p = queue[i];
      if (p === undefined) break;
      if (p.agentKey !== undefined && this.#activeAgents.has(p.agentKey)) {
        i++;
        continue;
      }
      if (p.agentKey !== undefined) this.#activeAgents.add(p.agentKey);
      batch.push(p);
      queue.splice(i, 1);
    }
    return batch;
  }

  /** A batch ended: its agents may be batched again. */
  release(batch: readonly Pending[]): void {
    for (const p of batch) if (p.agentKey !== undefined) this.#activeAgents.delete(p.agentKey);
  }
}

/**
 * One batch until every job in it has an answer: committed, duplicate (ledger), retried after a
 * lock conflict or an outage (with backoff; abandoned when closing), or refused file by file.
 */
class BatchRunner {
  readonly #transaction: ReturnType<typeof createBatchTransaction>;
  readonly #deps: BatchWriterDeps;
  readonly #log: WriterLog;
  readonly #metrics: ReturnType<typeof writerMetrics>;
  readonly #closeController = new AbortController();
  available = true;
  closing = false;

  constructor(config: BatchWriterConfig, deps: BatchWriterDeps, log: WriterLog) {
    this.#deps = deps;
    this.#log = log;
    this.#metrics = writerMetrics(deps.registry);
    this.#transaction = createBatchTransaction(config, deps);
    this.#metrics.dbUp.set(1);
  }

  /** Stops retrying outages at once (their files stay claimed). */
  stopRetrying(): void {
    this.#closeController.abort();
  }

  /** Drops the connections of running batches (their files stay claimed). */
  abortAll(): void {
    this.#transaction.abortAll();
  }

  async run(batch: Pending[]): Promise<void> {
    let items = batch;
    let backoff = BACKOFF_MIN_MS;
    while (items.length > 0) {
      try {
        const outcomes = await this.#transaction.run(items.map((p) => p.job));
        this.#setAvailable(true);
        items.forEach((p, i) => {
          const outcome = outcomes[i];
          p.resolve(outcome ? { status: 'committed', outcome } : { status: 'committed' });
        });
        return;
      } catch (err) {
        for (const p of items) if (p.agentKey !== undefined) this.#deps.cache.evict(p.agentKey);
        if (err instanceof DuplicateFilesError) {
          this.#metrics.retries.labels('duplicate').inc();
          items = answerDuplicates(items, err);
          continue;
        }
        const code = (err as { code?: unknown }).code;
        if (code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT') {
          // Another writer (a peer server, the unknown task) held our rows: the database is fine.
          this.#metrics.retries.labels('lock').inc();
          this.#log.info({ code }, 'batch lost a lock conflict; retrying');
          await sleep(Math.floor(Math.random() * 50));
          continue;
        }
        if (isTransientDbError(err)) {
          const reason = err instanceof BatchTimeoutError ? 'timeout' : 'transient';
          this.#metrics.retries.labels(reason).inc();
          if (!(await this.#waitOutOutage(items, err, backoff))) return;
          backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
          continue;
        }
        this.#metrics.retries.labels('error').inc();
        await this.#isolateRefused(items, err);
        return;
      }
    }
  }

  #setAvailable(up: boolean): void {
    if (this.available === up) return;
    this.available = up;
    this.#metrics.dbUp.set(up ? 1 : 0);
    if (up) this.#log.info('database reachable again; resuming');
    else this.#log.error('database unreachable; pausing intake and retrying');
  }

  /**
   * The database is away: marks it so and sleeps `backoff` (plus jitter) before the retry.
   * False when shutting down instead: the files stay claimed (`abandoned`).
   */
  async #waitOutOutage(items: Pending[], err: unknown, backoff: number): Promise<boolean> {
    this.#setAvailable(false);
    if (this.closing) {
      this.#log.warn(
        { files: items.length },
        'shutting down while the database is away; files stay claimed',
      );
      for (const p of items) p.resolve({ status: 'abandoned' });
      return false;
    }
    this.#log.warn({ err: describeError(err), retryInMs: backoff }, 'batch failed; retrying');
    try {
      await sleep(backoff + Math.floor(Math.random() * 100), undefined, {
        signal: this.#closeController.signal,
      });
      return true;
    } catch {
      // close() during the outage: stop retrying; the files stay claimed.
      for (const p of items) p.resolve({ status: 'abandoned' });
      return false;
    }
  }

  /** A batch the database refuses for a reason retrying cannot fix: find the job, fail only it. */
  async #isolateRefused(items: Pending[], err: unknown): Promise<void> {
    if (items.length > 1) {
      // Write each job alone.
      this.#log.error(
        { err: describeError(err), files: items.length },
        'batch refused; retrying file by file',
      );
      for (const p of items) await this.run([p]);
      return;
    }
    const only = items[0];
    const { message } = describeError(err);
    this.#log.error(
      {
        err: describeError(err),
        file: only?.job.kind === 'packet' ? only.job.fileName : undefined,
      },
      'write refused',
    );
    only?.resolve({ status: 'failed', error: message });
  }
}

/** Answers the jobs whose files the ledger already holds; returns the others. */
function answerDuplicates(items: Pending[], err: DuplicateFilesError): Pending[] {
  return items.filter((p) => {
    const sha = p.job.kind === 'packet' ? p.job.sha256 : p.job.file?.sha256;
    const dup = sha !== undefined && err.hashes.has(sha.toString('hex'));
    if (dup) p.resolve({ status: 'duplicate' });
    return !dup;
  });
}

export function createBatchWriter(config: BatchWriterConfig, deps: BatchWriterDeps): BatchWriter {
  return new QueuedBatchWriter(config, deps);
}

/**
 * Jobs become batches of up to batchFiles (or whatever arrived within batchWaitMs), at most
 * maxConcurrentBatches at once, and not while the database is away unless none runs.
 */
class QueuedBatchWriter implements BatchWriter {
  readonly #config: BatchWriterConfig;
  readonly #log: WriterLog;
  readonly #queue: JobQueue;
  readonly #runner: BatchRunner;
  #running = 0;
  #runningJobs = 0;
  #timer: NodeJS.Timeout | undefined;
  #idleWaiters: (() => void)[] = [];

  constructor(config: BatchWriterConfig, deps: BatchWriterDeps) {
    this.#config = config;
    this.#log = deps.logger.child({ component: 'dataserver-writer' });
    this.#queue = new JobQueue(config.batchFiles);
    this.#runner = new BatchRunner(config, deps, this.#log);
  }

  submit(job: WriteJob): Promise<WriteResult> {
    if (this.#runner.closing) return Promise.resolve({ status: 'abandoned' });
    return new Promise<WriteResult>((resolve) => {
      const agentKey = job.kind === 'packet' ? lookupKey(job.packet.agentNameEncoded) : undefined;
      this.#queue.jobs.push({ job, agentKey, resolve });
      this.#kick();
    });
  }

  get pending(): number {
    return this.#queue.jobs.length + this.#runningJobs;
  }

  get available(): boolean {
    return this.#runner.available;
  }

  drain(): Promise<void> {
    if (this.#queue.jobs.length === 0 && this.#running === 0) return Promise.resolve();
    this.#kick(true);
    return new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  async close(graceMs = Number.POSITIVE_INFINITY): Promise<void> {
    this.#runner.closing = true;
    if (this.#timer) clearTimeout(this.#timer);
    const giveUp = () => {
      // Nothing queued can commit now (the database is away, or the grace is over); leave
      // those files claimed for the next start.
      for (const p of this.#queue.jobs.splice(0)) p.resolve({ status: 'abandoned' });
      this.#runner.stopRetrying();
    };
    if (!this.#runner.available) giveUp();
    this.#kick(true);
    // A batch the database does not answer (a partition) would hold the shutdown until its
    // deadline: past the grace, drop its connection; its files stay claimed.
    const grace = Number.isFinite(graceMs)
      ? setTimeout(() => {
          this.#log.warn(
            { batches: this.#running, queued: this.#queue.jobs.length },
            'shutdown grace over with batches still running; dropping them, their files stay claimed',
          );
          giveUp();
          this.#runner.abortAll();
        }, graceMs)
      : undefined;
    await this.drain();
    clearTimeout(grace);
  }

  #kick(force = false): void {
    const { maxConcurrentBatches, batchFiles, batchWaitMs } = this.#config;
    const jobs = this.#queue.jobs;
    while (
      this.#running < maxConcurrentBatches &&
      (this.#runner.available || this.#running === 0)
    ) {
      if (jobs.length === 0) break;
      if (!force && !this.#runner.closing && jobs.length < batchFiles) {
        this.#timer ??= setTimeout(() => {
          this.#timer = undefined;
          this.#kick(true);
        }, batchWaitMs).unref();
        break;
      }
      const batch = this.#queue.takeBatch();
      if (batch.length === 0) break;
      this.#start(batch);
      force = jobs.length > 0;
    }
  }

  #start(batch: Pending[]): void {
    this.#running++;
    this.#runningJobs += batch.length;
    void this.#runner.run(batch).finally(() => {
      this.#running--;
      this.#runningJobs -= batch.length;
      this.#queue.release(batch);
      // Start the next batch at once only if the database would otherwise sit idle; while
      // another batch runs, let this one fill (or wait batchWaitMs): batches of a few files
      // cost MariaDB about a third more CPU per packet than full ones (end-to-end bench).
      this.#kick(this.#running === 0);
      this.#notifyIdle();
    });
  }

  #notifyIdle(): void {
    if (this.#queue.jobs.length === 0 && this.#running === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
