import type { RowDataPacket } from 'mysql2/promise';
import type { Registry } from 'prom-client';
import type { Logger, SpareFiles } from '../core/index.js';
import type { DbPool } from '../db/index.js';
import { createAlertService, type AlertService } from './alerts/index.js';
import type { DataserverConfig } from './config.js';
import type { PacketParser } from './parser.js';
import { PoisonGuard } from './poison-guard.js';
import { startServerLoad } from './server-load.js';
import { ensureServerRow } from './server-row.js';
import { inFlightJournalPath } from './spool/in-flight-journal.js';
import { createSpoolDir, type SpoolDir } from './spool/spool-dir.js';
import { packetByteBudget } from './packet-heap.js';
import { createByteBudget, type ByteBudget } from './stages/byte-budget.js';
import { createFileHandler } from './stages/file-handler.js';
import { HandedBytes, type HandedFile } from './stages/handed-bytes.js';
import { createHealth, type DataserverHealth, type PipelineHealth } from './stages/health.js';
import { createHousekeeping, type Housekeeping } from './stages/housekeeping.js';
import type { Intake, IntakeFile } from './stages/intake.js';
import { Pipeline } from './stages/pipeline.js';
import { createSpoolIntake } from './stages/spool-intake.js';
import { createAgentCache, type AgentCache } from './state/agent-cache.js';
import type { CatalogData } from './state/catalog.js';
import type { ProcessPacket } from './types.js';
import { createBatchWriter, type BatchWriter } from './writer/batch-writer.js';

export interface DataserverDeps {
  readonly pool: DbPool;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly processPacket: ProcessPacket;
  readonly parser: PacketParser;
  /** Version string written to tserver.version. */
  readonly version?: string;
  /** Finished files are kept here for the Tentacle listener to reuse (inode recycling). */
  readonly spares?: SpareFiles | undefined;
  /** Bytes of files read and not yet finished; by default derived from the heap. */
  readonly byteBudget?: number;
  /**
   * Another source of data files than the spool folder (scale-out: the shared queue). The
   * spool's own recovery is then skipped: files claimed by an earlier spool-mode run go back
   * into the incoming folder, where queue mode forwards spool files.
   */
  readonly intake?: IntakeFactory | undefined;
  /** How often tserver.threads / queued_modules are written (server-load.ts; tests shorten it). */
  readonly serverLoadIntervalMs?: number;
}

/** Builds an intake; `ready` is the pipeline's pull. */
export type IntakeFactory = (hooks: { readonly log: Logger; readonly ready: () => void }) => Intake;

export interface Dataserver {
  start(): Promise<void>;
  /** A file was stored in the spool (Tentacle's 'fileStored'): look at it now. */
  wake(name?: string): void;
  /**
   * The listener of this process stored `name` in the spool and still holds its bytes: keep
   * them (within a byte budget) so the file is not read back from disk. Call before `wake`.
   */
  handOver(name: string, file: HandedFile): void;
  /**
   * Resolves once the spool holds no data file and nothing is in flight; in queue mode, once
   * the workers have stopped taking jobs and the ones in flight are applied (the rest stays in
   * the queue for the other servers).
   */
  drain(): Promise<void>;
  /** Stops intake, finishes in-flight files (commit, delete), stops timers. Idempotent. */
  close(): Promise<void>;
  /** What HA's readiness and /status read (queue depth, stall guard). */
  health(): PipelineHealth;
  readonly serverId: number;
  readonly spool: SpoolDir;
  /** Module alerts: the batch evaluates them; HA's master calls the duty hooks. */
  readonly alerts: AlertService;
}

/** The stages of one dataserver, wired to each other. */
interface Stages {
  readonly log: Logger;
  readonly spool: SpoolDir;
  readonly guard: PoisonGuard;
  readonly intake: Intake;
  readonly housekeeping: Housekeeping;
  readonly health: DataserverHealth;
  readonly budget: ByteBudget;
  /** Spool intake only: a queue intake's files never pass through this process's listener. */
  readonly handed: HandedBytes | undefined;
  readonly pipeline: Pipeline;
}

/**
 * Bytes handed over by the listener and not yet taken: at most this much memory. 8 MiB holds a
 * steady flow's files in flight (about a thousand 8 KB packets); under a backlog the newest are
 * read back from disk instead, so the hand-over adds little to the peak RSS (32 MiB added ~35 MB
 * to the bench's creation pass)...
 */
const HANDED_MAX_BYTES = 8 * 1024 * 1024;
/** ...and no entry older than this (a name the intake ignores, a file another server took). */
const HANDED_MAX_AGE_MS = 60_000;

