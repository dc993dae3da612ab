#!/usr/bin/env -S node --max-old-space-size=256 --max-semi-space-size=16 --min-semi-space-size=16
/**
 * Composition root: `tentacle-ingest serve [-c FILE]` (Tentacle listener + dataserver in one
 * process) and `tentacle-ingest init-db`. Every configuration key is also a flag of the same name
 * (`--incomingdir DIR`, `--dbname NAME`, ...), and an environment variable `PANDORA_<KEY>`.
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
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
} from './core/index.js';
import { writePidFile } from './cli/index.js';
import { initDatabase } from './db/index.js';
import {
  packetHeapProblem,
  queueIntakeFactory,
  toDataserverConfig,
  type DataserverConfig,
} from './dataserver/index.js';
import type { TentacleServer, TentacleServerOptions } from './tentacle/index.js';
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
import { startQueueListenerMode } from './queue/index.js';
import {
  FSYNC_THREADPOOL_SIZE,
  loadArgs,
  SERVE_SETTINGS,
  logLevel,
  tentacleOptions,
  USAGE,
  VERSION,
  type Loaded,
} from './serve-args.js';
import { sparesFor, startDataserver, startHa, startHttp, startListener } from './serve-parts.js';
import { installShutdown, type Running } from './serve-shutdown.js';

async function prepareDatabase(config: DataserverConfig, logger: Logger): Promise<void> {
  await initDatabase({ ...config.db }, { createDatabase: true }, { logger });
}

async function serve(loaded: Loaded, logger: Logger, registry: Registry): Promise<void> {
  const s = loaded.settings.values;
  const config = toDataserverConfig(s);
  const listenerOptions = s.tentacle ? tentacleOptions(s, config.incomingDir, logger) : undefined;
  // Before the first asynchronous fs or DNS call: libuv sizes its pool once.
  if (listenerOptions && listenerOptions.sync !== 'none') {
    process.env['UV_THREADPOOL_SIZE'] ??= FSYNC_THREADPOOL_SIZE;
  }
  const reload = preflight(loaded, config, logger);
  await prepareDatabase(config, logger);
  const running: Running = {};
  const ha = await startHa(s, config, running, { logger, registry });
  const spares = sparesFor(listenerOptions, s, config, registry);
  // Scale-out: uploads and spool files go to the shared queue (src/queue/listener-mode.ts).
  const queueListener = await startQueueListenerMode(
    s,
    { ...config, appliesToo: s.dataserver },
    { logger, registry },
  );
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
    await startListener(listenerOptions, config, running, {
      logger,
      registry,
      spares,
      sink: queueListener?.sink,
      dataserver,
    });
  }
  addSettingsReload(reload, loaded, logger, config.incomingDir, running.tentacle);
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
  const httpAddress = await startHttp(s, ha, running, { logger, registry });
  // --- end HA + HTTP wiring ---
  installShutdown(running, { logger, timeoutSec: s.shutdown_timeout, ha });
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

/**
 * What must hold before anything starts: something to run, the incoming folder, the pid file,
 * heap limits that fit the cache and one packet. SIGHUP is handled from here on (its default
 * action kills); the returned actions grow as parts start.
 */
function preflight(loaded: Loaded, config: DataserverConfig, logger: Logger): ReloadActions {
  const s = loaded.settings.values;
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
  return reload;
}

/** SIGHUP re-reads the settings: the log level, and the listener's reconfigurable part. */
function addSettingsReload(
  reload: ReloadActions,
  loaded: Loaded,
  logger: Logger,
  incomingDir: string,
  listener: TentacleServer | undefined,
): void {
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
        listener && ((v) => listener.reconfigure(tentacleOptions(v, incomingDir, logger))),
    }),
  );
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
