#!/usr/bin/env -S node --max-old-space-size=256 --max-semi-space-size=16
/**
 * Composition root: `tentacle-ingest serve [-c FILE]` (Tentacle listener + dataserver in one
 * process) and `tentacle-ingest init-db`. Every configuration key is also a flag of the same name
 * (`--incomingdir DIR`, `--dbname NAME`, ...), and an environment variable `PANDORA_<KEY>`.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  cacheHeapWarning,
  closeLogFiles,
  ConfigError,
  createLogger,
  logFileOptions,
  createMetricsRegistry,
  describeError,
  type Logger,
  readConfFile,
  type Registry,
  spareDirOf,
  SpareFiles,
} from './core/index.js';
import { writePidFile } from './cli/index.js';
import { createDbPool, initDatabase, type DbPool } from './db/index.js';
import {
  createDataserver,
  createPacketParser,
  packetHeapProblem,
  processPacket,
  queueIntakeFactory,
  toDataserverConfig,
  type Dataserver,
  type DataserverConfig,
  type DataserverDeps,
} from './dataserver/index.js';
import {
  createTentacleServer,
  ensureFilterFolders,
  PANDORA_FILTERS,
  type TentacleServer,
  type TentacleServerOptions,
} from './tentacle/index.js';
// --- HA + HTTP wiring (src/ha, src/http) ---
import { createHaRuntime, type HaRuntime } from './ha/index.js';
import { createHttpServer, drainAuthFor, type HttpServer } from './http/index.js';
// --- end HA + HTTP wiring ---
import {
  checkConfig,
  listenerFileWarnings,
  readyMessage,
  requireIncomingDir,
} from './serve/index.js';
import {
  onSighup,
  ReloadActions,
  reopenLogAction,
  settingsReloadAction,
  tentacleFileValues,
} from './reload.js';
import { startQueueListenerMode, type QueueListenerMode } from './queue/index.js';
import {
  FSYNC_THREADPOOL_SIZE,
  loadArgs,
  SERVE_SETTINGS,
  logLevel,
  SPARE_MAX_BYTES,
  tentacleOptions,
  USAGE,
  VERSION,
  type Loaded,
} from './serve-args.js';

async function prepareDatabase(config: DataserverConfig, logger: Logger): Promise<void> {
  await initDatabase({ ...config.db }, { createDatabase: true }, { logger });
}

/** What serve runs; stopped in reverse order by shutdown. */
interface Running {
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

/** The dataserver half: its pool, the parse workers and the pipeline, started. */
async function startDataserver(
  config: DataserverConfig,
  running: Running,
  deps: {
    logger: Logger;
    registry: Registry;
    spares: SpareFiles | undefined;
    intake: DataserverDeps['intake'];
  },
): Promise<Dataserver> {
  const pool = createDbPool(
    { ...config.db, connectionLimit: config.db.connections, queueLimit: 1000 },
    { logger: deps.logger },
  );
  running.pool = pool;
  const parser = createPacketParser(config, { logger: deps.logger });
  running.closeParser = () => parser.close();
  const dataserver = createDataserver(config, {
    ...deps,
    pool,
    processPacket,
    parser,
    version: VERSION,
  });
  running.dataserver = dataserver;
  await dataserver.start();
  return dataserver;
}

async function serve(loaded: Loaded, logger: Logger, registry: Registry): Promise<void> {
  const s = loaded.settings.values;
  const config = toDataserverConfig(s);
  const listenerOptions = s.tentacle ? tentacleOptions(s, config.incomingDir, logger) : undefined;
  // Before the first asynchronous fs or DNS call: libuv sizes its pool once.
  if (listenerOptions && listenerOptions.sync !== 'none') {
    process.env['UV_THREADPOOL_SIZE'] ??= FSYNC_THREADPOOL_SIZE;
  }
  for (const w of [...loaded.settings.warnings, ...loaded.fileWarnings]) logger.warn(w);
  if (!s.tentacle && !s.dataserver)
    throw new ConfigError('tentacle 0 and dataserver 0: nothing to run');
  requireIncomingDir(config.incomingDir, loaded.confPath !== undefined);
  mkdirSync(config.incomingDir, { recursive: true });
  if (loaded.pidFile !== undefined) writePidFile(loaded.pidFile);
  // SIGHUP from the start (its default action kills): reopen the log, later the settings too.
  const reload = new ReloadActions();
  reload.add('log file', reopenLogAction(logger));
  onSighup(reload, logger);
  const heapWarning = cacheHeapWarning(config.cacheModules);
  if (heapWarning !== undefined) logger.warn(heapWarning);
  // One packet at the limits must fit, or a single upload can exhaust the heap (issue 12).
  const packetHeap = packetHeapProblem(config.parse, config.parseThreads);
  if (packetHeap !== undefined) throw new ConfigError(packetHeap);
  await prepareDatabase(config, logger);
  const running: Running = {};
  // --- HA + HTTP wiring: membership and election start before intake ---
  // Its own small pool: renewals must never queue behind the pipeline's batches.
  const haPool = createDbPool(
    { ...config.db, connectionLimit: 4, queueLimit: 100, connectTimeoutMs: 2000 },
    { logger },
  );
  running.haPool = haPool;
  const ha = createHaRuntime(
    { ...s, servername: config.serverName },
    { version: VERSION, incomingDir: config.incomingDir },
    { pool: haPool, logger, registry },
  );
  running.ha = ha;
  await ha.start();
  // --- end HA + HTTP wiring ---
  // Inode recycling between the dataserver and our own listener (core/spare-files.ts).
  // Under `sync always` only (see SpoolWriterOptions.spares); off, its folder is removed.
  const spareDir = spareDirOf(config.incomingDir, config.serverName);
  const spares =
    listenerOptions &&
    s.dataserver &&
    (listenerOptions.sync ?? 'always') === 'always' &&
    config.spareFiles > 0
      ? new SpareFiles({
          dir: spareDir,
          capacity: config.spareFiles,
          maxBytes: SPARE_MAX_BYTES,
          minFreeRatio: config.spoolMinFreeRatio,
          registry,
        })
      : undefined;
  if (!spares) rmSync(spareDir, { recursive: true, force: true });
  // Scale-out: uploads and spool files go to the shared queue (src/queue/listener-mode.ts).
  const queueListener = await startQueueListenerMode(s, config, { logger, registry });
  if (queueListener) running.queueListener = queueListener;
  // `dataserver 0`: listener only; stored files wait in incomingdir (or go to the queue).
  const dataserver = s.dataserver
    ? await startDataserver(config, running, {
        logger,
        registry,
        spares,
        // Scale-out (queue_url set): packets come from the shared queue, not the spool folder.
        intake: queueIntakeFactory(s, config, { registry }),
      })
    : undefined;

  if (listenerOptions) {
    if (listenerOptions.filters === PANDORA_FILTERS) {
      const created = ensureFilterFolders(config.incomingDir, listenerOptions.filters ?? '');
      if (created.length > 0) logger.info({ created }, 'remote configuration folders created');
    }
    const tentacle = createTentacleServer(listenerOptions, {
      logger,
      registry,
      spares,
      sink: queueListener?.sink,
      announceStoredBytes: dataserver !== undefined,
    });
    const spoolPath = (name: string): string => join(config.incomingDir, name);
    tentacle.on('fileStored', (e) => {
      // The bytes just written go to the dataserver with the wake-up, so it need not read the
      // file back (the file stays the durable copy). Not for files of the filter folders.
      if (e.stored && dataserver && join(e.path) === spoolPath(e.name)) {
        dataserver.handOver(e.name, e.stored);
      }
      dataserver?.wake(e.name);
    });
    running.tentacle = tentacle;
    await tentacle.listen();
  }
  const listener = running.tentacle;
  const snapshot = (l: Loaded) => ({
    serve: l.settings.values,
    tentacleFile: tentacleFileValues(l.settings.values.tentacle_config),
  });
  reload.add(
    'settings',
    settingsReloadAction({
      initial: snapshot(loaded),
      read: () => snapshot(loadArgs(loaded.argv)),
      applyLogLevel: (v) => (logger.level = logLevel(v.verbosity)),
      reconfigureListener:
        listener && ((v) => listener.reconfigure(tentacleOptions(v, config.incomingDir, logger))),
    }),
  );

  // --- HA + HTTP wiring: readiness/drain see the receiver and the pipeline ---
  ha.attachIntake({
    spoolDir: config.incomingDir,
    drainReceiver: async () => {
      await running.tentacle?.drain();
      await dataserver?.drain();
    },
    onAdopted: () => {
      dataserver?.wake();
    },
    ...(dataserver ? { health: () => dataserver.health() } : {}),
    readiness: () => queueListener?.readiness(),
  });
  // The master's alert duties (alerts.md §2.4) need this server's alert service.
  if (dataserver) ha.attachAlerts(dataserver.alerts);
  let httpAddress: { host: string; port: number } | undefined;
  if (s.http_port !== undefined) {
    const http = createHttpServer(
      {
        host: s.http_address,
        port: s.http_port,
        drainAuth: drainAuthFor(s.http_address, s.http_drain_token),
      },
      { log: logger, registry, state: ha.state },
    );
    running.http = http;
    httpAddress = await http.listen();
    logger.info({ port: httpAddress.port }, 'HTTP operations side listening');
  }
  // --- end HA + HTTP wiring ---

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string, code: number): Promise<void> =>
    (shuttingDown ??= (async () => {
      logger.info({ reason }, 'shutting down');
      setTimeout(() => {
        logger.error('shutdown timed out');
        process.exit(1);
      }, s.shutdown_timeout * 1000).unref();
      const steps: [string, (() => Promise<void>) | undefined][] = [
        // Not ready and lease released first, so balancers and peers move on at once.
        ['ha', running.ha && (() => running.ha?.close() ?? Promise.resolve())],
        ['tentacle', running.tentacle && (() => running.tentacle?.close() ?? Promise.resolve())],
        ['queue listener', running.queueListener?.close.bind(running.queueListener)],
        [
          'dataserver',
          running.dataserver && (() => running.dataserver?.close() ?? Promise.resolve()),
        ],
        ['parser', running.closeParser],
        ['database pool', running.pool && (() => running.pool?.end() ?? Promise.resolve())],
        ['ha pool', running.haPool && (() => running.haPool?.end() ?? Promise.resolve())],
        ['http', running.http && (() => running.http?.close() ?? Promise.resolve())],
      ];
      for (const [name, step] of steps) {
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
  ha.onFatal((err) => void shutdown(err.message, 1));
  process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.once('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err: describeError(err) }, 'unhandled rejection');
    void shutdown('unhandledRejection', 1);
  });
  logger.info(
    readyMessage({
      tentacle: running.tentacle?.addresses() ?? [],
      http: httpAddress,
      db: config.db,
      incomingDir: config.incomingDir,
      dataserver: s.dataserver,
    }),
  );
  // Lifecycle lines go out now, not when the asynchronous log buffer fills (supervisors wait on it).
  logger.flush();
}

/** `serve --check-config`: report on stdout, exit 0 when serve would start, else 1. */
async function runCheckConfig(loaded: Loaded): Promise<number> {
  const s = loaded.settings.values;
  const config = toDataserverConfig(s);
  let listener: TentacleServerOptions | undefined;
  let listenerError: Error | undefined;
  const listenerWarnings: string[] = [];
  try {
    if (s.tentacle) {
      listener = tentacleOptions(s, config.incomingDir, undefined);
      const file = s.tentacle_config === undefined ? undefined : readConfFile(s.tentacle_config);
      listenerWarnings.push(...listenerFileWarnings(file));
    }
  } catch (err) {
    listenerError = err instanceof Error ? err : new Error(String(err));
  }
  const { ok, report } = await checkConfig({
    confPath: loaded.confPath,
    table: SERVE_SETTINGS,
    values: s,
    warnings: [...loaded.settings.warnings, ...loaded.fileWarnings, ...listenerWarnings],
    db: config.db,
    incomingDir: config.incomingDir,
    listener: () => {
      if (listenerError !== undefined) throw listenerError;
      return listener;
    },
    logFile: s.log_file,
    pidFile: loaded.pidFile,
  });
  process.stdout.write(report);
  return ok ? 0 : 1;
}

async function main(argv: readonly string[]): Promise<number> {
  let loaded: Loaded;
  try {
    loaded = loadArgs(argv);
  } catch (err) {
    process.stderr.write(`tentacle-ingest: ${describeError(err).message}\n`);
    // --check-config answers 0/1 like zabbix_server -T; a usage error is 2 otherwise.
    return argv.includes('--check-config') ? 1 : 2;
  }
  if (loaded.command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (loaded.command === 'version') {
    process.stdout.write(`tentacle-ingest ${VERSION}\n`);
    return 0;
  }
  const s = loaded.settings.values;
  if (loaded.checkConfig === true) {
    return runCheckConfig(loaded).catch((err: unknown) => {
      process.stdout.write(`FAIL  ${describeError(err).message}\n`);
      return 1;
    });
  }
  const logger = createLogger({
    level: logLevel(s.verbosity),
    ...logFileOptions(s, s.servername ?? hostname()),
  });
  try {
    switch (loaded.command) {
      case 'init-db': {
        const config = toDataserverConfig(s);
        const result = await initDatabase({ ...config.db }, { createDatabase: true }, { logger });
        process.stdout.write(
          `database ${config.db.database}: ${result.createdDatabase ? 'created, ' : ''}schema ${result.schema === 'created' ? 'created and seeded' : 'already present (ledger ensured)'}\n`,
        );
        logger.flush();
        return 0;
      }
      case 'serve':
        await serve(loaded, logger, createMetricsRegistry({ version: VERSION }));
        return -1; // keeps running until a signal
    }
  } catch (err) {
    const { code, message } = describeError(err);
    // One line a human can act on (database unreachable, bad configuration, port in use).
    process.stderr.write(`tentacle-ingest: ${message}\n`);
    logger.error({ err: { code, message } }, 'startup failed');
    logger.flush();
    await closeLogFiles();
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
    if (code > 0) setTimeout(() => process.exit(code), 200).unref();
  },
  (err: unknown) => {
    process.stderr.write(`tentacle-ingest: ${describeError(err).message}\n`);
    process.exit(1);
  },
);
