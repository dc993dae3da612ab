import { watch, type FSWatcher } from 'node:fs';
import { describeError, type Logger } from '../../core/index.js';
import { compareEntries } from '../spool/file-order.js';
import type { FileQueue } from '../spool/file-queue.js';
import type { SpoolDir } from '../spool/spool-dir.js';
import type { SpoolListing } from './spool-listing.js';

const WATCH_BATCH_MS = 5;

export interface SpoolWatchDeps {
  readonly spool: SpoolDir;
  readonly queue: FileQueue;
  readonly log: Logger;
  readonly lifo: boolean;
  /** Tells whether a watched file may be queued before the next listing. */
  readonly listing: SpoolListing;
  /** `next()` may have something new. */
  readonly ready: () => void;
}

/**
 * What arrives in the spool between listings: names from the folder watcher (or from
 * Tentacle's wake), gathered for a few milliseconds and queued together, unless older files of
 * their agents may still wait unlisted on disk; then a listing queues them in order.
 */
export class SpoolWatch {
  readonly #deps: SpoolWatchDeps;
  readonly #spoolOrder: ReturnType<typeof compareEntries>;
  readonly #names = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #watcher: FSWatcher | undefined;
  #closing = false;

  constructor(deps: SpoolWatchDeps) {
    this.#deps = deps;
    this.#spoolOrder = compareEntries(deps.lifo);
  }

  start(dir: string): void {
    const { log } = this.#deps;
    try {
      this.#watcher = watch(dir, { persistent: false }, (_event, name) => {
        this.seen(name);
      });
      this.#watcher.on('error', (err) => {
        log.warn({ err: describeError(err) }, 'spool watch failed; rescans continue');
      });
    } catch (err) {
      log.warn({ err: describeError(err) }, 'spool watch unavailable; relying on rescans');
    }
  }

  /** A name appeared in the spool (null: the watcher could not tell which). */
  seen(name: string | null): void {
    if (this.#closing || name === null || this.#deps.queue.names.has(name)) return;
    this.#names.add(name);
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#queueBatch();
    }, WATCH_BATCH_MS);
  }

  close(): void {
    this.#closing = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#watcher?.close();
  }

  #queueBatch(): void {
    const { listing, log } = this.#deps;
    const names = [...this.#names];
    this.#names.clear();
    if (!listing.listedOnce || listing.spilled) {
      // Older files may wait unlisted on disk: a scan queues this one after them (the first
      // one is running now at start; while spilled, the refill and the rescans do it).
      if (!listing.listedOnce) listing.rescanWanted = true;
      return;
    }
    this.#queueWatched(names).catch((err: unknown) => {
      log.error({ err: describeError(err) }, 'watch lookup failed');
    });
  }

  async #queueWatched(names: readonly string[]): Promise<void> {
    const { spool, queue, listing } = this.#deps;
    const entries = await Promise.all(names.map((n) => spool.entry(n)));
    const fresh = entries
      .flatMap((e) => (e && !queue.names.has(e.name) ? [{ ...e, recovered: false }] : []))
      .sort(this.#spoolOrder); // if the cap cuts, it cuts the newest
    // The cap turned some away: they wait on disk for a scan.
    if (queue.add(fresh) < fresh.length) listing.spilled = true;
    this.#deps.ready();
  }
}
