import fs from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/index.js';
import { isDataFileName } from '../pandora/index.js';
import type { PacketEnqueuer } from './listener-sink.js';

/** How often the incoming folder is looked at (and at start, and on wake()). */
export const FORWARD_INTERVAL_MS = 1000;

export interface SpoolForwarderOptions {
  readonly dir: string;
  readonly intervalMs?: number;
  /** Called after each forwarded file (metrics). */
  readonly onForwarded?: () => void;
}

interface Found {
  readonly name: string;
  readonly mtimeMs: number;
}

/**
 * Scale-out's view of the local spool (scaleout.md §4): data files that appear in the incoming
 * folder (a separate Perl tentacle_server, or files left from before the switch) are forwarded:
 * read, enqueued (durably), then deleted, oldest first (modification time, then name, the
 * spool's own order), so every packet takes the one queued path in its agent's order. A failed
 * enqueue stops the pass, so no newer file of that agent goes ahead of it; the next pass retries.
 */
export class SpoolForwarder {
  readonly #options: SpoolForwarderOptions;
  readonly #producer: PacketEnqueuer;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;
  #again = false;
  #closed = false;

  constructor(options: SpoolForwarderOptions, producer: PacketEnqueuer, logger: Logger) {
    this.#options = options;
    this.#producer = producer;
    this.#log = logger.child({ component: 'spool-forwarder' });
  }

  start(): void {
    this.wake();
    this.#timer = setInterval(() => {
      this.wake();
    }, this.#options.intervalMs ?? FORWARD_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Look at the folder soon (a pass already running is followed by one more). */
  wake(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.forwardOnce()
      .catch((err: unknown) => {
        this.#log.warn({ err: (err as Error).message }, 'spool forward pass failed');
        return 0;
      })
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.wake();
        }
      });
  }

  /** One pass over the folder; resolves with how many files were forwarded. */
  async forwardOnce(): Promise<number> {
    const found = await this.#list();
    let forwarded = 0;
    for (const file of found) {
      if (this.#closed) break;
      const path = join(this.#options.dir, file.name);
      let bytes: Buffer;
      try {
        bytes = await fs.promises.readFile(path);
      } catch {
        continue; // taken or removed meanwhile
      }
      try {
        await this.#producer.enqueue(file.name, bytes);
      } catch (err) {
        this.#log.warn(
          { event: 'spool_forward_deferred', name: file.name, err: (err as Error).message },
          'queue did not take a spool file; retrying later',
        );
        break;
      }
      await fs.promises.unlink(path).catch(() => undefined);
      forwarded++;
      this.#options.onForwarded?.();
      this.#log.debug({ event: 'spool_forwarded', name: file.name }, 'spool file forwarded');
    }
    return forwarded;
  }

  async #list(): Promise<Found[]> {
    const names = (await fs.promises.readdir(this.#options.dir)).filter(isDataFileName);
    const found: Found[] = [];
    for (const name of names) {
      try {
        const st = await fs.promises.lstat(join(this.#options.dir, name));
        if (st.isFile()) found.push({ name, mtimeMs: st.mtimeMs });
      } catch {
        // vanished meanwhile
      }
    }
    // The spool's order: modification time (ms), then name.
    return found.sort(
      (a, b) =>
        Math.trunc(a.mtimeMs) - Math.trunc(b.mtimeMs) ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
  }

  /** Stops; resolves once a running pass has ended (its current file finished). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#running;
  }
}
