import { watch, type FSWatcher } from 'node:fs';
import { describeError, type Logger } from '../../core/index.js';
import { createFileQueue } from '../spool/file-queue.js';
import { compareEntries } from '../spool/file-order.js';
import type { SpoolDir } from '../spool/spool-dir.js';
import type { Intake, IntakeFile } from './intake.js';

const WATCH_BATCH_MS = 5;

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
 * The spool folder as an intake: a full listing at start and every rescan interval, a watcher
 * for what arrives between them, and a bounded queue (max_queue_files) that keeps the intake's
 * ordering rules. Files beyond the cap stay on disk ("spilled") until the queue drains to half.
 */
export function createSpoolIntake(config: SpoolIntakeConfig, deps: SpoolIntakeDeps): Intake {
  const { spool, log } = deps;
  const queue = createFileQueue({ capacity: config.maxQueueFiles, lifo: config.lifo });
  const spoolOrder = compareEntries(config.lifo);
  let closing = false;
  let scanning: Promise<void> | undefined;
  let scanTimer: NodeJS.Timeout | undefined;
  let watchTimer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  const watched = new Set<string>();
  /** Data files may wait on disk beyond the queue's cap (a scan or watch batch hit it). */
  let spilled = false;
  /**
   * A full scan has queued everything on disk (or the oldest files up to the cap). Until then,
   * and while files are spilled, a file seen by the watcher may have older files of its agent
   * still unlisted on disk: queuing it would break ordering rule 1 (a crash-test run saw an
   * agent's packet 15 committed before 9-14, and compaction then dropped three history rows).
   */
  let listedOnce = false;
  /** A watch event came while a scan ran: scan again when it ends, for what it may have missed. */
  let rescanWanted = false;

  /**
   * One scan at a time; callers meanwhile share it. The settle handler is attached with
   * `.finally`, which always runs after `scanning` is assigned: a scan that finishes without
   * awaiting anything (queue full) must not leave its settled promise behind as "in progress",
   * or every later scan becomes a no-op and files beyond max_queue_files stay on disk forever.
   */
  function scan(): Promise<void> {
    if (scanning) return scanning;
    const run = listSpool().finally(() => {
      if (scanning === run) scanning = undefined;
      deps.ready();
      if (rescanWanted && !closing) {
        rescanWanted = false;
        void scan();
      }
    });
    scanning = run;
    return run;
  }

  async function listSpool(): Promise<void> {
    try {
      const room = config.maxQueueFiles - queue.size;
      if (room > 0) {
        // The whole spool, oldest first (the reference's order), cut at the cap: an agent's
        // newer file is never queued while an older one stays behind on disk.
        const all = await spool.list(Number.MAX_SAFE_INTEGER, queue.names);
        const entries = all.sort(spoolOrder).slice(0, room);
        const taken = queue.add(entries.map((e) => ({ ...e, recovered: false })));
        spilled = all.length > entries.length || taken < entries.length;
        listedOnce = true;
      } else {
        spilled = true;
      }
      deps.listed?.();
    } catch (err) {
      log.error({ err: describeError(err) }, 'spool scan failed');
    }
  }

  function scheduleScan(): void {
    scanTimer = setTimeout(() => {
      void scan().finally(() => {
        if (!closing) scheduleScan();
      });
    }, config.rescanIntervalMs).unref();
  }

  async function queueWatched(names: readonly string[]): Promise<void> {
    const entries = await Promise.all(names.map((n) => spool.entry(n)));
    const fresh = entries
      .flatMap((e) => (e && !queue.names.has(e.name) ? [{ ...e, recovered: false }] : []))
      .sort(spoolOrder); // if the cap cuts, it cuts the newest
    // The cap turned some away: they wait on disk for a scan.
    if (queue.add(fresh) < fresh.length) spilled = true;
    deps.ready();
  }

  function onWatch(name: string | null): void {
    if (closing || name === null || queue.names.has(name)) return;
    watched.add(name);
    watchTimer ??= setTimeout(() => {
      watchTimer = undefined;
      const names = [...watched];
      watched.clear();
      if (!listedOnce || spilled) {
        // Older files may wait unlisted on disk: a scan queues this one after them (the first
        // one is running now at start; while spilled, the refill and the rescans do it).
        if (!listedOnce) rescanWanted = true;
        return;
      }
      queueWatched(names).catch((err: unknown) => {
        log.error({ err: describeError(err) }, 'watch lookup failed');
      });
    }, WATCH_BATCH_MS);
  }

  function startWatching(dir: string): void {
    try {
      watcher = watch(dir, { persistent: false }, (_event, name) => {
        onWatch(name);
      });
      watcher.on('error', (err) => {
        log.warn({ err: describeError(err) }, 'spool watch failed; rescans continue');
      });
    } catch (err) {
      log.warn({ err: describeError(err) }, 'spool watch unavailable; relying on rescans');
    }
  }

  return {
    store: spool,
    async start(recovered) {
      queue.add(recovered);
      startWatching(spool.incomingDir);
      scheduleScan();
      await scan();
    },
    next: () => queue.next(),
    done(file: IntakeFile) {
      queue.done(file);
      // Files left on disk by the cap: refill at half capacity rather than at the next rescan.
      if (spilled && !scanning && queue.size <= config.maxQueueFiles / 2) void scan();
    },
    wake(name) {
      if (name === undefined) void scan();
      else onWatch(name);
    },
    refresh: () => scan(),
    get size() {
      return queue.size;
    },
    get leftAtSource() {
      return spilled;
    },
    backlog: (limit) => queue.backlog(limit),
    report: () => ({
      queued: queue.size,
      readyKeys: queue.ready,
      busyKeys: queue.inFlight,
      filesLeftOnDisk: spilled,
      scanning: scanning !== undefined,
    }),
    async close() {
      closing = true;
      for (const t of [scanTimer, watchTimer]) if (t) clearTimeout(t);
      watcher?.close();
      await scanning;
    },
  };
}
