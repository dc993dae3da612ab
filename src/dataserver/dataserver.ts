import { watch, type FSWatcher } from 'node:fs';
import type { RowDataPacket } from 'mysql2/promise';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ErrorCode, PandoraError, describeError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { SpareFiles } from '../core/spare-files.js';
import { LEDGER_TABLE, type DbPool } from '../db/index.js';
import type { DataserverConfig } from './config.js';
import type { PacketParser, ParseResult } from './parser.js';
import { toParseFailure } from './xml/index.js';
import { PoisonGuard, setAsidePoisonFile } from './poison-guard.js';
import { ensureServerRow } from './server-row.js';
import { fileIdentity } from './spool/file-identity.js';
import { inFlightJournalPath } from './spool/in-flight-journal.js';
import { createFileQueue, type QueuedFile } from './spool/file-queue.js';
import { compareEntries } from './spool/file-order.js';
import {
  BADXML_SUFFIX,
  FAILED_SUFFIX,
  createSpoolDir,
  type SpoolDir,
  type SpoolEntry,
} from './spool/spool-dir.js';
import { createAgentCache } from './state/agent-cache.js';
import { loadCatalogData, type CatalogData } from './state/catalog.js';
import { backlogEvent, badXmlEvent } from './logic/index.js';
import { fitPacketToSchema } from './logic/schema-fit.js';
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
}

export interface Dataserver {
  start(): Promise<void>;
  /** A file was stored in the spool (Tentacle's 'fileStored'): look at it now. */
  wake(name?: string): void;
  /** Resolves once the spool holds no data file and nothing is in flight. */
  drain(): Promise<void>;
  /** Stops intake, finishes in-flight files (commit, delete), stops timers. Idempotent. */
  close(): Promise<void>;
  readonly serverId: number;
  readonly spool: SpoolDir;
}

const CATALOG_REFRESH_MS = 60_000;
/** Ledger pruning: every 10 min, in bounded deletes (3,000 agents at 5 min add 864k rows a day). */
const LEDGER_PRUNE_MS = 600_000;
const LEDGER_PRUNE_ROWS = 20_000;
const BACKLOG_EVENT_PERIOD_SEC = 300;
const WATCH_BATCH_MS = 5;
/** Refusals whose message names the limit (a key, or a column) that refused the file. */
const LIMIT_CODES: ReadonlySet<string> = new Set([
  ErrorCode.XmlTooLarge,
  ErrorCode.XmlLimit,
  ErrorCode.XmlValueTooLong,
]);

