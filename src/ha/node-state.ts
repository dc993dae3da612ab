import { constants } from 'node:fs';
import { access, statfs } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { Gauge } from 'prom-client';
import { describeError, type Logger, type Registry } from '../core/index.js';
import type { HaCoordinator, Role } from './coordinator.js';
import type { Peer } from './membership.js';

export interface NodeStateConfig {
  /** Incoming (spool) folder that must be writable for the server to be ready. */
  readonly spoolDir?: string | undefined;
  /** Minimum free bytes on the spool's filesystem (0 = no check). */
  readonly minFreeBytes: number;
  /** Not ready when our last successful heartbeat is older than this (2 ticks). */
  readonly heartbeatStaleMs: number;
  /**
   * After going not-ready, keep accepting this long before the receiver stops: a balancer
   * needs a few health checks to stop routing to us, and a connection it still sends meanwhile
   * must be served, not refused mid-flight.
   */
  readonly drainDelayMs: number;
}

/**
 * The ingestion pipeline's health as the dataserver reports it (its `health()`); HA declares the
 * shape it reads so that it needs no import of the dataserver.
 */
export interface PipelineHealth {
  /** Data files known to the pipeline, queued or in flight. */
  readonly queueDepth: number;
  /** The dataserver's stall guard is raised. */
  readonly stalled: boolean;
  /** Scale-out mode: the shared queue's figures, shown on /status. */
  readonly queue?: Readonly<Record<string, number>>;
}

export interface NodeStateDeps {
  readonly coordinator: HaCoordinator;
  readonly log: Logger;
  /** Where the totals behind /status rates are read (the process registry). */
  readonly registry?: Registry;
  /** The pipeline's health (undefined while no pipeline runs: depth 0, not stalled). */
  readonly pipeline?: () => PipelineHealth | undefined;
  /** Stops accepting new Tentacle connections; resolves when in-flight work has finished. */
  readonly drainReceiver?: () => Promise<void>;
  /** Extra readiness checks: each returns a reason when not ready. */
  readonly checks?: readonly (() => Promise<string | undefined>)[];
}

export interface NodeState {
  status(): Promise<{
    server: string;
    role: Role;
    master: string;
    /** Whose server `master` names: ours, one of Pandora's own (ours stand down), or nobody. */
    master_kind: 'ours' | 'pandora' | 'none';
    epoch: number;
    peers: readonly Peer[];
    queue_depth: number;
    draining: boolean;
    totals: Readonly<Record<string, number>>;
    queue?: Readonly<Record<string, number>>;
  }>;
  readiness(): Promise<{ ready: boolean; reasons: string[] }>;
  drain(): Promise<void>;
  /** Readiness 503 from now on (shutdown), without touching the receiver. */
  markNotReady(): void;
  /** Resolves when a started drain has finished (in-flight transfers and batches done). */
  whenDrained(): Promise<void>;
  readonly isDraining: boolean;
}

/** Totals shown as per-second rates on /status, read from the metrics the modules record. */
const RATE_SOURCES = {
  files_received: 'pandora_tentacle_files_received_total',
  bytes_received: 'pandora_tentacle_received_bytes_total',
  files_processed: 'pandora_dataserver_files_processed_total',
  module_values: 'pandora_dataserver_module_values_total',
  queue_jobs_applied: 'pandora_queue_jobs_applied_total',
} as const;

async function metricSum(registry: Registry, name: string): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return undefined;
  const { values } = await metric.get();
  return values.reduce((sum, v) => sum + v.value, 0);
}

/** Totals from the registry; metrics of modules not running are left out. */
async function readTotals(registry: Registry | undefined): Promise<Record<string, number>> {
  const totals: Record<string, number> = {};
  if (!registry) return totals;
  for (const [key, name] of Object.entries(RATE_SOURCES)) {
    const sum = await metricSum(registry, name);
    if (sum !== undefined) totals[key] = sum;
  }
  return totals;
}

/**
 * What the HTTP side reads (it implements `HttpStateSource` structurally): one place that
 * decides readiness from HA, the database heartbeat, the spool and the receiver, and that turns
 * `POST /drain` into "resign mastership, refuse new connections, finish what was accepted".
 */
export function createNodeState(config: NodeStateConfig, deps: NodeStateDeps): NodeState {
  const { coordinator } = deps;
  let isDraining = false;
  let drained: Promise<void> | undefined;

  async function spoolProblem(): Promise<string | undefined> {
    if (config.spoolDir === undefined) return undefined;
    try {
      await access(config.spoolDir, constants.W_OK);
    } catch {
      return 'spool';
    }
    if (config.minFreeBytes > 0) {
      const fs = await statfs(config.spoolDir);
      if (fs.bavail * fs.bsize < config.minFreeBytes) return 'disk';
    }
    return undefined;
  }

  const state: NodeState = {
    get isDraining() {
      return isDraining;
    },
    async status() {
      const snap = coordinator.snapshot();
      const totals = await readTotals(deps.registry);
      const queue = deps.pipeline?.()?.queue;
      return {
        server: snap.server,
        role: snap.role,
        master: snap.master,
        master_kind: snap.pandoraMaster ? 'pandora' : snap.master === '' ? 'none' : 'ours',
        epoch: snap.epoch,
        peers: snap.peers,
        queue_depth: deps.pipeline?.()?.queueDepth ?? 0,
        draining: isDraining,
        totals,
        ...(queue ? { queue } : {}),
      };
    },
    async readiness() {
      const reasons: string[] = [];
      const snap = coordinator.snapshot();
      if (isDraining) reasons.push('draining');
      if (!snap.isDbReachable) reasons.push('db');
      if (snap.heartbeatAgeMs === undefined || snap.heartbeatAgeMs > config.heartbeatStaleMs) {
        reasons.push('heartbeat');
      }
      const spool = await spoolProblem();
      if (spool !== undefined) reasons.push(spool);
      // A stalled pipeline still accepts files; the balancer should send agents elsewhere.
      if (deps.pipeline?.()?.stalled ?? false) reasons.push('stalled');
      for (const check of deps.checks ?? []) {
        const reason = await check();
        if (reason !== undefined) reasons.push(reason);
      }
      return { ready: reasons.length === 0, reasons };
    },
    async drain() {
      if (isDraining) return;
      isDraining = true;
      deps.log.info(
        { event: 'draining' },
        'draining: not ready, resigning, finishing accepted work',
      );
      await coordinator.setCandidate(false);
      drained = delay(config.drainDelayMs)
        .then(() => deps.drainReceiver?.())
        .then(() => {
          // An operator (or a script) waits for this line before stopping the process.
          deps.log.info({ event: 'drained' }, 'drained: accepted work finished');
        })
        .catch((err: unknown) => {
          deps.log.error({ err: describeError(err) }, 'drain failed');
        });
    },
    markNotReady() {
      isDraining = true;
    },
    whenDrained: () => drained ?? Promise.resolve(),
  };
  if (deps.registry) registerReadyGauge(deps.registry, () => state.readiness());
  return state;
}

/** `pandora_ready`: what /readyz answers, for dashboards and alert rules (read when scraped). */
function registerReadyGauge(
  registry: Registry,
  readiness: () => Promise<{ ready: boolean }>,
): void {
  if (registry.getSingleMetric('pandora_ready')) return;
  new Gauge({
    name: 'pandora_ready',
    help: '1 while /readyz answers 200 (ready for new agent connections), else 0',
    registers: [registry],
    async collect() {
      this.set((await readiness()).ready ? 1 : 0);
    },
  });
}
