import type { Logger } from '../../core/index.js';
import { createFileQueue } from '../spool/file-queue.js';
import type { SpoolDir } from '../spool/spool-dir.js';
import type { Intake, IntakeFile } from './intake.js';
import { SpoolListing } from './spool-listing.js';
import { SpoolWatch } from './spool-watch.js';

export interface SpoolIntakeConfig {
  readonly maxQueueFiles: number;
  readonly lifo: boolean;
  readonly rescanIntervalMs: number;
}

export interface SpoolIntakeDeps {
  readonly spool: SpoolDir;
  readonly log: Logger;
  /** `next()` may have something new. */
  readonly ready: () => void;
  /** A listing of the spool ended (the backlog event looks at the queue then). */
  readonly listed?: () => void;
}

/**
 * The spool folder as an intake: a full listing at start and every rescan interval
 * (spool-listing.ts), a watcher for what arrives between them (spool-watch.ts), and a bounded
 * queue (max_queue_files) that keeps the intake's ordering rules. Files beyond the cap stay on
 * disk ("spilled") until the queue drains to half.
 */
export function createSpoolIntake(config: SpoolIntakeConfig, deps: SpoolIntakeDeps): Intake {
  const { spool, log, ready } = deps;
  const { maxQueueFiles, lifo, rescanIntervalMs } = config;
  const queue = createFileQueue({ capacity: maxQueueFiles, lifo });
  const listing = new SpoolListing({
    spool,
    queue,
    log,
    maxQueueFiles,
    lifo,
    rescanIntervalMs,
    ready,
    listed: deps.listed,
  });
  const watcher = new SpoolWatch({ spool, queue, log, lifo, listing, ready });

  return {
    store: spool,
    async start(recovered) {
      queue.add(recovered);
      watcher.start(spool.incomingDir);
      listing.startRescans();
      await listing.scan();
    },
    next: () => queue.next(),
    done(file: IntakeFile) {
      queue.done(file);
      listing.refillIfSpilled();
    },
    wake(name) {
      if (name === undefined) void listing.scan();
      else watcher.seen(name);
    },
    refresh: () => listing.scan(),
    get size() {
      return queue.size;
    },
    get leftAtSource() {
      return listing.spilled;
    },
    backlog: (limit) => queue.backlog(limit),
    waiting() {
      const onDisk = listing.leftOnDisk;
      const queued = queue.oldestWaitingMtimeMs();
      const oldest =
        queued === undefined || onDisk.oldestMtimeMs === undefined
          ? (queued ?? onDisk.oldestMtimeMs)
          : Math.min(queued, onDisk.oldestMtimeMs);
      return { files: queue.size + onDisk.files, oldestMtimeMs: oldest };
    },
    report: () => ({
      queued: queue.size,
      readyKeys: queue.ready,
      busyKeys: queue.inFlight,
      filesLeftOnDisk: listing.spilled,
      scanning: listing.scanning,
    }),
    async close() {
      watcher.close();
      await listing.close();
    },
  };
}
