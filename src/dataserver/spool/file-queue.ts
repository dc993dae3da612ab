import { compareEntries } from './file-order.js';
import type { SpoolEntry } from './spool-dir.js';

export interface QueuedFile extends SpoolEntry {
  /** Already in our claim folder (left by a previous run): process without claiming. */
  readonly recovered: boolean;
}

/**
 * Files known to the dataserver, grouped by agent key: oldest first per key (or newest with
 * LIFO), at most one file per key in flight, and the key's next file handed out as soon as the
 * previous one is done (D-8) instead of waiting for the next scan. Bounded by `capacity`.
 */
export interface FileQueue {
  /** Adds files not yet known; returns how many were taken (the rest wait on disk). */
  add(entries: readonly QueuedFile[]): number;
  /** The next file whose key has nothing in flight, or undefined. Marks its key in flight. */
  next(): QueuedFile | undefined;
  /** The key's file is finished (committed, refused or lost to another claimer). */
  done(file: QueuedFile): void;
  /** Names queued or in flight (a rescan must not add them again). */
  readonly names: ReadonlySet<string>;
  readonly size: number;
  readonly inFlight: number;
  /** Keys with a file ready to hand out (a stall report tells "nothing ready" from "all busy"). */
  readonly ready: number;
  /** Keys with more than `limit` queued files (backlog warning, spec §2.1). */
  backlog(limit: number): { key: string; count: number }[];
  /** The oldest mtime among files not yet handed out (read when scraped: a walk of the queue). */
  oldestWaitingMtimeMs(): number | undefined;
}

export function createFileQueue(options: { capacity: number; lifo: boolean }): FileQueue {
  const compare = compareEntries(options.lifo);
  const byKey = new Map<string, QueuedFile[]>();
  const busy = new Set<string>();
  /** Keys with queued files and nothing in flight, in the order they became ready. */
  const ready = new Set<string>();
  const names = new Set<string>();

  /** Recovered files go first: they were claimed before anything still in the spool. */
  function order(a: QueuedFile, b: QueuedFile): number {
    if (a.recovered !== b.recovered) return a.recovered ? -1 : 1;
    return compare(a, b);
  }

  function insertSorted(list: QueuedFile[], file: QueuedFile): void {
    let i = list.length;
    for (let prev = list[i - 1]; prev !== undefined && order(prev, file) > 0; prev = list[i - 1])
      i--;
    list.splice(i, 0, file);
  }

  return {
    add(entries) {
      let taken = 0;
      for (const file of entries) {
        if (names.size >= options.capacity) break;
        if (names.has(file.name)) continue;
        names.add(file.name);
        let list = byKey.get(file.key);
        if (!list) byKey.set(file.key, (list = []));
        insertSorted(list, file);
        if (!busy.has(file.key)) ready.add(file.key);
        taken++;
      }
      return taken;
    },
    next() {
      for (const key of ready) {
        ready.delete(key);
        const file = byKey.get(key)?.shift();
        if (!file) continue;
        busy.add(key);
        return file;
      }
      return undefined;
    },
    done(file) {
      names.delete(file.name);
      busy.delete(file.key);
      const list = byKey.get(file.key);
      if (list && list.length > 0) ready.add(file.key);
      else byKey.delete(file.key);
    },
    names,
    get size() {
      return names.size;
    },
    get inFlight() {
      return busy.size;
    },
    get ready() {
      return ready.size;
    },
    backlog(limit) {
      const out: { key: string; count: number }[] = [];
      for (const [key, list] of byKey) {
        const count = list.length + (busy.has(key) ? 1 : 0);
        if (count > limit) out.push({ key, count });
      }
      return out;
    },
    oldestWaitingMtimeMs() {
      let oldest: number | undefined;
      for (const list of byKey.values())
        for (const file of list)
          if (oldest === undefined || file.mtimeMs < oldest) oldest = file.mtimeMs;
      return oldest;
    },
  };
}
