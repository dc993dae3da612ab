import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, Gauge } from 'prom-client';
import { describeError } from '../../core/index.js';
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

export function createBatchWriter(config: BatchWriterConfig, deps: BatchWriterDeps): BatchWriter {
  const log = deps.logger.child({ component: 'dataserver-writer' });
  const metrics = {
    retries: new Counter({
      name: 'pandora_dataserver_db_retries_total',
      help: 'Batches retried after a database error (reason: duplicate, lock, transient, timeout, error)',
      labelNames: ['reason'] as const,
      registers: [deps.registry],
    }),
    dbUp: new Gauge({
      name: 'pandora_dataserver_db_up',
      help: '1 while the database accepts our batches',
      registers: [deps.registry],
    }),
  };
  const transaction = createBatchTransaction(config, deps);
  metrics.dbUp.set(1);

  const queue: Pending[] = [];
  const activeAgents = new Set<string>();
  let running = 0;
  let runningJobs = 0;
  let available = true;
  let closing = false;
  let timer: NodeJS.Timeout | undefined;
  let idleWaiters: (() => void)[] = [];
  const closeController = new AbortController();

  function setAvailable(up: boolean): void {
    if (available === up) return;
    available = up;
    metrics.dbUp.set(up ? 1 : 0);
    if (up) log.info('database reachable again; resuming');
    else log.error('database unreachable; pausing intake and retrying');
  }

  function notifyIdle(): void {
    if (queue.length === 0 && running === 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  function kick(force = false): void {
    while (running < config.maxConcurrentBatches && (available || running === 0)) {
      if (queue.length === 0) break;
      if (!force && !closing && queue.length < config.batchFiles) {
        timer ??= setTimeout(() => {
          timer = undefined;
          kick(true);
        }, config.batchWaitMs).unref();
        break;
      }
      const batch = takeBatch();
      if (batch.length === 0) break;
      running++;
      runningJobs += batch.length;
      void runBatch(batch).finally(() => {
        running--;
        runningJobs -= batch.length;
        for (const p of batch) if (p.agentKey !== undefined) activeAgents.delete(p.agentKey);
        // Start the next batch at once only if the database would otherwise sit idle; while
        // another batch runs, let this one fill (or wait batchWaitMs): batches of a few files
        // cost MariaDB about a third more CPU per packet than full ones (end-to-end bench).
        kick(running === 0);
        notifyIdle();
      });
      force = queue.length > 0;
    }
  }

  /** Up to batchFiles jobs, at most one per agent, none for an agent in another running batch. */
  function takeBatch(): Pending[] {
    const batch: Pending[] = [];
    for (let i = 0; i < queue.length && batch.length < config.batchFiles;) {
      const p = queue[i];
      if (p === undefined) break;
      if (p.agentKey !== undefined && activeAgents.has(p.agentKey)) {
        i++;
        continue;
      }
      if (p.agentKey !== undefined) activeAgents.add(p.agentKey);
      batch.push(p);
      queue.splice(i, 1);
    }
    return batch;
  }

  async function runBatch(batch: Pending[]): Promise<void> {
    let items = batch;
    let backoff = BACKOFF_MIN_MS;
    while (items.length > 0) {
      try {
        const outcomes = await transaction.run(items.map((p) => p.job));
        setAvailable(true);
        items.forEach((p, i) => {
          const outcome = outcomes[i];
          p.resolve(outcome ? { status: 'committed', outcome } : { status: 'committed' });
        });
        return;
      } catch (err) {
        for (const p of items) if (p.agentKey !== undefined) deps.cache.evict(p.agentKey);
        if (err instanceof DuplicateFilesError) {
          metrics.retries.labels('duplicate').inc();
          items = items.filter((p) => {
            const sha = p.job.kind === 'packet' ? p.job.sha256 : p.job.file?.sha256;
            const dup = sha !== undefined && err.hashes.has(sha.toString('hex'));
            if (dup) p.resolve({ status: 'duplicate' });
            return !dup;
          });
          continue;
        }
        const code = (err as { code?: unknown }).code;
        if (code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT') {
          // Another writer (a peer server, the unknown task) held our rows: the database is fine.
          metrics.retries.labels('lock').inc();
          log.info({ code }, 'batch lost a lock conflict; retrying');
          await sleep(Math.floor(Math.random() * 50));
          continue;
        }
        if (isTransientDbError(err)) {
          metrics.retries.labels(err instanceof BatchTimeoutError ? 'timeout' : 'transient').inc();
          if (!(await waitOutOutage(items, err, backoff))) return;
          backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
          continue;
        }
        metrics.retries.labels('error').inc();
        await isolateRefused(items, err);
        return;
      }
    }
  }

  /**
   * The database is away: marks it so and sleeps `backoff` (plus jitter) before the retry.
   * False when shutting down instead: the files stay claimed (`abandoned`).
   */
  async function waitOutOutage(items: Pending[], err: unknown, backoff: number): Promise<boolean> {
    setAvailable(false);
    if (closing) {
      log.warn(
        { files: items.length },
        'shutting down while the database is away; files stay claimed',
      );
      for (const p of items) p.resolve({ status: 'abandoned' });
      return false;
    }
    log.warn({ err: describeError(err), retryInMs: backoff }, 'batch failed; retrying');
    try {
      await sleep(backoff + Math.floor(Math.random() * 100), undefined, {
        signal: closeController.signal,
      });
      return true;
    } catch {
      // close() during the outage: stop retrying; the files stay claimed.
      for (const p of items) p.resolve({ status: 'abandoned' });
      return false;
    }
  }

  /** A batch the database refuses for a reason retrying cannot fix: find the job, fail only it. */
  async function isolateRefused(items: Pending[], err: unknown): Promise<void> {
    if (items.length > 1) {
      // Write each job alone.
      log.error(
        { err: describeError(err), files: items.length },
        'batch refused; retrying file by file',
      );
      for (const p of items) await runBatch([p]);
      return;
    }
    const only = items[0];
    const { message } = describeError(err);
    log.error(
      {
        err: describeError(err),
        file: only?.job.kind === 'packet' ? only.job.fileName : undefined,
      },
      'write refused',
    );
    only?.resolve({ status: 'failed', error: message });
  }

  return {
    submit(job) {
      if (closing) return Promise.resolve({ status: 'abandoned' });
      return new Promise<WriteResult>((resolve) => {
        const agentKey = job.kind === 'packet' ? lookupKey(job.packet.agentNameEncoded) : undefined;
        queue.push({ job, agentKey, resolve });
        kick();
      });
    },
    get pending() {
      return queue.length + runningJobs;
    },
    get available() {
      return available;
    },
    drain() {
      if (queue.length === 0 && running === 0) return Promise.resolve();
      kick(true);
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    async close(graceMs = Number.POSITIVE_INFINITY) {
      closing = true;
      if (timer) clearTimeout(timer);
      const giveUp = () => {
        // Nothing queued can commit now (the database is away, or the grace is over); leave
        // those files claimed for the next start.
        for (const p of queue.splice(0)) p.resolve({ status: 'abandoned' });
        closeController.abort();
      };
      if (!available) giveUp();
      kick(true);
      // A batch the database does not answer (a partition) would hold the shutdown until its
      // deadline: past the grace, drop its connection; its files stay claimed.
      const grace = Number.isFinite(graceMs)
        ? setTimeout(() => {
            log.warn(
              { batches: running, queued: queue.length },
              'shutdown grace over with batches still running; dropping them, their files stay claimed',
            );
            giveUp();
            transaction.abortAll();
          }, graceMs)
        : undefined;
      await this.drain();
      clearTimeout(grace);
    },
  };
}
