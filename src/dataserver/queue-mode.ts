import type { Registry } from 'prom-client';
import type { Settings, SettingsTable } from '../core/index.js';
import type { QueueSettings } from '../queue/index.js';
import type { IntakeFactory } from './dataserver.js';
import { createQueueIntake } from './stages/queue-intake.js';
import { createQueueSource } from './stages/queue-source.js';

/** The worker side's own key (the shared ones are `QUEUE_SETTINGS`, src/queue). */
export const QUEUE_WORKER_SETTINGS = {
  queue_lock_ms: {
    kind: 'int',
    default: 30_000,
    min: 1000,
    max: 600_000,
    help: "milliseconds a worker's hold on a queued packet lasts without renewal: a dead server's packets are taken again after about this long (shorter = faster failover, but a server whose event loop stalls that long loses its jobs to others)",
    extension: true,
  },
} as const satisfies SettingsTable;

export type QueueWorkerSettings = Settings<typeof QUEUE_WORKER_SETTINGS>;

/**
 * The dataserver's intake in scale-out mode (`queue_url` set): the partition queues of the
 * shared Redis instead of the spool folder. Undefined when `queue_url` is unset (one machine,
 * no Redis).
 */
export function queueIntakeFactory(
  s: QueueSettings & QueueWorkerSettings,
  options: { readonly poisonDeaths: number },
  deps: { readonly registry: Registry },
): IntakeFactory | undefined {
  if (s.queue_url === '') return undefined;
  return ({ log, ready }) =>
    createQueueIntake(
      { poisonStarts: options.poisonDeaths },
      {
        source: createQueueSource(
          {
            url: s.queue_url,
            prefix: s.queue_prefix,
            partitions: s.queue_partitions,
            lockMs: s.queue_lock_ms,
          },
          log,
        ),
        log,
        registry: deps.registry,
        ready,
      },
    );
}
