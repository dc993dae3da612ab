/**
 * Delay after failed `PASS` attempts, per client address: the password of an address that has
 * failed is checked no sooner than a delay after its previous check, a delay that doubles with
 * every failure (`FIRST_DELAY_MS`, then ×2) up to `maxDelayMs`. Parallel connections from the
 * address queue for their turn (each reserves the next one), and an attempt whose turn is
 * further away than `maxDelayMs` is refused without a check, so a guesser gets about one check
 * per `maxDelayMs` however many sockets it opens. Only the delayed connection waits (a timer,
 * not the event loop): every other address is served as before.
 *
 * The table is bounded: at most `maxAddresses` addresses, least recently failed evicted first,
 * and an address is forgotten `FORGET_AFTER_MS` after its last failure or at its first success.
 */

export const FIRST_DELAY_MS = 100;
const FORGET_AFTER_MS = 15 * 60 * 1000;
export const DEFAULT_MAX_ADDRESSES = 10_000;

interface Failures {
  count: number;
  /** Earliest time the next attempt from the address is checked (ms, performance.now()). */
  nextCheckAt: number;
  lastFailureAt: number;
}

/** What to do with a `PASS` line: check it after `waitMs`, or refuse it unchecked. */
export type AuthTurn = { readonly waitMs: number } | 'refuse';

export class AuthThrottle {
  readonly #maxDelayMs: number;
  readonly #maxAddresses: number;
  /** Insertion order = least recently failed first. */
  readonly #failures = new Map<string, Failures>();

  constructor(maxDelayMs: number, maxAddresses = DEFAULT_MAX_ADDRESSES) {
    this.#maxDelayMs = maxDelayMs;
    this.#maxAddresses = maxAddresses;
  }

  /** The delay after `count` failures in a row. */
  delayAfter(count: number): number {
    if (count <= 0) return 0;
    return Math.min(FIRST_DELAY_MS * 2 ** Math.min(count - 1, 30), this.#maxDelayMs);
  }

  /** A `PASS` line arrived from `address`: when to check it (reserving that turn). */
  turn(address: string, now: number): AuthTurn {
    const f = this.#failures.get(address);
    if (!f) return { waitMs: 0 };
    if (now - f.lastFailureAt > FORGET_AFTER_MS) {
      this.#failures.delete(address);
      return { waitMs: 0 };
    }
    const waitMs = Math.max(0, f.nextCheckAt - now);
    if (waitMs > this.#maxDelayMs) return 'refuse';
    f.nextCheckAt = now + waitMs + this.delayAfter(f.count);
    return { waitMs };
  }

  /** A checked password was wrong; returns the failures in a row from `address`. */
  failed(address: string, now: number): number {
    const f = this.#failures.get(address) ?? { count: 0, nextCheckAt: now, lastFailureAt: now };
    f.count++;
    f.lastFailureAt = now;
    f.nextCheckAt = Math.max(f.nextCheckAt, now + this.delayAfter(f.count));
    this.#failures.delete(address);
    this.#failures.set(address, f);
    if (this.#failures.size > this.#maxAddresses) {
      const oldest = this.#failures.keys().next();
      if (!oldest.done) this.#failures.delete(oldest.value);
    }
    return f.count;
  }

  /** The right password from `address`: its failures are forgotten. */
  succeeded(address: string): void {
    this.#failures.delete(address);
  }

  /** Addresses with failures on record. */
  get size(): number {
    return this.#failures.size;
  }
}
