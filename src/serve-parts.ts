import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Logger, type Registry, spareDirOf, SpareFiles } from './core/index.js';
import { createDbPool } from './db/index.js';
import {
  createDataserver,
  createPacketParser,
  processPacket,
  type Dataserver,
  type DataserverConfig,
  type DataserverDeps,
} from './dataserver/index.js';
import { createHaRuntime, type HaRuntime } from './ha/index.js';
import { createHttpServer, drainAuthFor } from './http/index.js';
import type { QueueListenerMode } from './queue/index.js';
import {
  createTentacleServer,
  ensureFilterFolders,
  PANDORA_FILTERS,
  type TentacleServerOptions,
} from './tentacle/index.js';
import { type Loaded, SPARE_MAX_BYTES, VERSION } from './serve-args.js';
import type { Running } from './serve-shutdown.js';
/**
 * The parts `serve` starts, one function each: the dataserver, HA, the spare files, the
 * Tentacle listener and the HTTP side. main.ts decides their order; each records itself in
 * `running` so shutdown (serve-shutdown.ts) stops what did start.
 */
/** The dataserver half: its pool, the parse workers and the pipeline, started. */
export async function startDataserver(
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
  const parser = createPacketParser(config, { logger: deps.logger, registry: deps.registry });
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

export type ServeSettings = Loaded['settings']['values'];

/** HA membership and election, started before intake (a duplicate servername stops here). */
export async function startHa(
  s: ServeSettings,
  config: DataserverConfig,
  running: Running,
  deps: { logger: Logger; registry: Registry },
): Promise<HaRuntime> {
  // Its own small pool: renewals must never queue behind the pipeline's batches.
  const haPool = createDbPool(
    { ...config.db, connectionLimit: 4, queueLimit: 100, connectTimeoutMs: 2000 },
    { logger: deps.logger },
  );
  running.haPool = haPool;
  const ha = createHaRuntime(
    { ...s, servername: config.serverName },
    { version: VERSION, incomingDir: config.incomingDir },
    { pool: haPool, logger: deps.logger, registry: deps.registry },
  );
  running.ha = ha;
  await ha.start();
  return ha;
}

/**
 * Inode recycling between the dataserver and our own listener (core/spare-files.ts), under
 * `sync always` only (see SpoolWriterOptions.spares); off, its folder is removed.
 */
export function sparesFor(
  listenerOptions: TentacleServerOptions | undefined,
  s: ServeSettings,
  config: DataserverConfig,
  registry: Registry,
): SpareFiles | undefined {
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
  return spares;
}

/** The Tentacle listener: remote-config folders, the server, its wake-up of the dataserver. */
export async function startListener(
  listenerOptions: TentacleServerOptions,
  config: DataserverConfig,
  running: Running,
  deps: {
    logger: Logger;
    registry: Registry;
    spares: SpareFiles | undefined;
    sink: QueueListenerMode['sink'] | undefined;
    dataserver: Dataserver | undefined;
  },
): Promise<void> {
  const { logger } = deps;
  if (listenerOptions.filters === PANDORA_FILTERS) {
    const created = ensureFilterFolders(config.incomingDir, listenerOptions.filters ?? '');
    if (created.length > 0) logger.info({ created }, 'remote configuration folders created');
  }
  const tentacle = createTentacleServer(listenerOptions, {
    logger,
    registry: deps.registry,
    spares: deps.spares,
    sink: deps.sink,
    announceStoredBytes: deps.dataserver !== undefined,
  });
  const { dataserver } = deps;
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

/** The HTTP operations side (--http-port), reading HA's node state. */
export async function startHttp(
  s: ServeSettings,
  ha: HaRuntime,
  running: Running,
  deps: { logger: Logger; registry: Registry },
): Promise<{ host: string; port: number } | undefined> {
  if (s.http_port === undefined) return undefined;
  const http = createHttpServer(
    {
      host: s.http_address,
      port: s.http_port,
      drainAuth: drainAuthFor(s.http_address, s.http_drain_token),
    },
    { log: deps.logger, registry: deps.registry, state: ha.state },
  );
  running.http = http;
  const httpAddress = await http.listen();
  deps.logger.info({ port: httpAddress.port }, 'HTTP operations side listening');
  return httpAddress;
}
