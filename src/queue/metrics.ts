import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { zeroSeries } from '../core/index.js';

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
  readonly waiting: Gauge;
  readonly forwarded: Counter;
}

function once<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

/** The listener side's metrics (scaleout.md §5), registered once per registry. */
export function createProducerMetrics(registry: Registry): ProducerMetrics {
  const registers = [registry];
  return {
    enqueueDuration: once(
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
    enqueued: once(
      registry,
      'pandora_queue_enqueued_total',
      () =>
        new Counter({
          name: 'pandora_queue_enqueued_total',
          help: 'Packets this server added to the queue (durably)',
          registers,
        }),
    ),
    refusals: once(registry, 'pandora_queue_refusals_total', () => {
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
    waiting: once(
      registry,
      'pandora_queue_waiting_packets',
      () =>
        new Gauge({
          name: 'pandora_queue_waiting_packets',
          help: 'Packets waiting in the queue, summed over partitions (refreshed periodically)',
          registers,
        }),
    ),
    forwarded: once(
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
