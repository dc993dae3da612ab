import { watch, type FSWatcher } from 'node:fs';
import { link, mkdir, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger } from '../core/index.js';
import { createOutbox, isTemporaryName, type OutboxFile } from './buffer.js';
import type { DeliveryConfig } from './config.js';
import { createTargetLink, folderUnconfirmedStore, type TargetLink } from './link.js';
import {
  backoffHealth,
  createDeliveryMetrics,
  drainLane,
  type Lane,
  type LaneDeps,
} from './lane.js';

/** Hidden folders inside the watched folder (hidden names are never shipped themselves). */
export const PRIMARY_QUEUE_DIR = '.primary';
export const SECONDARY_QUEUE_DIR = '.secondary';
export const REJECTED_DIR = '.rejected';

export interface ShipperOptions {
  readonly dir: string;
  readonly rescanMs: number;
  /** Files younger than this are left for the next pass (a producer may still be writing). */
  readonly settleMs: number;
  /** Back-off for a target that failed: doubles from `retryInitialMs` up to `retryMaxMs`. */
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
}

export interface Shipper {
  /** Starts watching; passes run on file events, on every rescan and after each back-off. */
  start(): Promise<void>;
  /** One or more passes until nothing is left or no target takes the next file. */
  runUntilIdle(): Promise<{ remaining: number }>;
  /** Stops watching, lets the file in flight finish, closes the sessions. Idempotent. */
  close(): Promise<void>;
}

/** True when `path` does not exist or is the same file (inode) as `original`. */
async function isFreeOrSame(path: string, original: string): Promise<boolean> {
  const [existing, source] = await Promise.all([
    stat(path).catch(() => undefined),
    stat(original).catch(() => undefined),
  ]);
  if (!existing) return true;
  return source !== undefined && existing.ino === source.ino && existing.dev === source.dev;
}

/**
 * `tentacle-client --watch DIR`: forwards every file that appears in DIR with the failover rules
 * and deletes it once stored, oldest first, one session per target kept open across files.
 * `never`/`on_error`: DIR itself is the queue. `always`: each new file is hard-linked into
 * `DIR/.secondary/` and moved into `DIR/.primary/`, two queues drained independently, so a target
 * that is down delays only its own copies. Nothing is ever dropped; files every target refuses
 * (bad name, too big, already there) go to `DIR/.rejected/`.
 */
