import type { Settings, SettingsTable } from '../core/index.js';

/**
 * Scale-out keys (spec scaleout.md §1). `queue_url` unset keeps the embedded default: local
 * spool, in-process queue, no Redis.
 */
export const QUEUE_SETTINGS = {
  queue_url: {
    kind: 'string',
    default: '',
    help: 'redis://[user:pass@]host:port[/db] or rediss://…; set = scale-out mode (servers share packets through Redis/BullMQ)',
    secret: true,
    extension: true,
  },
  queue_prefix: {
    kind: 'string',
    default: 'pandora',
    help: 'BullMQ key prefix, so several installations can share one Redis',
    extension: true,
  },
  queue_partitions: {
    kind: 'int',
    default: 64,
    min: 1,
    max: 4096,
    help: 'Partitions (one BullMQ queue each, one active job each); fixed for the life of a queue',
    extension: true,
  },
  queue_max_waiting: {
    kind: 'int',
    default: 100_000,
    min: 1,
    help: 'Above this many waiting packets, uploads are refused (SEND ERR) and agents resend later',
    extension: true,
  },
} as const satisfies SettingsTable;

export type QueueSettings = Settings<typeof QUEUE_SETTINGS>;
