import type { Pool } from 'mysql2/promise';
import type { Logger, PandoraError, Registry } from '../core/index.js';
import { createHaCoordinator, type FencedContext, type HaCoordinator } from './coordinator.js';
import { createMasterJob, type MasterJob } from './master-job.js';
import { adoptDeadPeerFolders } from './folder-takeover.js';
import { createOwnerMarkerCheck } from './owner-marker.js';
import { createNodeState, type NodeState, type PipelineHealth } from './node-state.js';
import { ensureHaSchema } from './schema.js';
import { haConfigFrom, type HaSettings } from './settings.js';
import { markUnknownModules, type UnknownAlertHook } from './unknown-detector.js';

/** Alert duties the master runs (alerts.md §2.4), given by the dataserver's alert service. */
export interface AlertDutyHooks extends UnknownAlertHook {
  /** Forced executions and fired counts, every ~5 s, in a fenced transaction. */
  masterDuty(conn: FencedContext['conn']): Promise<void>;
  /** Whether this server is master now (the queue check writes its event only then). */
  setMasterCheck(isMaster: () => boolean): void;
}

/** How often the alert master duty runs (the reference's ~5 s). */
const ALERT_DUTY_INTERVAL_MS = 5000;

export interface IntakeHooks {
  /** The incoming folder: readiness requires it writable. */
  readonly spoolDir: string;
  readonly minFreeBytes?: number;
  /** Stop accepting new Tentacle connections and finish in-flight transfers and batches. */
  readonly drainReceiver: () => Promise<void>;
  /** Files of a dead peer were queued into `spoolDir` (tell the dataserver to look). */
  readonly onAdopted?: () => void;
  /** The pipeline's queue depth and stall guard (readiness, /status). */
  readonly health?: () => PipelineHealth;
  /** The intake's own readiness reason (scale-out listener: `queue`), or undefined. */
  readonly readiness?: () => string | undefined;
}

export interface HaRuntime {
  readonly coordinator: HaCoordinator;
  /** What the HTTP side reads (status, readiness, drain). Valid after `attachIntake`. */
  readonly state: NodeState;
  /**
   * Creates the HA tables, registers and starts the loop. A live process with our servername is
   * refused (`ERR_HA_DUPLICATE_NAME`); a crashed predecessor's row is taken over after about one
   * heartbeat period, so a supervisor restart right after a crash is delayed, never refused.
   */
  start(): Promise<void>;
  attachIntake(hooks: IntakeHooks): void;
  /** The alert side of master duties: the unknown path, forced executions, fired counts. */
  attachAlerts(hooks: AlertDutyHooks): void;
  onFatal(listener: (err: PandoraError) => void): void;
  /** Stops master jobs, releases the lease at once, marks this server stopped. Idempotent. */
  close(): Promise<void>;
}

/**
 * Everything HA a `serve` process runs, in one object for the composition root: coordinator,
 * the unknown-module master duty and the node state behind the HTTP side. The pool is the
 * caller's (a small one of its own, so renewals never queue behind ingestion batches).
 */
