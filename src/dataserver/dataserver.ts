import type { RowDataPacket } from 'mysql2/promise';
import type { Registry } from 'prom-client';
import { describeError, type Logger, type SpareFiles } from '../core/index.js';
import type { DbPool } from '../db/index.js';
import type { DataserverConfig } from './config.js';
import type { PacketParser } from './parser.js';
import { PoisonGuard, setAsidePoisonFile } from './poison-guard.js';
import { ensureServerRow } from './server-row.js';
import { inFlightJournalPath } from './spool/in-flight-journal.js';
import {
  FAILED_SUFFIX,
  createSpoolDir,
  type SpoolDir,
  type SpoolEntry,
} from './spool/spool-dir.js';
import { packetByteBudget } from './packet-heap.js';
import { createByteBudget } from './stages/byte-budget.js';
import { createFileHandler } from './stages/file-handler.js';
import { createHealth, type PipelineHealth } from './stages/health.js';
import { createHousekeeping } from './stages/housekeeping.js';
import type { Intake, IntakeFile } from './stages/intake.js';
import { createSpoolIntake } from './stages/spool-intake.js';
import { createAgentCache } from './state/agent-cache.js';
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
}

/** Builds an intake; `ready` is the pipeline's pull. */
export type IntakeFactory = (hooks: { readonly log: Logger; readonly ready: () => void }) => Intake;

export interface Dataserver {
  start(): Promise<void>;
  /** A file was stored in the spool (Tentacle's 'fileStored'): look at it now. */
  wake(name?: string): void;
  /** Resolves once the spool holds no data file and nothing is in flight. */
  drain(): Promise<void>;
  /** Stops intake, finishes in-flight files (commit, delete), stops timers. Idempotent. */
  close(): Promise<void>;
  /** What HA's readiness and /status read (queue depth, stall guard). */
  health(): PipelineHealth;
  readonly serverId: number;
  readonly spool: SpoolDir;
}

/**
 * The dataserver as its stages: the intake (spool folder) hands out files in per-agent order,
 * the pipeline here pulls them into the file handler while the writer takes work, the
 * housekeeping runs beside, and health watches for stalls. Pulling rules:
 *
 * - in flight at most batch_files × (concurrent batches + 1): enough to fill the running
 *   batches and the next one, and the bound on packets held on the main thread;
 * - nothing is pulled while the writer is unavailable (database away) or after close();
 * - after an abnormal death (the poison guard is isolating), one file at a time, so the next
 *   death names its culprit;
 * - a file's intake `done()` comes after the handler has removed or rejected it, so the
 *   agent's next file cannot be claimed before the previous one is finished.
 */
