import { describeError, type Logger } from '../../core/index.js';
import { compareEntries } from '../spool/file-order.js';
import type { FileQueue } from '../spool/file-queue.js';
import type { SpoolDir, SpoolEntry } from '../spool/spool-dir.js';

export interface SpoolListingDeps {
  readonly spool: SpoolDir;
  readonly queue: FileQueue;
  readonly log: Logger;
  readonly maxQueueFiles: number;
  readonly lifo: boolean;
  readonly rescanIntervalMs: number;
  /** `next()` may have something new. */
  readonly ready: () => void;
  /** A listing of the spool ended (the backlog event looks at the queue then). */
  readonly listed?: (() => void) | undefined;
}

/**
 * Full listings of the spool into the bounded queue: one at a time, at start, every rescan
 * interval, on a refill and on request. It also keeps what the watcher must know before it may
 * queue a file on its own (`listedOnce`, `spilled`).
 */
export class SpoolListing {
  readonly #deps: SpoolListingDeps;
  readonly #spoolOrder: ReturnType<typeof compareEntries>;
  #scanning: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closing = false;
  /** Data files may wait on disk beyond the queue's cap (a scan or watch batch hit it). */
  spilled = false;
  /**
   * A full scan has queued everything on disk (or the oldest files up to the cap). Until then,
   * and while files are spilled, a file seen by the watcher may have older files of its agent
   * still unlisted on disk: queuing it would break ordering rule 1 (a crash-test run saw an
   * agent's packet 15 committed before 9-14, and compaction then dropped three history rows).
   */
  listedOnce = false;
  /**
   * Files the last listing found on disk and left there (the cap), and the oldest one's mtime:
   * the true backlog beyond max_queue_files, as of that listing (refills and rescans renew it).
   */
  leftOnDisk = { files: 0, oldestMtimeMs: undefined as number | undefined };
  /** A watch event came while a scan ran: scan again when it ends, for what it may have missed. */
  rescanWanted = false;

  constructor(deps: SpoolListingDeps) {
    this.#deps = deps;
    this.#spoolOrder = compareEntries(deps.lifo);
  }

  get scanning(): boolean {
    return this.#scanning !== undefined;
  }

  /**
   * One scan at a time; callers meanwhile share it. The settle handler is attached with
   * `.finally`, which always runs after `#scanning` is assigned: a scan that finishes without
   * awaiting anything (queue full) must not leave its settled promise behind as "in progress",
   * or every later scan becomes a no-op and files beyond max_queue_files stay on disk forever.
   */
  scan(): Promise<void> {
    if (this.#scanning) return this.#scanning;
    const run = this.#listSpool().finally(() => {
      if (this.#scanning === run) this.#scanning = undefined;
      this.#deps.ready();
      if (this.rescanWanted && !this.#closing) {
        this.rescanWanted = false;
        void this.scan();
      }
    });
    this.#scanning = run;
    return run;
  }

  /** A scan every rescan interval, each timed from the end of the previous one. */
  startRescans(): void {
    this.#timer = setTimeout(() => {
      void this.scan().finally(() => {
        if (!this.#closing) this.startRescans();
      });
    }, this.#deps.rescanIntervalMs).unref();
  }

  /** Files left on disk by the cap: refill at half capacity rather than at the next rescan. */
  refillIfSpilled(): void {
    const { queue, maxQueueFiles } = this.#deps;
    if (this.spilled && !this.#scanning && queue.size <= maxQueueFiles / 2) void this.scan();
  }

  /** Stops the rescans; resolves once a running scan has ended. */
  async close(): Promise<void> {
    this.#closing = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#scanning;
  }

  /** `all` sorted in spool order; its first `taken` went into the queue. */
  #noteLeftOnDisk(all: readonly SpoolEntry[], taken: number): void {
    let oldest: number | undefined;
    for (let i = taken; i < all.length; i++) {
      const mtime = all[i]?.mtimeMs;
      if (mtime !== undefined && (oldest === undefined || mtime < oldest)) oldest = mtime;
    }
    this.leftOnDisk = { files: all.length - taken, oldestMtimeMs: oldest };
  }

  async #listSpool(): Promise<void> {
    const { spool, queue, log, maxQueueFiles } = this.#deps;
    try {
      const room = maxQueueFiles - queue.size;
      if (room > 0) {
        // The whole spool, oldest first (the reference's order), cut at the cap: an agent's
        // newer file is never queued while an older one stays behind on disk.
        const all = await spool.list(Number.MAX_SAFE_INTEGER, queue.names);
        const entries = all.sort(this.#spoolOrder).slice(0, room);
        const taken = queue.add(entries.map((e) => ({ ...e, recovered: false })));
        this.spilled = all.length > entries.length || taken < entries.length;
        this.listedOnce = true;
        this.#noteLeftOnDisk(all, taken);
      } else {
        this.spilled = true;
        // The queue is full: count what waits on disk anyway, or the backlog gauges freeze.
        this.#noteLeftOnDisk(await spool.list(Number.MAX_SAFE_INTEGER, queue.names), 0);
      }
      this.#deps.listed?.();
    } catch (err) {
      log.error({ err: describeError(err) }, 'spool scan failed');
    }
  }
}