/**
 * The wiring: the intake tells the pipeline when files are ready and housekeeping when a listing
 * ended; health reads the intake and the pipeline; the pipeline pulls from the intake into the
 * file handler. In flight at most batch_files × (concurrent batches + 1): enough to fill the
 * running batches and the next one.
 */
function composeStages(
  config: DataserverConfig,
  deps: DataserverDeps,
  nowSec: () => number,
): Stages {
  const log = deps.logger.child({ component: 'dataserver' });
  const spool = createSpoolDir(config.incomingDir, config.serverName, deps.spares);
  const guard = new PoisonGuard({
    journalPath: inFlightJournalPath(config.incomingDir, config.serverName),
    limit: config.poisonDeaths,
    logger: log,
  });
  const ready = (): void => {
    pipeline.pump();
  };
  const intake =
    deps.intake?.({ log, ready }) ??
    createSpoolIntake(config, {
      spool,
      log,
      ready,
      listed: () => {
        housekeeping.backlogEvents();
      },
    });
  const housekeeping = createHousekeeping(config, {
    pool: deps.pool,
    log,
    nowSec,
    backlog: (limit) => intake.backlog(limit),
  });
  const health = createHealth({
    log,
    registry: deps.registry,
    state: () => pipelineState(intake, pipeline),
    waiting: intake.waiting?.bind(intake),
    nudge: () => {
      void intake.refresh();
      pipeline.pump();
    },
  });
  const budget = createByteBudget(
    deps.byteBudget ?? packetByteBudget(config.parse, config.parseThreads, config.cacheModules),
  );
  const handed = deps.intake
    ? undefined
    : new HandedBytes(Math.min(HANDED_MAX_BYTES, budget.limit), HANDED_MAX_AGE_MS);
  const handler = createFileHandler({
    store: intake.store,
    parser: deps.parser,
    log,
    registry: deps.registry,
    results: health.results,
    maxXmlSize: config.parse.maxXmlSize,
    nowSec,
    budget,
    ...(handed ? { handed } : {}),
  });
  const pipeline: Pipeline = new Pipeline({
    intake,
    handler,
    guard,
    health,
    log,
    maxInFlight: config.batchFiles * (maxConcurrentBatches(config) + 1),
    store: intake.store,
    pool: deps.pool,
    maxXmlSize: config.parse.maxXmlSize,
    nowSec,
  });
  return { log, spool, guard, intake, housekeeping, health, budget, handed, pipeline };
}

/** What the stall guard looks at and reports. */
function pipelineState(intake: Intake, pipeline: Pipeline) {
  const { inFlight, writer } = pipeline;
  const writerAvailable = writer?.available ?? false;
  return {
    queued: intake.size,
    inFlight,
    leftAtSource: intake.leftAtSource,
    writerAvailable,
    report: { ...intake.report(), inFlight, writerAvailable, writerPending: writer?.pending ?? 0 },
  };
}

function maxConcurrentBatches(config: DataserverConfig): number {
  return Math.max(1, Math.min(3, config.db.connections - 1));
}

/** The batch writer, told whether this MariaDB hands out consecutive AUTO_INCREMENT ids. */
async function startWriter(
  config: DataserverConfig,
  deps: DataserverDeps,
  run: {
    serverId: number;
    startedAtSec: number;
    cache: AgentCache;
    catalog: () => CatalogData;
    alerts: AlertService;
  },
): Promise<BatchWriter> {
  const [modeRows] = await deps.pool.query<RowDataPacket[]>(
    'SELECT @@innodb_autoinc_lock_mode AS m',
  );
  const consecutiveIds = Number(modeRows[0]?.['m'] ?? 2) !== 2;
  return createBatchWriter(
    {
      batchFiles: config.batchFiles,
      batchWaitMs: config.batchWaitMs,
      batchTimeoutMs: config.batchTimeoutMs,
      agentLockTimeoutSec: config.agentLockTimeoutSec,
      maxConcurrentBatches: maxConcurrentBatches(config),
      serverName: config.serverName,
      serverId: run.serverId,
      startedAtSec: run.startedAtSec,
      logic: config.logic,
      consecutiveIds,
    },
    {
      pool: deps.pool,
      logger: deps.logger,
      registry: deps.registry,
      cache: run.cache,
      processPacket: deps.processPacket,
      catalog: run.catalog,
      alerts: run.alerts,
    },
  );
}