export function createShipper(
  config: DeliveryConfig,
  options: ShipperOptions,
  deps: { logger: Logger; registry?: Registry },
): Shipper {
  const log = deps.logger.child({ component: 'shipper', dir: options.dir });
  const health = backoffHealth(options.retryInitialMs, options.retryMaxMs);
  const laneDeps: LaneDeps = {
    logger: log,
    health,
    metrics: createDeliveryMetrics(deps.registry),
  };
  const linkDeps = { logger: log, unconfirmed: folderUnconfirmedStore(options.dir) };
  const primary = createTargetLink(config.primary, linkDeps);
  const secondary = config.secondary ? createTargetLink(config.secondary, linkDeps) : undefined;
  const links: TargetLink[] = secondary ? [primary, secondary] : [primary];
  const shippable = (name: string): boolean => !isTemporaryName(name);
  const inbox = createOutbox(options.dir, shippable);
  const fanOut = config.mode === 'always' && secondary !== undefined;
  const lanes: Lane[] = fanOut
    ? [
        {
          name: 'primary',
          queue: createOutbox(join(options.dir, PRIMARY_QUEUE_DIR), shippable),
          targets: [primary],
        },
        {
          name: 'secondary',
          queue: createOutbox(join(options.dir, SECONDARY_QUEUE_DIR), shippable),
          targets: [secondary],
        },
      ]
    : [{ name: 'primary', queue: inbox, targets: links }];

  const stop = new AbortController();
  let watcher: FSWatcher | undefined;
  let rescanTimer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let running: Promise<{ blocked: boolean }> | undefined;
  let again = false;
  let closing: Promise<void> | undefined;

  const settled = (file: OutboxFile): boolean => Date.now() - file.mtimeMs >= options.settleMs;

  async function setAside(file: OutboxFile, reason: string): Promise<void> {
    const dir = join(options.dir, REJECTED_DIR);
    await mkdir(dir, { recursive: true });
    const target = join(dir, file.name);
    // The other lane's copy (a hard link) may be there already: then this one just goes.
    // (rename() between two links of one file is a no-op, so it cannot be used for that.)
    if (!(await isFreeOrSame(target, file.path))) {
      await rename(file.path, `${target}.${Date.now()}`);
    } else if (await stat(target).catch(() => undefined)) {
      await unlink(file.path);
    } else {
      await rename(file.path, target);
    }
    log.error({ file: file.name, reason }, 'every target refused the file; moved to .rejected');
  }

  /**
   * `always`: hand each settled inbox file to both queues (link first: a crash in between keeps
   * both copies). A name still waiting in a queue from an earlier file of the same name stays in
   * the inbox until that one is gone, so neither copy is overwritten.
   */
  async function intake(): Promise<void> {
    for (const file of await inbox.list()) {
      if (!settled(file)) continue;
      const secondaryCopy = join(options.dir, SECONDARY_QUEUE_DIR, file.name);
      const primaryCopy = join(options.dir, PRIMARY_QUEUE_DIR, file.name);
      if (!(await isFreeOrSame(primaryCopy, file.path))) continue;
      try {
        await link(file.path, secondaryCopy);
      } catch (err) {
        if ((err as { code?: string }).code !== 'EEXIST') throw err;
        if (!(await isFreeOrSame(secondaryCopy, file.path))) continue;
      }
      await rename(file.path, primaryCopy);
    }
  }

  /** One pass; `blocked` when some lane could not finish (a retry is scheduled). */
  async function pass(): Promise<{ blocked: boolean; shipped: number }> {
    if (fanOut) await intake();
    const results = await Promise.all(
      lanes.map((lane) =>
        drainLane(lane, {
          ...laneDeps,
          filter: settled,
          setAside,
          signal: stop.signal,
        }),
      ),
    );
    const shipped = results.reduce((n, r) => n + r.delivered.length, 0);
    if (shipped > 0) log.info({ shipped }, 'pass done');
    return { blocked: results.some((r) => r.blocked), shipped };
  }

  function kick(): void {
    if (stop.signal.aborted) return;
    if (running) {
      again = true;
      return;
    }
    running = pass();
    running
      .then(
        ({ blocked }) => {
          if (blocked && !stop.signal.aborted) {
            clearTimeout(retryTimer);
            retryTimer = setTimeout(kick, Math.max(50, health.nextRetryInMs()));
          }
        },
        (err: unknown) => {
          log.error({ err }, 'shipper pass failed; retrying on the next rescan');
        },
      )
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          kick();
        }
      })
      .catch(() => undefined);
  }

  async function remaining(): Promise<number> {
    const counts = await Promise.all(
      [...lanes.map((lane) => lane.queue), ...(fanOut ? [inbox] : [])].map(
        async (queue) => (await queue.list()).length,
      ),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  async function prepare(): Promise<void> {
    await readdir(options.dir); // fails early with a clear error if the folder is missing
    if (fanOut) {
      await mkdir(join(options.dir, PRIMARY_QUEUE_DIR), { recursive: true });
      await mkdir(join(options.dir, SECONDARY_QUEUE_DIR), { recursive: true });
    }
  }

  return {
    async start() {
      await prepare();
      watcher = watch(options.dir, () => {
        kick();
      });
      watcher.on('error', (err) => {
        log.warn({ err }, 'folder watch failed; relying on the periodic rescan');
      });
      rescanTimer = setInterval(kick, options.rescanMs);
      log.info({ mode: config.mode }, 'shipper started');
      kick();
    },
    async runUntilIdle() {
      await prepare();
      // Stop when empty, when a target refuses to take the next file, or when a pass makes no
      // progress twice in a row (files that cannot be read); young files get time to settle.
      let idlePasses = 0;
      while (!stop.signal.aborted) {
        const { blocked, shipped } = await pass();
        if (blocked || (await remaining()) === 0) break;
        idlePasses = shipped > 0 ? 0 : idlePasses + 1;
        if (idlePasses > 2) break;
        await new Promise((resolve) => setTimeout(resolve, Math.max(10, options.settleMs)));
      }
      return { remaining: await remaining() };
    },
    close() {
      closing ??= (async () => {
        stop.abort();
        watcher?.close();
        clearInterval(rescanTimer);
        clearTimeout(retryTimer);
        await running?.catch(() => undefined);
        await Promise.all(links.map((l) => l.close()));
        log.info('shipper stopped');
      })();
      return closing;
    },
  };
}
