/**
 * Public surface of the Tentacle module (cross-folder imports go through this file).
 *
 * Server contract (used by `tentacle-ingest serve` and the HA module; keep it stable):
 *
 *   const server = createTentacleServer(options, { logger, registry, connectionLogLevel });
 *     // connectionLogLevel: level of a normal connection's lines (connected, file received or
 *     //   sent), 'debug' unless given; refusals and failures keep their own levels.
 *   // sink (optional, FileSink): takes the uploads it wants before the final OK instead of the
 *   //   storage folder; its rejection is `SEND ERR` (scale-out mode hands them to the queue)
 *     // options: TentacleServerOptions (directory required unless proxy; the rest default to the
 *     //   Perl server's defaults plus extensions: sync, transferTimeoutSec, maxDecompressedSize,
 *     //   fileMode, closeTimeoutSec, maxConnectionsPerAddress, firstByteTimeoutSec,
 *     //   commandTimeoutSec, passDelayMaxSec, recvAnyFile, proxyProtocol + proxyProtocolFrom;
 *     //   maxConnections defaults to 2048). Throws ConfigError at once for bad settings (missing
 *     //   or unwritable folder, invalid filter regex, unreadable TLS files, bad address).
 *   await server.listen();        // → AddressInfo[]; rejects (ConfigError) only if no address binds
 *   server.on('fileStored', ({ path, name, size, peer, compressed, pathBytes, nameBytes }) => …);
 *     // after the file is under its final name (and durable with sync 'always')
 *   server.activeConnections();   // sessions being served (waitingConnections(): queued at -c)
 *   await server.drain();         // stop accepting, finish in-flight commands, close sessions;
 *                                 // stays usable: listen() accepts again
 *   await server.close();         // graceful and idempotent: stop accepting, in-flight transfers
 *                                 // get closeTimeoutSec, the rest are dropped; no temp file remains
 *
 * Metrics (registered on the registry passed in): pandora_tentacle_connections_active,
 * pandora_tentacle_connections_waiting, pandora_tentacle_files_received_total{result},
 * pandora_tentacle_received_bytes_total, pandora_tentacle_rejections_total{reason},
 * pandora_tentacle_file_receive_duration_seconds.
 *
 * Storage is fsync-heavy under sync 'always': run with UV_THREADPOOL_SIZE ≥ 16 (the CLI sets it).
 */
export {
  createTentacleServer,
  TentacleServer,
  type TentacleServerDeps,
  type TentacleServerEvents,
} from './server.js';
export type { ConnectionLogLevel, FileStoredEvent } from './session.js';
export type { FileSink } from './file-sink.js';
export type { ClientAddress } from './proxy-accept.js';
export {
  passDigest,
  resolveTentacleConfig,
  serverOptionsFromSettings,
  type SyncPolicy,
  type TentacleConfig,
  type TentacleServerOptions,
  type TentacleTlsOptions,
} from './options.js';
export { compileFilters } from './name-rules.js';
export { resolveTentacleSettings, TENTACLE_SETTINGS, type TentacleSettings } from './settings.js';
export { RejectReason } from './metrics.js';
export type { Reconfiguration } from './reconfigure.js';
export { parseServerArgs, SERVER_USAGE, ServerUsageError, type ServerArgs } from './server-args.js';
export { isZip, unzipFirstMember, zipSingleFile } from './zip.js';
export * from './client-api.js';
export {
  ensureFilterFolders,
  listenerFilters,
  NO_FILTERS,
  PANDORA_FILTERS,
} from './remote-config.js';