export function createHaRuntime(
  settings: HaSettings,
  options: { version: string; incomingDir?: string },
  deps: { pool: Pool; logger: Logger; registry: Registry },
): HaRuntime {
  const config = haConfigFrom(settings, options.version);
  const coordinator = createHaCoordinator(
    config,
    { pool: deps.pool, log: deps.logger, registry: deps.registry },
    {
      ...(settings.http_port === undefined ? {} : { httpPort: settings.http_port }),
      ...(options.incomingDir === undefined ? {} : { incomingDir: options.incomingDir }),
    },
  );
  const jobs: MasterJob[] = [];
  let intake: IntakeHooks | undefined;
  let alerts: AlertDutyHooks | undefined;
  let ownerCheck: (() => Promise<string | undefined>) | undefined;
  const state = createNodeState(
    {
      get spoolDir() {
        return intake?.spoolDir;
      },
      get minFreeBytes() {
        return intake?.minFreeBytes ?? 0;
      },
      heartbeatStaleMs: 2 * config.tickMs + 1000,
      drainDelayMs: settings.ha_drain_delay_ms,
    },
    {
      coordinator,
      log: deps.logger,
      registry: deps.registry,
      pipeline: () => intake?.health?.(),
      drainReceiver: () => intake?.drainReceiver() ?? Promise.resolve(),
      checks: [
        () => ownerCheck?.() ?? Promise.resolve(undefined),
        () => Promise.resolve(intake?.readiness?.()),
      ],
    },
  );
  const duty = { coordinator, log: deps.logger };
  let closing: Promise<void> | undefined;

  return {
    coordinator,
    state,
    async start() {
      await ensureHaSchema(deps.pool);
      jobs.push(unknownDetectionJob(duty, settings.ha_unknown_check_ms, () => alerts));
      await coordinator.start();
    },
    attachIntake(hooks) {
      intake = hooks;
      ownerCheck = createOwnerMarkerCheck(
        { incomingDir: hooks.spoolDir, serverName: config.serverName },
        duty,
      );
      if (!settings.ha_adopt_peer_folders) return;
      jobs.push(folderTakeoverJob(duty, config, hooks));
    },
    attachAlerts(hooks) {
      alerts = hooks;
      hooks.setMasterCheck(() => coordinator.isMaster());
      jobs.push(alertDutyJob(duty, hooks));
    },
    onFatal(listener) {
      coordinator.events.on('fatal', listener);
    },
    close: () =>
      (closing ??= (async () => {
        state.markNotReady();
        for (const job of jobs) await job.close();
        await coordinator.close();
      })()),
  };
}

/** What every master duty runs on: the coordinator (fencing) and the log. */
interface DutyDeps {
  readonly coordinator: HaCoordinator;
  readonly log: Logger;
}

/** Modules whose agents stopped reporting go UNKNOWN, with their alerts (§2.4). */
function unknownDetectionJob(
  deps: DutyDeps,
  intervalMs: number,
  alerts: () => AlertDutyHooks | undefined,
): MasterJob {
  return createMasterJob({ name: 'unknown-detection', intervalMs }, deps, async () => {
    const changed = await deps.coordinator.runFenced('unknown-detection', (ctx) =>
      markUnknownModules(ctx, alerts()),
    );
    if (changed > 0) deps.log.info({ changed }, 'modules went to unknown');
  });
}

/** A dead peer's spooled files are moved into our incoming folder and processed here. */
function folderTakeoverJob(
  deps: DutyDeps,
  config: { serverName: string; memberDeadAfterMs: number; tickMs: number },
  hooks: IntakeHooks,
): MasterJob {
  const takeover = {
    incomingDir: hooks.spoolDir,
    serverName: config.serverName,
    memberDeadAfterMs: config.memberDeadAfterMs,
  };
  return createMasterJob(
    { name: 'folder-takeover', intervalMs: 2 * config.tickMs },
    deps,
    async () => {
      const adoptions = await deps.coordinator.runFenced('folder-takeover', (ctx) =>
        adoptDeadPeerFolders(ctx, takeover),
      );
      for (const a of adoptions) {
        deps.log.warn(
          { event: 'peerFilesAdopted', peer: a.peer, moved: a.moved, collisions: a.collisions },
          `re-queued ${a.moved} file(s) of dead server ${a.peer}`,
        );
      }
      if (adoptions.length > 0) hooks.onAdopted?.();
    },
  );
}

/** Forced alert executions and fired counts, every ~5 s. */
function alertDutyJob(deps: DutyDeps, hooks: AlertDutyHooks): MasterJob {
  return createMasterJob({ name: 'alert-duties', intervalMs: ALERT_DUTY_INTERVAL_MS }, deps, () =>
    deps.coordinator.runFenced('alert-duties', (ctx) => hooks.masterDuty(ctx.conn)),
  );
}
