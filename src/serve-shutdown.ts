import { closeLogFiles, describeError, type Logger } from './core/index.js';
import type { Dataserver } from './dataserver/index.js';
import type { DbPool } from './db/index.js';
import type { HaRuntime } from './ha/index.js';
import type { HttpServer } from './http/index.js';
import type { QueueListenerMode } from './queue/index.js';
import type { TentacleServer } from './tentacle/index.js';

/** What serve runs; stopped in reverse order by shutdown. */
export interface Running {
  tentacle?: TentacleServer;
  queueListener?: QueueListenerMode;
  dataserver?: Dataserver;
  pool?: DbPool;
  closeParser?: () => Promise<void>;
  // HA (src/ha) and HTTP (src/http, --http-port): HA registers before anything runs (a duplicate
  // servername refuses to start) and resigns first in shutdown(); HTTP stops last (/metrics).
  ha?: HaRuntime;
  haPool?: DbPool;
  http?: HttpServer;
}

/**
 * Shutdown on SIGTERM/SIGINT, an HA eviction or an unhandled rejection: each running part
 * stopped in order (a failing step is logged, the next still runs), bounded by
 * `shutdown_timeout`.
 */
export function installShutdown(
  running: Running,
  deps: { logger: Logger; timeoutSec: number; ha: HaRuntime },
): void {
  const { logger } = deps;
  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string, code: number): Promise<void> =>
    (shuttingDown ??= (async () => {
      logger.info({ reason }, 'shutting down');
      setTimeout(() => {
        logger.error('shutdown timed out');
        process.exit(1);
      }, deps.timeoutSec * 1000).unref();
      for (const [name, step] of shutdownSteps(running)) {
        if (!step) continue;
        try {
          await step();
        } catch (err) {
          logger.error({ err: describeError(err), step: name }, 'shutdown step failed');
        }
      }
      logger.info('stopped');
      logger.flush();
      await closeLogFiles();
      process.exitCode = code;
    })());
  deps.ha.onFatal((err) => void shutdown(err.message, 1));
  process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.once('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err: describeError(err) }, 'unhandled rejection');
    void shutdown('unhandledRejection', 1);
  });
}

function shutdownSteps(running: Running): [string, (() => Promise<void>) | undefined][] {
  const { ha, tentacle, queueListener, dataserver, pool, haPool, http } = running;
  return [
    // Not ready and lease released first, so balancers and peers move on at once.
    ['ha', ha && (() => ha.close())],
    ['tentacle', tentacle && (() => tentacle.close())],
    ['queue listener', queueListener && (() => queueListener.close())],
    ['dataserver', dataserver && (() => dataserver.close())],
    ['parser', running.closeParser],
    ['database pool', pool && (() => pool.end())],
    ['ha pool', haPool && (() => haPool.end())],
    ['http', http && (() => http.close())],
  ];
}
