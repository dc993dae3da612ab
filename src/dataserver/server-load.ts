import { describeError, type Logger } from '../core/index.js';
import type { DbPool } from '../db/index.js';

/** How often the console's figures are refreshed (Pandora's servers do it every main-loop tick). */
export const SERVER_LOAD_INTERVAL_MS = 5000;

export interface ServerLoadDeps {
  readonly pool: DbPool;
  readonly log: Logger;
  readonly serverId: () => number;
  /** Parse workers, or 1 when packets are parsed on the main thread. */
  readonly threads: number;
  /**
   * What waits: a file holds an unknown number of modules until it is parsed, so this counts
   * data files not yet finished (queued, in flight, or left in the spool beyond the queue's cap).
   */
  readonly waitingFiles: () => number;
}

/**
 * Keeps `tserver.threads` and `tserver.queued_modules` current for Pandora's console (the
 * `tserver` columns of dataserver.md). Written at start and every interval; a
 * failed write is logged at debug and retried at the next one (the heartbeat reports the DB).
 */
export function startServerLoad(
  deps: ServerLoadDeps,
  intervalMs = SERVER_LOAD_INTERVAL_MS,
): { close(): void; write(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const write = async (): Promise<void> => {
    const id = deps.serverId();
    if (id <= 0) return;
    try {
      await deps.pool.query(
        'UPDATE tserver SET threads = ?, queued_modules = ? WHERE id_server = ?',
        [deps.threads, deps.waitingFiles(), id],
      );
    } catch (err) {
      deps.log.debug({ err: describeError(err) }, 'tserver load figures not written');
    }
  };
  const loop = (): void => {
    timer = setTimeout(() => {
      void write().finally(() => {
        if (!closed) loop();
      });
    }, intervalMs).unref();
  };
  void write().finally(() => {
    if (!closed) loop();
  });
  return {
    write,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
    },
  };
}
