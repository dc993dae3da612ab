import { constants as fsConstants } from 'node:fs';
import { fsyncPath } from './fd-calls.js';

/**
 * Group commit for folder fsyncs: every request made while a flush of that folder is running
 * waits for the next flush, which then covers all of them. N concurrent transfers into one
 * folder cost about two folder fsyncs instead of N.
 */
export class DirSyncer {
  readonly #onFlush: (() => void) | undefined;
  constructor(onFlush?: () => void) {
    this.#onFlush = onFlush;
  }
  readonly #folders = new Map<string, { dir: Buffer; running: boolean; waiting: Waiter[] }>();
  #flushes = 0;

  /** Folder fsyncs performed so far (tests, metrics). */
  get flushes(): number {
    return this.#flushes;
  }

  sync(dir: Buffer): Promise<void> {
    const key = dir.toString('latin1');
    let folder = this.#folders.get(key);
    if (!folder) {
      folder = { dir, running: false, waiting: [] };
      this.#folders.set(key, folder);
    }
    const f = folder;
    return new Promise<void>((resolve, reject) => {
      f.waiting.push({ resolve, reject });
      if (!f.running) this.#flush(key, f);
    });
  }

  #flush(key: string, folder: { dir: Buffer; running: boolean; waiting: Waiter[] }): void {
    const batch = folder.waiting;
    folder.waiting = [];
    folder.running = true;
    this.#flushes++;
    this.#onFlush?.();
    fsyncDirectory(folder.dir).then(
      () => {
        for (const w of batch) w.resolve();
        this.#next(key, folder);
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
        this.#next(key, folder);
      },
    );
  }

  #next(key: string, folder: { dir: Buffer; running: boolean; waiting: Waiter[] }): void {
    folder.running = false;
    if (folder.waiting.length > 0) this.#flush(key, folder);
    else this.#folders.delete(key);
  }
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

function fsyncDirectory(dir: Buffer): Promise<void> {
  return fsyncPath(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
}
