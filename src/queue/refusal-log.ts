import type { Logger } from '../core/index.js';
import type { RefusalReason } from './metrics.js';

/** A burst of refusals ends when none of its reason came for this long. */
export const REFUSAL_BURST_QUIET_MS = 5000;

/**
 * Refusals are logged once per burst, not per upload (a flood refuses thousands a second): a
 * warning at the first refusal of a reason, a line with the count when that reason has been quiet
 * for REFUSAL_BURST_QUIET_MS. The metric `pandora_queue_refusals_total` counts every one.
 */
export class RefusalBurstLog {
  readonly #log: Logger;
  readonly #quietMs: number;
  readonly #bursts = new Map<RefusalReason, { refused: number; timer: NodeJS.Timeout }>();

  constructor(log: Logger, quietMs = REFUSAL_BURST_QUIET_MS) {
    this.#log = log;
    this.#quietMs = quietMs;
  }

  note(reason: RefusalReason, message: string): void {
    const burst = this.#bursts.get(reason);
    if (burst) {
      burst.refused++;
      burst.timer.refresh();
      return;
    }
    this.#log.warn(
      { event: 'queue_refusing', reason },
      `queue: refusing uploads with SEND ERR (${message}); agents keep them and resend`,
    );
    const timer = setTimeout(() => {
      this.#end(reason);
    }, this.#quietMs);
    timer.unref();
    this.#bursts.set(reason, { refused: 1, timer });
  }

  #end(reason: RefusalReason): void {
    const burst = this.#bursts.get(reason);
    if (!burst) return;
    this.#bursts.delete(reason);
    clearTimeout(burst.timer);
    this.#log.info(
      { event: 'queue_refusals_ended', reason, refused: burst.refused },
      `queue: ${String(burst.refused)} uploads refused (${reason}) in that burst`,
    );
  }

  /** Ends every open burst (its count is logged). */
  close(): void {
    for (const reason of [...this.#bursts.keys()]) this.#end(reason);
  }
}
