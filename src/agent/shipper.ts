import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger } from '../core/index.js';
import { createOutbox, isTemporaryName, type Outbox, type OutboxFile } from './buffer.js';
import type { DeliveryConfig } from './config.js';
import { createTargetLink, folderUnconfirmedStore, type TargetLink } from './link.js';
import {
  backoffHealth,
  createDeliveryMetrics,
  drainLane,
  type BackoffHealth,
  type Lane,
  type LaneDeps,
} from './lane.js';
import {
  fanOutInbox,
  PRIMARY_QUEUE_DIR,
  SECONDARY_QUEUE_DIR,
  setAside,
} from './shipper-folders.js';

export { PRIMARY_QUEUE_DIR, REJECTED_DIR, SECONDARY_QUEUE_DIR } from './shipper-folders.js';

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
  return new FolderShipper(config, options, deps);
}

class FolderShipper implements Shipper {
  readonly #config: DeliveryConfig;
  readonly #options: ShipperOptions;
  readonly #log: Logger;
  readonly #health: BackoffHealth;
  readonly #laneDeps: LaneDeps;
  readonly #links: TargetLink[];
  readonly #inbox: Outbox;
  /** `always` with a secondary: the inbox is handed to two queues first. */
  readonly #fanOut: boolean;
  readonly #lanes: Lane[];
  readonly #stop = new AbortController();
  #watcher: FSWatcher | undefined;
  #rescanTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #running: Promise<{ blocked: boolean }> | undefined;
  #again = false;
  #closing: Promise<void> | undefined;

  constructor(
    config: DeliveryConfig,
    options: ShipperOptions,
    deps: { logger: Logger; registry?: Registry },
  ) {
    this.#config = config;
    this.#options = options;
    const log = deps.logger.child({ component: 'shipper', dir: options.dir });
    this.#log = log;
    this.#health = backoffHealth(options.retryInitialMs, options.retryMaxMs);
    this.#laneDeps = {
      logger: log,
      health: this.#health,
      metrics: createDeliveryMetrics(deps.registry),
    };
    const linkDeps = { logger: log, unconfirmed: folderUnconfirmedStore(options.dir) };
    const primary = createTargetLink(config.primary, linkDeps);
    const secondary = config.secondary ? createTargetLink(config.secondary, linkDeps) : undefined;
    this.#links = secondary ? [primary, secondary] : [primary];
    const shippable = (name: string): boolean => !isTemporaryName(name);
    this.#inbox = createOutbox(options.dir, shippable);
    this.#fanOut = config.mode === 'always' && secondary !== undefined;
    this.#lanes =
      secondary && this.#fanOut
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
        : [{ name: 'primary', queue: this.#inbox, targets: this.#links }];
  }

  async start(): Promise<void> {
    await this.#prepare();
    this.#watcher = watch(this.#options.dir, () => {
      this.#kick();
    });
    this.#watcher.on('error', (err) => {
      this.#log.warn({ err }, 'folder watch failed; relying on the periodic rescan');
    });
    this.#rescanTimer = setInterval(this.#kick, this.#options.rescanMs);
    this.#log.info({ mode: this.#config.mode }, 'shipper started');
    this.#kick();
  }

  async runUntilIdle(): Promise<{ remaining: number }> {
    await this.#prepare();
    // Stop when empty, when a target refuses to take the next file, or when a pass makes no
    // progress twice in a row (files that cannot be read); young files get time to settle.
    let idlePasses = 0;
    while (!this.#stop.signal.aborted) {
      const { blocked, shipped } = await this.#pass();
      if (blocked || (await this.#remaining()) === 0) break;
      idlePasses = shipped > 0 ? 0 : idlePasses + 1;
      if (idlePasses > 2) break;
      await new Promise((resolve) => setTimeout(resolve, Math.max(10, this.#options.settleMs)));
    }
    return { remaining: await this.#remaining() };
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stop.abort();
      this.#watcher?.close();
      clearInterval(this.#rescanTimer);
      clearTimeout(this.#retryTimer);
      await this.#running?.catch(() => undefined);
      await Promise.all(this.#links.map((l) => l.close()));
      this.#log.info('shipper stopped');
    })();
    return this.#closing;
  }

  readonly #settled = (file: OutboxFile): boolean =>
    Date.now() - file.mtimeMs >= this.#options.settleMs;

  /** One pass; `blocked` when some lane could not finish (a retry is scheduled). */
  async #pass(): Promise<{ blocked: boolean; shipped: number }> {
    const dir = this.#options.dir;
    if (this.#fanOut) await fanOutInbox(dir, this.#inbox, this.#settled);
    const results = await Promise.all(
      this.#lanes.map((lane) =>
        drainLane(lane, {
          ...this.#laneDeps,
          filter: this.#settled,
          setAside: (file, reason) => setAside(dir, file, reason, this.#log),
          signal: this.#stop.signal,
        }),
      ),
    );
    const shipped = results.reduce((n, r) => n + r.delivered.length, 0);
    if (shipped > 0) this.#log.info({ shipped }, 'pass done');
    return { blocked: results.some((r) => r.blocked), shipped };
  }

  /** Runs a pass now, or once more after the one running. */
  readonly #kick = (): void => {
    if (this.#stop.signal.aborted) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#pass();
    this.#running
      .then(
        ({ blocked }) => {
          if (blocked && !this.#stop.signal.aborted) {
            clearTimeout(this.#retryTimer);
            this.#retryTimer = setTimeout(this.#kick, Math.max(50, this.#health.nextRetryInMs()));
          }
        },
        (err: unknown) => {
          this.#log.error({ err }, 'shipper pass failed; retrying on the next rescan');
        },
      )
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.#kick();
        }
      })
      .catch(() => undefined);
  };

  async #remaining(): Promise<number> {
    const queues = [
      ...this.#lanes.map((lane) => lane.queue),
      ...(this.#fanOut ? [this.#inbox] : []),
    ];
    const counts = await Promise.all(queues.map(async (queue) => (await queue.list()).length));
    return counts.reduce((a, b) => a + b, 0);
  }

  async #prepare(): Promise<void> {
    const dir = this.#options.dir;
    await readdir(dir); // fails early with a clear error if the folder is missing
    if (this.#fanOut) {
      await mkdir(join(dir, PRIMARY_QUEUE_DIR), { recursive: true });
      await mkdir(join(dir, SECONDARY_QUEUE_DIR), { recursive: true });
    }
  }
}
