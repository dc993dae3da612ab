/**
 * The alert module as `serve` runs it (spec alerts.md §2.2–§2.4, §5.5, §6): one definitions
 * cache, warm-up, engine and metrics shared by the batches; the start-up notices; the queue
 * check on a timer; and the hooks the master's duties call (HA enters through these, it does
 * not import the dataserver).
 */
import type mysql from 'mysql2/promise';
import type { Registry } from 'prom-client';
import { describeError, type Logger } from '../../core/index.js';
import { run, type AlertConnection } from './apply-sql.js';
import { AlertDefinitionCache } from './definitions.js';
import { AlertEngine, type AlertOutcome } from './engine.js';
import { queueForcedExecutions, recomputeFiredCounts } from './master-duties.js';
import { createAlertMetrics, recordAlertOutcome, type AlertMetrics } from './metrics.js';
import { AlertQueueMonitor } from './queue-monitor.js';
import type { AlertConfig } from './settings.js';
import { AlertWarmUp, warmUpStartedSql } from './warm-up.js';

/** The queue metrics are refreshed at least this often, whatever `alertserver_warn` says. */
const QUEUE_CHECK_MAX_SECONDS = 60;

/** A module the master's unknown detection just set UNKNOWN (§2.4). */
export interface UnknownModule {
  readonly agentId: number;
  readonly moduleId: number;
  readonly lastStatusChange: number;
}

export interface AlertService {
  readonly engine: AlertEngine;
  readonly definitions: AlertDefinitionCache;
  readonly warmUp: AlertWarmUp;
  readonly metrics: AlertMetrics;
  readonly config: AlertConfig;
  /** Start-up notices (warm-up events, delegation log line) and the queue check timer. */
  start(): Promise<void>;
  close(): void;
  /** The master's unknown path, in the transaction that sets the modules UNKNOWN. */
  unknownModules(conn: AlertConnection, modules: readonly UnknownModule[]): Promise<void>;
  /** Forced executions queued, `fired_count` recomputed (every ~5 s on the master). */
  masterDuty(conn: AlertConnection): Promise<void>;
  /** Who is master (the delay event is written by the master only). */
  setMasterCheck(isMaster: () => boolean): void;
}

export function createAlertService(
  config: AlertConfig,
  deps: {
    pool: Pick<mysql.Pool, 'query'>;
    logger: Logger;
    registry: Registry;
    startedAtSec: number;
    nowSeconds?: () => number;
  },
): AlertService {
  const log = deps.logger.child({ component: 'alerts' });
  const now = deps.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  const definitions = new AlertDefinitionCache(deps.pool, config.configRefreshSeconds, now);
  const warmUp = new AlertWarmUp(deps.startedAtSec, config.warmupSeconds);
  const metrics = createAlertMetrics(deps.registry);
  const engine = new AlertEngine({ config, definitions, warmUp, logger: log, nowSeconds: now });
  const monitor = new AlertQueueMonitor({
    db: deps.pool,
    warnSeconds: config.warnSeconds,
    logger: log,
    metrics,
  });
  let isMaster: () => boolean = () => false;
  const queueCheck = queueCheckTimer({
    monitor,
    warnSeconds: config.warnSeconds,
    now,
    isMaster: () => isMaster(),
    log,
  });

  return {
    engine,
    definitions,
    warmUp,
    metrics,
    config,
    async start() {
      // Loaded before the first batch, which would otherwise wait for it.
      await definitions.get();
      await announceStart(config, deps.pool, log, now());
      queueCheck.start();
    },
    close() {
      queueCheck.stop();
    },
    async unknownModules(conn, modules) {
      const total = await evaluateUnknownModules(engine, conn, modules);
      // Counted before the master's COMMIT: a fenced-out run may count what it did not write.
      recordAlertOutcome(metrics, total);
    },
    async masterDuty(conn) {
      // Agents before alert rows, the batch's lock order (no deadlock between the two).
      const counted = await recomputeFiredCounts(conn);
      const queued = await queueForcedExecutions(conn, await definitions.get(), now());
      if (queued > 0 || counted > 0) log.debug({ queued, counted }, 'alert master duty');
    },
    setMasterCheck(check) {
      isMaster = check;
    },
  };
}

/** The start-up notices: the warm-up events (when warm-up is on) and where alerts go. */
async function announceStart(
  config: AlertConfig,
  pool: Pick<mysql.Pool, 'query'>,
  log: Logger,
  nowSec: number,
): Promise<void> {
  if (config.warmupSeconds > 0) {
    for (const statement of warmUpStartedSql(nowSec)) await run(pool, statement);
    log.info({ seconds: config.warmupSeconds }, 'Warmup mode for alerts started.');
  }
  if (config.execution === 'events') {
    log.info('alert_execution events: alert events written here, no command is run');
  } else if (config.delegatedToAlertServer) {
    log.info('execution is delegated to a Pandora Alert Server');
  } else {
    log.info("alerts are queued in talert_execution_queue for Pandora's Alert Server");
  }
}

/**
 * The queue check on a timer: every `alertserver_warn` seconds, at most QUEUE_CHECK_MAX_SECONDS
 * apart; the next check is scheduled when the last one has finished.
 */
function queueCheckTimer(deps: {
  monitor: AlertQueueMonitor;
  warnSeconds: number;
  now: () => number;
  isMaster: () => boolean;
  log: Logger;
}): { start(): void; stop(): void } {
  const seconds =
    deps.warnSeconds > 0
      ? Math.min(deps.warnSeconds, QUEUE_CHECK_MAX_SECONDS)
      : QUEUE_CHECK_MAX_SECONDS;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    timer = setTimeout(() => {
      deps.monitor
        .check(deps.now(), deps.isMaster())
        .catch((err: unknown) => {
          deps.log.warn({ err: describeError(err) }, 'alert queue check failed');
        })
        .finally(() => {
          if (timer !== undefined) schedule();
        });
    }, seconds * 1000);
    timer.unref();
  };
  return {
    start: schedule,
    stop() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}

/** The master's unknown path: each module's alerts evaluated in turn, the outcomes summed. */
async function evaluateUnknownModules(
  engine: AlertEngine,
  conn: AlertConnection,
  modules: readonly UnknownModule[],
): Promise<AlertOutcome> {
  const total: AlertOutcome = { evaluated: 0, fired: 0, recovered: 0, ceased: 0, queued: 0 };
  for (const m of modules) {
    const o = await engine.evaluateUnknown(conn, m);
    total.evaluated += o.evaluated;
    total.fired += o.fired;
    total.recovered += o.recovered;
    total.ceased += o.ceased;
  }
  return total;
}
