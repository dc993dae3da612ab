/**
 * Bytes of ZSEND archives held in memory by all sessions together. A ZSEND body is kept whole
 * until it is unpacked, so without a shared budget every served connection could hold
 * `max_size` at once (thousands × 2 MB). An upload that does not fit is refused before its
 * body with the reference's `ZSEND ERR` line; the agent sends it again on its next interval.
 */
export const ZSEND_MEMORY_BUDGET_BYTES = 64 * 1024 * 1024;

export class ByteBudget {
  readonly capacity: number;
  #used = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Takes `bytes` from the budget; false (nothing taken) when they do not fit. */
  tryTake(bytes: number): boolean {
    if (this.#used + bytes > this.capacity) return false;
    this.#used += bytes;
    return true;
  }

  giveBack(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }

  get used(): number {
    return this.#used;
  }
}