export function createDataserver(config: DataserverConfig, deps: DataserverDeps): Dataserver {
  const log = deps.logger.child({ component: 'dataserver' });
  const spool = createSpoolDir(config.incomingDir, config.serverName, deps.spares);
  const queue = createFileQueue({ capacity: config.maxQueueFiles, lifo: config.lifo });
  const cache = createAgentCache({ maxModules: config.cacheModules, registry: deps.registry });
  const maxConcurrentBatches = Math.max(1, Math.min(3, config.db.connections - 1));
  const maxInFlight = config.batchFiles * (maxConcurrentBatches + 1);
  const startedAtSec = Math.floor(Date.now() / 1000);
  const guard = new PoisonGuard({
    journalPath: inFlightJournalPath(config.incomingDir, config.serverName),
    limit: config.poisonDeaths,
    logger: log,
  });
  const nowSec = () => Math.floor(Date.now() / 1000);

  const files = new Counter({
    name: 'pandora_dataserver_files_processed_total',
    help: 'Spool files finished, by result',
    labelNames: ['result'] as const,
    registers: [deps.registry],
  });
  new Gauge({
    name: 'pandora_dataserver_spool_files',
    help: 'Data files known to the queue (queued or in flight)',
    registers: [deps.registry],
    collect() {
      this.set(queue.size);
    },
  });
  new Gauge({
    name: 'pandora_dataserver_files_in_flight',
    help: 'Files claimed and not yet finished',
    registers: [deps.registry],
    collect() {
      this.set(inFlight);
    },
  });
  new Gauge({
    name: 'pandora_dataserver_stalled',
    help: '1 while files wait and none has finished for dataserver_stall_timeout seconds',
    registers: [deps.registry],
    collect() {
      this.set(stalled ? 1 : 0);
    },
  });
  new Gauge({
    name: 'pandora_dataserver_last_progress_timestamp_seconds',
    help: 'When a file last finished (or the pipeline was last seen with nothing waiting)',
    registers: [deps.registry],
    collect() {
      this.set(lastProgressMs / 1000);
    },
  });
  const parseDuration = new Histogram({
    name: 'pandora_dataserver_xml_parse_duration_seconds',
    help: 'Time to parse one agent XML file',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers: [deps.registry],
  });

  let catalog: CatalogData | undefined;
  let writer: BatchWriter | undefined;
  let serverId = 0;
  let inFlight = 0;
  let closing = false;
  let closed: Promise<void> | undefined;
  let scanTimer: NodeJS.Timeout | undefined;
  let catalogTimer: NodeJS.Timeout | undefined;
  let pruneTimer: NodeJS.Timeout | undefined;
  let watchTimer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  let scanning: Promise<void> | undefined;
  const watched = new Set<string>();
  const backlogSent = new Map<string, number>();
  let idleWaiters: (() => void)[] = [];
  /** Data files may wait on disk beyond the queue's cap (a scan or watch batch hit it). */
  let spilled = false;
  /**
   * A full scan has queued everything on disk (or the oldest files up to the cap). Until then,
   * and while files are spilled, a file seen by the watcher may have older files of its agent
   * still unlisted on disk: queuing it would let it overtake them (a crash-test run saw an
   * agent's packet 15 committed before 9-14, and compaction then dropped three history rows).
   */
  let listedOnce = false;
  /** A watch event came while a scan ran: scan again when it ends, for what it may have missed. */
  let rescanWanted = false;
  const spoolOrder = compareEntries(config.lifo);
  let stalled = false;
  let lastProgressMs = Date.now();
  let stallTimer: NodeJS.Timeout | undefined;

  async function handle(file: QueuedFile, w: BatchWriter): Promise<void> {
    if (!file.recovered && !(await spool.claim(file.name))) {
      files.labels('lost').inc(); // another process claimed it first
      return;
    }
    let read: Buffer | { tooLarge: number };
    try {
      read = await spool.readClaimed(file.name, config.parse.maxXmlSize);
    } catch (err) {
      log.error({ err: describeError(err), file: file.name }, 'cannot read claimed file');
      files.labels('error').inc();
      return;
    }
    const size = Buffer.isBuffer(read) ? read.length : read.tooLarge; // before the bytes move
    const sha256 = fileIdentity(file.name, read, file.mtimeMs);
    const t0 = process.hrtime.bigint();
    const parsed: ParseResult = Buffer.isBuffer(read)
      ? await deps.parser.parse({
          bytes: read,
          info: { mtimeSec: Math.floor(file.mtimeMs / 1000), nowSec: nowSec() },
        })
      : {
          error: toParseFailure(
            new PandoraError(
              ErrorCode.XmlTooLarge,
              `file of ${String(read.tooLarge)} bytes exceeds max_xml_size ${String(config.parse.maxXmlSize)}`,
            ),
          ),
        };
    parseDuration.observe(Number(process.hrtime.bigint() - t0) / 1e9);
    // Checked against the columns before the batch: a value the database would refuse must not
    // fail the batch and send the file down the _FAILED path meant for our own bugs.
    const fitted = parsed.packet ? fitPacketToSchema(parsed.packet) : { refused: parsed.error };
    if (fitted.refused) {
      const { disposition, code, message } = fitted.refused;
      if (disposition === 'drop') {
        log.info({ file: file.name, code, reason: message }, 'file dropped');
        await spool.remove(file.name, size);
        files.labels('dropped').inc();
        return;
      }
      if (disposition === 'badxml') {
        log.warn({ file: file.name, code, reason: message }, 'bad XML file');
        const r = await w.submit({
          kind: 'event',
          event: badXmlEvent(file.name, nowSec(), LIMIT_CODES.has(code) ? message : undefined),
          file: { fileName: file.name, sha256 },
        });
        // 'duplicate': the event was committed before a crash; only the rename is left to do.
        if (r.status === 'abandoned') return;
        await spool.reject(file.name, BADXML_SUFFIX);
        files.labels('badxml').inc();
        return;
      }
      log.error({ file: file.name, code, reason: message }, 'cannot read file');
      await spool.reject(file.name, FAILED_SUFFIX);
      files.labels('error').inc();
      return;
    }
    for (const warning of fitted.packet.warnings)
      log.warn({ file: file.name, warning }, 'packet warning');
    const r = await w.submit({
      kind: 'packet',
      fileName: file.name,
      sha256,
      packet: fitted.packet,
    });
    switch (r.status) {
      case 'committed':
        // Counted at COMMIT: removing it (as a spare, after a folder fsync) may take a moment.
        files.labels(r.outcome?.dropped ? 'dropped' : 'ok').inc();
        await spool.remove(file.name, size);
        return;
      case 'duplicate':
        log.info({ file: file.name }, 'file already committed (ledger); removed');
        files.labels('duplicate').inc();
        await spool.remove(file.name, size);
        return;
      case 'failed':
        log.error(
          { file: file.name, reason: r.error },
          `file refused by the database; kept as ${file.name}${FAILED_SUFFIX}`,
        );
        await spool.reject(file.name, FAILED_SUFFIX);
        files.labels('error').inc();
        return;
      case 'abandoned':
        return;
    }
  }

  /** A poison file (in flight at too many deaths) leaves the claim folder; counted as in flight. */
  async function setAside(
    file: { entry: SpoolEntry; deaths: number },
    w: BatchWriter,
  ): Promise<void> {
    const { name } = file.entry;
    inFlight++;
    try {
      const result = await setAsidePoisonFile(file, {
        spool,
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
        files.labels('poison').inc();
      } else if (result === 'already_committed') {
        log.info({ file: name }, 'file already committed (ledger); removed');
        files.labels('duplicate').inc();
      }
    } catch (err) {
      log.error({ err: describeError(err), file: name }, 'setting a poison file aside failed');
      files.labels('error').inc();
    } finally {
      inFlight--;
      onProgress();
      pump();
      checkIdle();
    }
  }

  function pump(): void {
    const w = writer;
    if (!w) return;
    while (!closing && w.available && inFlight < maxInFlight) {
      if (guard.isolating && inFlight > 0) break; // suspects of a death: one file at a time
      const file = queue.next();
      if (!file) break;
      inFlight++;
      guard.handing(file.name);
      void handle(file, w)
        .catch((err: unknown) => {
          log.error({ err: describeError(err), file: file.name }, 'file handling failed');
          files.labels('error').inc();
        })
        .finally(() => {
          inFlight--;
          guard.finished(file.name);
          queue.done(file);
          onProgress();
          // Files left on disk by the cap: refill at half capacity rather than at the next rescan.
          if (spilled && !scanning && queue.size <= config.maxQueueFiles / 2) void scan();
          pump();
          checkIdle();
        });
    }
  }

  function checkIdle(): void {
    if (inFlight > 0 || queue.size > 0 || idleWaiters.length === 0) return;
    // Something may have arrived meanwhile: confirm with a listing before declaring idle.
    void scan().then(() => {
      if (inFlight > 0 || queue.size > 0) return;
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const resolve of waiters) resolve();
    });
  }

  /**
   * One scan at a time; callers meanwhile share it. The settle handler is attached with
   * `.finally`, which always runs after `scanning` is assigned: a scan that finishes without
   * awaiting anything (queue full) must not leave its settled promise behind as "in progress",
   * or every later scan becomes a no-op and files beyond max_queue_files stay on disk forever.
   */
  function scan(): Promise<void> {
    if (scanning) return scanning;
    const run = listSpool().finally(() => {
      if (scanning === run) scanning = undefined;
      pump();
      if (rescanWanted && !closing) {
        rescanWanted = false;
        void scan();
      }
    });
    scanning = run;
    return run;
  }

  async function listSpool(): Promise<void> {
    try {
      const room = config.maxQueueFiles - queue.size;
      if (room > 0) {
        // The whole spool, oldest first (the reference's order), cut at the cap: an agent's
        // newer file is never queued while an older one stays behind on disk.
        const all = await spool.list(Number.MAX_SAFE_INTEGER, queue.names);
        const entries = all.sort(spoolOrder).slice(0, room);
        const taken = queue.add(entries.map((e) => ({ ...e, recovered: false })));
        spilled = all.length > entries.length || taken < entries.length;
        listedOnce = true;
      } else {
        spilled = true;
      }
      backlogEvents();
    } catch (err) {
      log.error({ err: describeError(err) }, 'spool scan failed');
    }
  }

  /** The pipeline's bookkeeping, for stall reports and health checks. */
  function pipelineState() {
    return {
      queued: queue.size,
      readyKeys: queue.ready,
      busyKeys: queue.inFlight,
      inFlight,
      filesLeftOnDisk: spilled,
      scanning: scanning !== undefined,
      writerAvailable: writer?.available ?? false,
      writerPending: writer?.pending ?? 0,
      idleForSec: Math.round((Date.now() - lastProgressMs) / 1000),
    };
  }

  /**
   * Stall guard: files wait (queued, or left on disk by the queue cap) with the database up, and
   * nothing has finished for stallTimeoutMs. Any such state is a bug; say so loudly with the
   * bookkeeping, flag it in a metric, and nudge the pipeline (a rescan and a pump).
   */
  function checkStall(): void {
    const waiting = queue.size > 0 || spilled || inFlight > 0;
    if (!waiting || !(writer?.available ?? false)) {
      lastProgressMs = Date.now();
      stalled = false;
      return;
    }
    if (Date.now() - lastProgressMs < config.stallTimeoutMs) return;
    if (!stalled) {
      stalled = true;
      log.error(pipelineState(), 'dataserver stalled: files wait and none has finished');
    }
    void scan();
    pump();
  }

  function onProgress(): void {
    lastProgressMs = Date.now();
    if (stalled) {
      stalled = false;
      log.warn(pipelineState(), 'dataserver moving again after a stall');
    }
  }

  function backlogEvents(): void {
    if (config.tooManyXml <= 0 || !writer) return;
    const now = nowSec();
    for (const { key } of queue.backlog(config.tooManyXml)) {
      const text = `More than ${config.tooManyXml} XML files queued for agent ${key}`;
      if (now - (backlogSent.get(text) ?? 0) < BACKLOG_EVENT_PERIOD_SEC) continue;
      backlogSent.set(text, now);
      void writer.submit({ kind: 'event', event: backlogEvent(key, config.tooManyXml, now) });
    }
  }

  function scheduleScan(): void {
    scanTimer = setTimeout(() => {
      void scan().finally(() => {
        if (!closing) scheduleScan();
      });
    }, config.rescanIntervalMs).unref();
  }

  function onWatch(name: string | null): void {
    if (closing || name === null || queue.names.has(name)) return;
    watched.add(name);
    watchTimer ??= setTimeout(() => {
      watchTimer = undefined;
      const names = [...watched];
      watched.clear();
      if (!listedOnce || spilled) {
        // Older files may wait unlisted on disk: a scan queues this one after them (the first
        // one is running now at start; while spilled, the refill and the rescans do it).
        if (!listedOnce) rescanWanted = true;
        return;
      }
      void Promise.all(names.map((n) => spool.entry(n)))
        .then((entries) => {
          const fresh = entries
            .flatMap((e) => (e && !queue.names.has(e.name) ? [{ ...e, recovered: false }] : []))
            .sort(spoolOrder); // if the cap cuts, it cuts the newest
          // The cap turned some away: they wait on disk for a scan.
          if (queue.add(fresh) < fresh.length) spilled = true;
          pump();
        })
        .catch((err: unknown) => {
          log.error({ err: describeError(err) }, 'watch lookup failed');
        });
    }, WATCH_BATCH_MS);
  }

  async function refreshCatalog(): Promise<void> {
    try {
      catalog = await loadCatalogData(deps.pool);
    } catch (err) {
      log.warn({ err: describeError(err) }, 'catalog refresh failed; keeping the previous one');
    }
    if (!closing)
      catalogTimer = setTimeout(() => void refreshCatalog(), CATALOG_REFRESH_MS).unref();
  }

  async function pruneLedger(): Promise<void> {
    try {
      await deps.pool.query(
        `DELETE FROM ${LEDGER_TABLE} WHERE utimestamp < ? LIMIT ${String(LEDGER_PRUNE_ROWS)}`,
        [nowSec() - config.ledgerRetentionSec],
      );
    } catch (err) {
      log.warn({ err: describeError(err) }, 'ledger prune failed');
    }
    if (!closing) pruneTimer = setTimeout(() => void pruneLedger(), LEDGER_PRUNE_MS).unref();
  }

  return {
    get serverId() {
      return serverId;
    },
    spool,
    async start() {
      catalog = await loadCatalogData(deps.pool);
      serverId = await ensureServerRow(deps.pool, config.serverName, deps.version ?? '');
      const [modeRows] = await deps.pool.query<RowDataPacket[]>(
        'SELECT @@innodb_autoinc_lock_mode AS m',
      );
      const consecutiveIds = Number(modeRows[0]?.['m'] ?? 2) !== 2;
      writer = createBatchWriter(
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
          catalog: () => catalog as CatalogData,
        },
      );
      const { requeue, poison } = await guard.recover(await spool.listClaimed());
      if (requeue.length > 0)
        log.info({ files: requeue.length }, 're-queueing files claimed by a previous run');
      queue.add(requeue.map((e) => ({ ...e, recovered: true })));
      for (const p of poison) void setAside(p, writer);
      try {
        watcher = watch(config.incomingDir, { persistent: false }, (_event, name) => {
          onWatch(name);
        });
        watcher.on('error', (err) => {
          log.warn({ err: describeError(err) }, 'spool watch failed; rescans continue');
        });
      } catch (err) {
        log.warn({ err: describeError(err) }, 'spool watch unavailable; relying on rescans');
      }
      catalogTimer = setTimeout(() => void refreshCatalog(), CATALOG_REFRESH_MS).unref();
      pruneTimer = setTimeout(() => void pruneLedger(), 1000).unref();
      scheduleScan();
      if (config.stallTimeoutMs > 0)
        stallTimer = setInterval(
          checkStall,
          Math.max(100, Math.min(5000, config.stallTimeoutMs / 4)),
        ).unref();
      log.info(
        { incomingDir: config.incomingDir, serverName: config.serverName, serverId },
        'dataserver started',
      );
      await scan();
    },
    wake(name) {
      if (name === undefined) void scan();
      else onWatch(name);
    },
    drain() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        void scan().then(checkIdle);
      });
    },
    close() {
      closed ??= (async () => {
        closing = true;
        for (const t of [scanTimer, catalogTimer, pruneTimer, watchTimer]) if (t) clearTimeout(t);
        if (stallTimer) clearInterval(stallTimer);
        watcher?.close();
        await scanning;
        // In-flight files finish (their batches commit and the files are removed) unless the
        // database is away or the grace runs out: then the writer gives up and the files stay
        // claimed for next start.
        const graceEnds = Date.now() + config.shutdownGraceMs;
        const pause = () => new Promise((r) => setTimeout(r, 20));
        while (inFlight > 0 && (writer?.available ?? false) && Date.now() < graceEnds)
          await pause();
        await writer?.close(Math.max(0, graceEnds - Date.now()));
        while (inFlight > 0) await pause();
        // Files still claimed now were not in flight at a death: the next start counts none.
        await guard.markClean();
        for (const resolve of idleWaiters.splice(0)) resolve();
        log.info('dataserver stopped');
      })();
      return closed;
    },
  };
}
