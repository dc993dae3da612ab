/**
 * Admission by bytes: files read and not yet finished hold their size against a budget, so a
 * few large packets at once cannot exhaust the heap (issue 12). Rules:
 *
 * - first come, first served: a file waits while any file ahead of it waits, so a large file is
 *   never starved by a stream of small ones;
 * - a file is always admitted when nothing is held, whatever its size (no deadlock: the checks
 *   at start make sure one packet at the limits fits);
 * - waiting keeps per-agent order because the intake hands out one file per agent at a time:
 *   the agent's next file is not even handed out before this one has finished.
 */
export interface ByteBudget {
  /** Resolves once `bytes` are held for the caller; `release` them when the file is finished. */
  acquire(bytes: number): Promise<void>;
  release(bytes: number): void;
  readonly limit: number;
  /** Bytes held by files read and not yet finished. */
  readonly held: number;
  /** Files waiting for admission. */
  readonly waiting: number;
}

export function createByteBudget(limit: number): ByteBudget {
  let held = 0;
  const queue: { bytes: number; admit: () => void }[] = [];

  const fits = (bytes: number) => held === 0 || held + bytes <= limit;

  function admitWaiting(): void {
    for (let next = queue[0]; next !== undefined && fits(next.bytes); next = queue[0]) {
      queue.shift();
      held += next.bytes;
      next.admit();
    }
  }

  return {
    acquire(bytes) {
      if (queue.length === 0 && fits(bytes)) {
        held += bytes;
        return Promise.resolve();
      }
      return new Promise<void>((admit) => {
        queue.push({ bytes, admit });
      });
    },
    release(bytes) {
      held = Math.max(0, held - bytes);
      admitWaiting();
    },
    limit,
    get held() {
      return held;
    },
    get waiting() {
      return queue.length;
    },
  };
}