export function createDataserver(config: DataserverConfig, deps: DataserverDeps): Dataserver {
  const log = deps.logger.child({ component: 'dataserver' });
  const spool = createSpoolDir(config.incomingDir, config.serverName, deps.spares);
  const cache = createAgentCache({ maxModules: config.cacheModules, registry: deps.registry });
  const maxConcurrentBatches = Math.max(1, Math.min(3, config.db.connections - 1));
  const maxInFlight = config.batchFiles * (maxConcurrentBatches + 1);
  const startedAtSec = Math.floor(Date.now() / 1000);
  const nowSec = () => Math.floor(Date.now() / 1000);
  let writer: BatchWriter | undefined;
  let serverId = 0;
  let inFlight = 0;
  let closing = false;
  let closed: Promise<void> | undefined;
  let idleWaiters: (() => void)[] = [];

  const guard = new PoisonGuard({
    journalPath: inFlightJournalPath(config.incomingDir, config.serverName),
    limit: config.poisonDeaths,
    logger: log,
  });
  const intake =
    deps.intake?.({ log, ready: pump }) ??
    createSpoolIntake(config, {
      spool,
      log,
      ready: pump,
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
    state: () => ({
      queued: intake.size,
      inFlight,
      leftAtSource: intake.leftAtSource,
      writerAvailable: writer?.available ?? false,
      report: {
        ...intake.report(),
        inFlight,
        writerAvailable: writer?.available ?? false,
        writerPending: writer?.pending ?? 0,
      },
    }),
    nudge: () => {
      void intake.refresh();
      pump();
    },
  });
  const { results } = health;
  const budget = createByteBudget(
    deps.byteBudget ?? packetByteBudget(config.parse, config.parseThreads, config.cacheModules),
  );
  const handler = createFileHandler({
    store: intake.store,
    parser: deps.parser,
    log,
    registry: deps.registry,
    results,
    maxXmlSize: config.parse.maxXmlSize,
    nowSec,
    budget,
  });

  /** A file or a poison file finished: restart the stall clock, pull more, maybe report idle. */
  function finished(): void {
    health.progress();
    pump();
    checkIdle();
  }

  /** A poison file (in flight at too many deaths) leaves its store; counted as in flight. */
  async function setAside(
    file: { entry: SpoolEntry; deaths: number },
    w: BatchWriter,
    intakeDone?: () => void,
  ) {
    const { name } = file.entry;
    inFlight++;
    try {
      const result = await setAsidePoisonFile(file, {
        store: intake.store,
        writer: w,
        pool: deps.pool,
        maxXmlSize: config.parse.maxXmlSize,
        nowSec: nowSec(),
      });
      if (result === 'failed') {
        log.error(
          { file: name, deaths: file.deaths },
          `file in flight at ${String(file.deaths)} abnormal deaths; set aside as ${name}${FAILED_SUFFIX}`,
        );
        results.labels('poison').inc();
      } else if (result === 'already_committed') {
        log.info({ file: name }, 'file already committed (ledger); removed');
        results.labels('duplicate').inc();
      }
    } catch (err) {
      log.error({ err: describeError(err), file: name }, 'setting a poison file aside failed');
      results.labels('error').inc();
    } finally {
      inFlight--;
      intakeDone?.();
      finished();
    }
  }

  function handleOne(file: IntakeFile, w: BatchWriter): void {
    inFlight++;
    guard.handing(file.name);
    void handler
      .handle(file, w)
      .catch((err: unknown) => {
        log.error({ err: describeError(err), file: file.name }, 'file handling failed');
        results.labels('error').inc();
      })
      .finally(() => {
        inFlight--;
        guard.finished(file.name);
        intake.done(file);
        finished();
      });
  }

  function pump(): void {
    const w = writer;
    if (!w) return;
    while (!closing && w.available && inFlight < maxInFlight) {
      if (guard.isolating && inFlight > 0) break; // suspects of a death: one file at a time
      const file = intake.next();
      if (!file) break;
      const { deaths } = file;
      if (deaths === undefined) handleOne(file, w);
      else
        void setAside({ entry: file, deaths }, w, () => {
          intake.done(file);
        });
    }
  }

  function checkIdle(): void {
    if (inFlight > 0 || intake.size > 0 || idleWaiters.length === 0) return;
    // Something may have arrived meanwhile: confirm with a fresh look before declaring idle.
    void intake.refresh().then(() => {
      if (inFlight > 0 || intake.size > 0) return;
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const resolve of waiters) resolve();
    });
  }

  async function startWriter(): Promise<BatchWriter> {
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
        maxConcurrentBatches,
        serverName: config.serverName,
        serverId,
        startedAtSec,
        logic: config.logic,
        consecutiveIds,
      },
      {
        pool: deps.pool,
        logger: deps.logger,
        registry: deps.registry,
        cache,
        processPacket: deps.processPacket,
        catalog: housekeeping.catalog,
      },
    );
  }

  /** Finishes what is in flight within the shutdown grace; the rest stays claimed. */
  async function finishInFlight(): Promise<void> {
    // In-flight files finish (their batches commit and the files are removed) unless the
    // database is away or the grace runs out: then the writer gives up and the files stay
    // claimed for next start.
    const graceEnds = Date.now() + config.shutdownGraceMs;
    const pause = () => new Promise((r) => setTimeout(r, 20));
    while (inFlight > 0 && (writer?.available ?? false) && Date.now() < graceEnds) await pause();
    await writer?.close(Math.max(0, graceEnds - Date.now()));
    while (inFlight > 0) await pause();
  }

  /** Files an earlier spool-mode run left claimed go back to the spool, under their own name. */
  async function returnClaimedToSpool(): Promise<void> {
    const claimed = await spool.listClaimed();
    for (const e of claimed) await spool.reject(e.name, '');
    if (claimed.length > 0)
      log.warn({ files: claimed.length }, 'files claimed in spool mode returned to the spool');
  }

  return {
    get serverId() {
      return serverId;
    },
    spool,
    health: () => {
      const figures = intake.figures?.();
      return figures ? { ...health.snapshot(), queue: figures } : health.snapshot();
    },
    async start() {
      await housekeeping.loadCatalog();
      serverId = await ensureServerRow(deps.pool, config.serverName, deps.version ?? '');
      const w = (writer = await startWriter());
      if (deps.intake) {
        await returnClaimedToSpool();
        housekeeping.start(w);
        health.start(config.stallTimeoutMs);
        log.info({ serverName: config.serverName, serverId }, 'dataserver started (queue intake)');
        await intake.start([]);
        return;
      }
      // Recovered files first (intake rule 3); poison files are set aside beside them.
      const { requeue, poison } = await guard.recover(await spool.listClaimed());
      if (requeue.length > 0)
        log.info({ files: requeue.length }, 're-queueing files claimed by a previous run');
      const recovered = requeue.map((e) => ({ ...e, recovered: true }));
      for (const p of poison) void setAside(p, w);
      housekeeping.start(w);
      health.start(config.stallTimeoutMs);
      log.info(
        {
          incomingDir: config.incomingDir,
          serverName: config.serverName,
          serverId,
          byteBudget: budget.limit,
        },
        'dataserver started',
      );
      await intake.start(recovered);
    },
    wake: (name) => {
      intake.wake(name);
    },
    drain() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        void intake.refresh().then(checkIdle);
      });
    },
    close() {
      closed ??= (async () => {
        closing = true;
        housekeeping.close();
        health.close();
        // Concurrently: a queue intake's close waits for the outcome of the files it handed
        // out, which finishInFlight brings about.
        const intakeClosed = intake.close();
        await finishInFlight();
        await intakeClosed;
        // Files still claimed now were not in flight at a death: the next start counts none.
        await guard.markClean();
        for (const resolve of idleWaiters.splice(0)) resolve();
        log.info('dataserver stopped');
      })();
      return closed;
    },
  };
}
