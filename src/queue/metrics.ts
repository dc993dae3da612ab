import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { metricOnce, zeroSeries } from '../core/index.js';

/** Why the listener refused an upload (`SEND ERR`); the agent keeps the file and resends. */
export const RefusalReason = {
  /** More than `queue_max_waiting` packets wait: backpressure. */
  Full: 'full',
  /** Redis unreachable or too slow to answer. */
  Unavailable: 'unavailable',
  /** The add returned but the job was not durable in time (WAITAOF / WAIT). */
  Durability: 'durability',
  /** Packets being enqueued already hold their byte budget (enqueue-memory.ts). */
  Memory: 'memory',
} as const;
export type RefusalReason = (typeof RefusalReason)[keyof typeof RefusalReason];

export interface ProducerMetrics {
  readonly enqueueDuration: Histogram;
  readonly enqueued: Counter;
  readonly refusals: Counter<'reason'>;
  readonly forwarded: Counter;
}

/** The one name of the shared queue's waiting count (scaleout.md §5: waiting jobs). */
export const JOBS_WAITING_METRIC = 'pandora_queue_jobs_waiting';

/** Readers of the waiting count per registry; the gauge reports the newest one. */
const waitingReaders = new WeakMap<Registry, (() => number)[]>();

/**
 * Reports the cluster's waiting jobs as `pandora_queue_jobs_waiting`. A listener (its periodic
 * count) and a worker (its figures) both know it; in one process they share the one series,
 * the one registered last (the worker) speaking. Returns the unregistration.
 */
export function reportJobsWaiting(registry: Registry, read: () => number): () => void {
  let readers = waitingReaders.get(registry);
  if (!readers) {
    const list: (() => number)[] = [];
    readers = list;
    waitingReaders.set(registry, list);
    new Gauge({
      name: JOBS_WAITING_METRIC,
      help: 'Packets waiting in the shared queue, summed over partitions (cluster-wide: every server reports the same queue)',
      registers: [registry],
      collect() {
        this.set(list.at(-1)?.() ?? 0);
      },
    });
  }
  const list = readers;
  list.push(read);
  return () => {
    const at = list.lastIndexOf(read);
    if (at !== -1) list.splice(at, 1);
  };
}

/** The listener side's metrics (scaleout.md §5), registered once per registry. */
export function createProducerMetrics(registry: Registry): ProducerMetrics {
  const registers = [registry];
  return {
    enqueueDuration: metricOnce(
      registry,
      'pandora_queue_enqueue_duration_seconds',
      () =>
        new Histogram({
          name: 'pandora_queue_enqueue_duration_seconds',
          help: 'Time from a received packet to its durable job in Redis (add + durability wait)',
          buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
          registers,
        }),
    ),
    enqueued: metricOnce(
      registry,
      'pandora_queue_enqueued_total',
      () =>
        new Counter({
          name: 'pandora_queue_enqueued_total',
          help: 'Packets this server added to the queue (durably)',
          registers,
        }),
    ),
    refusals: metricOnce(registry, 'pandora_queue_refusals_total', () => {
      const refusals = new Counter({
        name: 'pandora_queue_refusals_total',
        help: 'Packets refused with SEND ERR because the queue could not take them, by reason',
        labelNames: ['reason'],
        registers,
      });
      zeroSeries(
        refusals,
        Object.values(RefusalReason).map((reason) => ({ reason })),
      );
      return refusals;
    }),
    forwarded: metricOnce(
      registry,
      'pandora_queue_spool_forwarded_total',
      () =>
        new Counter({
          name: 'pandora_queue_spool_forwarded_total',
          help: 'Files found in the local incoming folder and forwarded to the queue',
          registers,
        }),
    ),
  };
}
