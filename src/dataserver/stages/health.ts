import { Counter, Gauge, type Registry } from 'prom-client';
import { zeroSeries, type Logger } from '../../core/index.js';
import type { WaitingFiles } from './intake.js';

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
  /** The spool's true backlog (spool intake only; scale-out has the queue's own gauges). */
  readonly waiting?: (() => WaitingFiles) | undefined;
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

/** Every `result` a finished file is counted under (file-disposal.ts, pipeline.ts, file-handler.ts). */
const FILE_RESULTS = ['ok', 'dropped', 'badxml', 'duplicate', 'error', 'poison', 'lost'] as const;

type PipelineState = ReturnType<HealthDeps['state']>;

/**
 * The stall guard. Files wait (queued, or left at the source by a cap) with the database up and
 * nothing has finished for the stall timeout: any such state is a bug; say so loudly with the
 * bookkeeping, raise `stalled` (a gauge and readiness read it), and nudge the pipeline.
 */
class StallGuard {
  readonly #deps: HealthDeps;
  #timer: NodeJS.Timeout | undefined;
  stalled = false;
  lastProgressMs = Date.now();

  constructor(deps: HealthDeps) {
    this.#deps = deps;
  }

  progress(): void {
    this.lastProgressMs = Date.now();
    if (this.stalled) {
      this.stalled = false;
      this.#deps.log.warn(this.#report(), 'dataserver moving again after a stall');
    }
  }

  start(stallTimeoutMs: number): void {
    if (stallTimeoutMs <= 0) return;
    const every = Math.max(100, Math.min(5000, stallTimeoutMs / 4));
    this.#timer = setInterval(() => {
      this.#check(stallTimeoutMs);
    }, every).unref();
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  #check(stallTimeoutMs: number): void {
    const s: PipelineState = this.#deps.state();
    const waiting = s.queued > 0 || s.leftAtSource || s.inFlight > 0;
    if (!waiting || !s.writerAvailable) {
      this.lastProgressMs = Date.now();
      this.stalled = false;
      return;
    }
    if (Date.now() - this.lastProgressMs < stallTimeoutMs) return;
    if (!this.stalled) {
      this.stalled = true;
      this.#deps.log.error(this.#report(), 'dataserver stalled: files wait and none has finished');
    }
    this.#deps.nudge();
  }

  #report() {
    const idleForSec = Math.round((Date.now() - this.lastProgressMs) / 1000);
    return { ...this.#deps.state().report, idleForSec };
  }
}

/** The file counter, and the gauges read from the pipeline and the stall guard when scraped. */
function pipelineMetrics(
  registry: Registry,
  state: HealthDeps['state'],
  guard: StallGuard,
): Counter<'result'> {
  const results = new Counter({
    name: 'pandora_dataserver_files_processed_total',
    help: 'Spool files finished, by result',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  zeroSeries(
    results,
    FILE_RESULTS.map((result) => ({ result })),
  );
  collectedGauge(
    registry,
    'pandora_dataserver_spool_files',
    'Data files known to the queue (queued or in flight)',
    () => state().queued,
  );
  collectedGauge(
    registry,
    'pandora_dataserver_files_in_flight',
    'Files claimed and not yet finished',
    () => state().inFlight,
  );
  collectedGauge(
    registry,
    'pandora_dataserver_stalled',
    '1 while files wait and none has finished for dataserver_stall_timeout seconds',
    () => (guard.stalled ? 1 : 0),
  );
  collectedGauge(
    registry,
    'pandora_dataserver_last_progress_timestamp_seconds',
    'When a file last finished (or the pipeline was last seen with nothing waiting)',
    () => guard.lastProgressMs / 1000,
  );
  return results;
}

/**
 * The spool's true backlog: `pandora_dataserver_spool_files` stops at max_queue_files, these
 * count what the last listing left on disk too.
 */
function backlogMetrics(registry: Registry, waiting: () => WaitingFiles): void {
  collectedGauge(
    registry,
    'pandora_dataserver_backlog_files',
    'Data files not yet finished: queued, in flight, or left in the spool by max_queue_files (as of the last listing)',
    () => waiting().files,
  );
  collectedGauge(
    registry,
    'pandora_dataserver_oldest_file_age_seconds',
    'Age (by mtime) of the oldest data file waiting to be handed out (0 when none waits)',
    () => {
      const oldest = waiting().oldestMtimeMs;
      return oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000);
    },
  );
}

/** Health of the pipeline: the file counters and gauges, and the stall guard. */
export function createHealth(deps: HealthDeps): DataserverHealth {
  const guard = new StallGuard(deps);
  const results = pipelineMetrics(deps.registry, deps.state, guard);
  if (deps.waiting) backlogMetrics(deps.registry, deps.waiting);
  return {
    results,
    snapshot: () => ({ queueDepth: deps.state().queued, stalled: guard.stalled }),
    progress: () => {
      guard.progress();
    },
    start: (stallTimeoutMs) => {
      guard.start(stallTimeoutMs);
    },
    close: () => {
      guard.close();
    },
  };
}
