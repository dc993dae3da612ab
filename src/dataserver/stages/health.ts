import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../core/index.js';

/** What HA's readiness and /status read about the pipeline (no metric names involved). */
export interface PipelineHealth {
  /** Data files known to the intake, queued or in flight. */
  readonly queueDepth: number;
  /** The stall guard is raised: files wait and none has finished for the stall timeout. */
  readonly stalled: boolean;
  /** Scale-out mode: the shared queue's figures (waiting, active, oldest waiting age…). */
  readonly queue?: Readonly<Record<string, number>>;
}

/** A gauge read when scraped. */
export function collectedGauge(
  registry: Registry,
  name: string,
  help: string,
  value: () => number,
): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(value());
    },
  });
}

export interface HealthDeps {
  readonly log: Logger;
  readonly registry: Registry;
  /** The pipeline's bookkeeping (a stall report prints it). */
  readonly state: () => {
    readonly queued: number;
    readonly inFlight: number;
    /** Files wait at the intake's source beyond what it holds. */
    readonly leftAtSource: boolean;
    /** The writer takes files (false while the database is away: waiting is no stall then). */
    readonly writerAvailable: boolean;
    readonly report: Record<string, number | boolean | string>;
  };
  /** Nudges the pipeline while stalled: a fresh look at the source and a pull. */
  readonly nudge: () => void;
}

export interface DataserverHealth {
  /** `pandora_dataserver_files_processed_total`, by result. */
  readonly results: Counter<'result'>;
  readonly snapshot: () => PipelineHealth;
  /** A file finished (or was set aside): the stall clock restarts. */
  progress(): void;
  /** Starts the stall guard (0 = off). */
  start(stallTimeoutMs: number): void;
  close(): void;
}

/**
 * Health of the pipeline: the file counters and gauges, and the stall guard. Files wait (queued,
 * or left at the source by a cap) with the database up and nothing has finished for the stall
 * timeout: any such state is a bug; say so loudly with the bookkeeping, flag it in a gauge and in
 * `snapshot()` (readiness), and nudge the pipeline.
 */
export function createHealth(deps: HealthDeps): DataserverHealth {
  const { log, registry } = deps;
  let stalled = false;
  let lastProgressMs = Date.now();
  let stallTimer: NodeJS.Timeout | undefined;
  const results = new Counter({
    name: 'pandora_dataserver_files_processed_total',
    help: 'Spool files finished, by result',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const gauge = (name: string, help: string, value: () => number) => {
    collectedGauge(registry, name, help, value);
  };
  gauge(
    'pandora_dataserver_spool_files',
    'Data files known to the queue (queued or in flight)',
    () => deps.state().queued,
  );
  gauge(
    'pandora_dataserver_files_in_flight',
    'Files claimed and not yet finished',
    () => deps.state().inFlight,
  );
  gauge(
    'pandora_dataserver_stalled',
    '1 while files wait and none has finished for dataserver_stall_timeout seconds',
    () => (stalled ? 1 : 0),
  );
  gauge(
    'pandora_dataserver_last_progress_timestamp_seconds',
    'When a file last finished (or the pipeline was last seen with nothing waiting)',
    () => lastProgressMs / 1000,
  );

  function report() {
    return { ...deps.state().report, idleForSec: Math.round((Date.now() - lastProgressMs) / 1000) };
  }

  function checkStall(stallTimeoutMs: number): void {
    const s = deps.state();
    const waiting = s.queued > 0 || s.leftAtSource || s.inFlight > 0;
    if (!waiting || !s.writerAvailable) {
      lastProgressMs = Date.now();
      stalled = false;
      return;
    }
    if (Date.now() - lastProgressMs < stallTimeoutMs) return;
    if (!stalled) {
      stalled = true;
      log.error(report(), 'dataserver stalled: files wait and none has finished');
    }
    deps.nudge();
  }

  return {
    results,
    snapshot: () => ({ queueDepth: deps.state().queued, stalled }),
    progress() {
      lastProgressMs = Date.now();
      if (stalled) {
        stalled = false;
        log.warn(report(), 'dataserver moving again after a stall');
      }
    },
    start(stallTimeoutMs) {
      if (stallTimeoutMs <= 0) return;
      const every = Math.max(100, Math.min(5000, stallTimeoutMs / 4));
      stallTimer = setInterval(() => {
        checkStall(stallTimeoutMs);
      }, every).unref();
    },
    close() {
      if (stallTimer) clearInterval(stallTimer);
    },
  };
}