/** Recovered files first (intake rule 3); poison files are set aside beside them. */
async function recoverClaimed(stages: Stages, writer: BatchWriter): Promise<IntakeFile[]> {
  const { guard, spool, pipeline, log } = stages;
  const { requeue, poison } = await guard.recover(await spool.listClaimed());
  if (requeue.length > 0)
    log.info({ files: requeue.length }, 're-queueing files claimed by a previous run');
  for (const p of poison) void pipeline.setAside(p, writer);
  return requeue.map((e) => ({ ...e, recovered: true }));
}

/** Stops intake and timers, finishes in-flight files within the grace, marks the journal clean. */
async function closeStages(
  config: DataserverConfig,
  stages: Stages,
  alerts: AlertService,
): Promise<void> {
  const { pipeline, housekeeping, health, intake, guard, log } = stages;
  pipeline.stopPulling();
  housekeeping.close();
  alerts.close();
  health.close();
  // Concurrently: a queue intake's close waits for the outcome of the files it handed out,
  // which finishInFlight brings about.
  const intakeClosed = intake.close();
  await pipeline.finishInFlight(config.shutdownGraceMs);
  await intakeClosed;
  // Files still claimed now were not in flight at a death: the next start counts none.
  await guard.markClean();
  pipeline.releaseDrainWaiters();
  log.info('dataserver stopped');
}

/** Files an earlier spool-mode run left claimed go back to the spool, under their own name. */
async function returnClaimedToSpool(stages: Stages): Promise<void> {
  const claimed = await stages.spool.listClaimed();
  for (const e of claimed) await stages.spool.reject(e.name, '');
  if (claimed.length > 0)
    stages.log.warn({ files: claimed.length }, 'files claimed in spool mode returned to the spool');
}

/**
 * The dataserver as its stages: the intake (spool folder) hands out files in per-agent order,
 * the pipeline (stages/pipeline.ts) pulls them into the file handler while the writer takes
 * work, the housekeeping runs beside, and health watches for stalls.
 */
export function createDataserver(config: DataserverConfig, deps: DataserverDeps): Dataserver {
  const cache = createAgentCache({ maxModules: config.cacheModules, registry: deps.registry });
  const startedAtSec = Math.floor(Date.now() / 1000);
  const nowSec = () => Math.floor(Date.now() / 1000);
  const stages = composeStages(config, deps, nowSec);
  const alerts = createAlertService(config.alerts, {
    pool: deps.pool,
    logger: deps.logger,
    registry: deps.registry,
    startedAtSec,
  });
  const { log, spool, intake, housekeeping, health, pipeline } = stages;
  let serverId = 0;
  let closed: Promise<void> | undefined;
  let serverLoad: { close(): void } | undefined;

  return {
    get serverId() {
      return serverId;
    },
    spool,
    alerts,
    health: () => {
      const figures = intake.figures?.();
      return figures ? { ...health.snapshot(), queue: figures } : health.snapshot();
    },
    async start() {
      await housekeeping.loadCatalog();
      await alerts.start();
      serverId = await ensureServerRow(deps.pool, config.serverName, deps.version ?? '');
      serverLoad = startServerLoad(
        {
          pool: deps.pool,
          log,
          serverId: () => serverId,
          threads: Math.max(1, config.parseThreads),
          waitingFiles: () => intake.waiting?.().files ?? intake.size,
        },
        deps.serverLoadIntervalMs,
      );
      const catalog = housekeeping.catalog;
      const run = { serverId, startedAtSec, cache, catalog, alerts };
      const w = await startWriter(config, deps, run);
      pipeline.begin(w);
      if (deps.intake) {
        await returnClaimedToSpool(stages);
        housekeeping.start(w);
        health.start(config.stallTimeoutMs);
        log.info({ serverName: config.serverName, serverId }, 'dataserver started (queue intake)');
        await intake.start([]);
        return;
      }
      const recovered = await recoverClaimed(stages, w);
      housekeeping.start(w);
      health.start(config.stallTimeoutMs);
      const { incomingDir, serverName } = config;
      const byteBudget = stages.budget.limit;
      log.info({ incomingDir, serverName, serverId, byteBudget }, 'dataserver started');
      await intake.start(recovered);
    },
    wake: (name) => {
      intake.wake(name);
    },
    handOver: (name, file) => {
      stages.handed?.offer(name, file);
    },
    async drain() {
      const stopped = intake.stopTaking?.();
      await pipeline.drain();
      await stopped;
    },
    close() {
      serverLoad?.close();
      closed ??= closeStages(config, stages, alerts);
      return closed;
    },
  };
}
