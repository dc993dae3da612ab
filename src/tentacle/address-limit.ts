/**
 * Concurrent connections per client address (`max_connections_per_address`), so that one
 * address holding or reopening sockets cannot take every slot and waiting place: its extra
 * connections are closed at once, everyone else is served as before. An address is in the
 * table only while it has connections (served or waiting), so the table is bounded by them.
 *
 * Refusals are logged at most `LOG_LINES_PER_SECOND` times a second (a flood would otherwise
 * turn into a log flood); each logged line carries how many were left out before it.
 */

const LOG_LINES_PER_SECOND = 10;

export class ConnectionsPerAddress {
  /** 0 = no cap. */
  limit: number;
  readonly #counts = new Map<string, number>();
  #logWindowStart = 0;
  #loggedInWindow = 0;
  #unlogged = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Counts a connection from `address`; false (and nothing counted) when it is at the cap. */
  tryAcquire(address: string): boolean {
    const held = this.#counts.get(address) ?? 0;
    if (this.limit > 0 && held >= this.limit) return false;
    this.#counts.set(address, held + 1);
    return true;
  }

  /** The connection counted by `tryAcquire` has closed. */
  release(address: string): void {
    const held = this.#counts.get(address) ?? 0;
    if (held <= 1) this.#counts.delete(address);
    else this.#counts.set(address, held - 1);
  }

  /** Connections `address` holds now. */
  held(address: string): number {
    return this.#counts.get(address) ?? 0;
  }

  /** Addresses holding at least one connection. */
  get addresses(): number {
    return this.#counts.size;
  }

  /**
   * A refusal happened: the number of earlier refusals not logged when this one should be
   * logged, or undefined when it should not (over the rate).
   */
  refusalToLog(nowMs: number): number | undefined {
    if (nowMs - this.#logWindowStart >= 1000) {
      this.#logWindowStart = nowMs;
      this.#loggedInWindow = 0;
    }
    if (this.#loggedInWindow >= LOG_LINES_PER_SECOND) {
      this.#unlogged++;
      return undefined;
    }
    this.#loggedInWindow++;
    const unlogged = this.#unlogged;
    this.#unlogged = 0;
    return unlogged;
  }
}
