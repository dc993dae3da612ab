import { EventEmitter } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { Registry } from 'prom-client';
import { ConfigError, type Logger, silentLogger, type SpareFiles } from '../core/index.js';
import { AuthThrottle } from './auth-throttle.js';
import { ConnectionAdmission } from './connection-admission.js';
import { warnIfFewDescriptors } from './fd-limit.js';
import { bindAddress } from './listener-bind.js';
import { ByteBudget, ZSEND_MEMORY_BUDGET_BYTES } from './memory-budget.js';
import { createTentacleMetrics, type TentacleMetrics } from './metrics.js';
import {
  resolveTentacleConfig,
  type TentacleConfig,
  type TentacleServerOptions,
} from './options.js';
import { reconfigure, type Reconfiguration } from './reconfigure.js';
import {
  Gate,
  type ConnectionLogLevel,
  type FileStoredEvent,
  type SessionContext,
} from './session.js';
import { sweepStaleTempFiles } from './spool-sweep.js';
import { SpoolWriter } from './spool-writer.js';
import type { FileSink } from './file-sink.js';

/**
 * The Tentacle listener: one `net.Server` per listen address (implicit TLS is layered per
 * connection), listening again after a drain, and graceful shutdown. What happens to an
 * accepted connection (the per-address cap, the `-c` slots and their waiting list, the PROXY
 * header, TLS, the session) is connection-admission.ts.
 */

/** Whole files in memory at once: ZSEND after decompression, ZRECV before compression. */
const ZIP_CONCURRENCY = 2;
/** Temp files left by a crash are removed at startup once they are this old. */
const STALE_TEMP_AGE_MS = 60 * 60 * 1000;

export interface TentacleServerDeps {
  readonly logger?: Logger | undefined;
  readonly registry?: Registry | undefined;
  /** Finished spool files to write uploads into (inode recycling; `serve` only). */
  readonly spares?: SpareFiles | undefined;
  /** Level of the per-connection lines (session/context.ts); `debug` unless given. */
  readonly connectionLogLevel?: ConnectionLogLevel | undefined;
  /** Takes the uploads it wants instead of the storage folder (scale-out; file-sink.ts). */
  readonly sink?: FileSink | undefined;
  /** `fileStored` events carry the body when it was stored from memory (`stored`). */
  readonly announceStoredBytes?: boolean | undefined;
}

export interface TentacleServerEvents {
  fileStored: [FileStoredEvent];
}

export class TentacleServer extends EventEmitter<TentacleServerEvents> {
  #config: TentacleConfig;
  readonly metrics: TentacleMetrics;
  readonly #log: Logger;
  readonly #spool: SpoolWriter;
  readonly #connectionLogLevel: ConnectionLogLevel;
  readonly #authThrottle: AuthThrottle;
  readonly #zipGate = new Gate(ZIP_CONCURRENCY);
  #zipMemory: ByteBudget;
  readonly #admission: ConnectionAdmission;
  #listeners: Server[] = [];
  #addresses: AddressInfo[] = [];
  #starting: Promise<AddressInfo[]> | undefined;
  #closing: Promise<void> | undefined;
  #draining: Promise<void> | undefined;

  constructor(options: TentacleServerOptions, deps: TentacleServerDeps = {}) {
    super();
    this.#config = resolveTentacleConfig(options);
    const config = this.#config;
    this.#log = (deps.logger ?? silentLogger()).child({ component: 'tentacle' });
    this.metrics = createTentacleMetrics(deps.registry ?? new Registry());
    this.#spool = new SpoolWriter({
      sync: config.sync,
      fileMode: config.fileMode,
      overwrite: config.overwrite,
      onFolderSync: () => {
        this.metrics.folderSyncs.inc();
      },
      spares: deps.spares,
      sink: deps.sink,
      keepStored: deps.announceStoredBytes,
    });
    this.#connectionLogLevel = deps.connectionLogLevel ?? 'debug';
    this.#authThrottle = new AuthThrottle(config.passDelayMaxMs);
    this.#zipMemory = zipBudget(config.maxSize);
    this.#admission = new ConnectionAdmission(
      config,
      this.#sessionContext(config),
      this.#log,
      () => this.#closing !== undefined || this.#draining !== undefined,
    );
  }

  /** What every session started from now on shares. */
  #sessionContext(config: TentacleConfig): SessionContext {
    const storageDir = Buffer.from(config.directory, 'utf8');
    const emitStored = (event: FileStoredEvent): void => {
      this.emit('fileStored', event);
    };
    const hasListeners = (): boolean => this.listenerCount('fileStored') > 0;
    return {
      config,
      storageDir,
      filterDirs: config.filters.map((f) =>
        f.dir === '' ? storageDir : Buffer.from(`${config.directory}/${f.dir}`, 'utf8'),
      ),
      filterIsOwnFolder: config.filters.map(
        (f) => resolvePath(config.directory, f.dir) !== resolvePath(config.directory),
      ),
      authThrottle: this.#authThrottle,
      spool: this.#spool,
      metrics: this.metrics,
      logger: this.#log,
      connectionLogLevel: this.#connectionLogLevel,
      zipGate: this.#zipGate,
      zipMemory: this.#zipMemory,
      // Only build events when someone listens.
      get fileStored() {
        return hasListeners() ? emitStored : undefined;
      },
    };
  }

  /**
   * Takes a new configuration (SIGHUP) without stopping: limits, timeouts, filters, password
   * and the TLS certificate apply to connections accepted from now on; what only a restart can
   * change is kept and named (reconfigure.ts). Throws ConfigError, keeping the running one.
   */
  reconfigure(options: TentacleServerOptions): Reconfiguration {
    const result = reconfigure(this.#config, resolveTentacleConfig(options));
    const config = result.config;
    if (config.maxSize !== this.#config.maxSize) this.#zipMemory = zipBudget(config.maxSize);
    this.#config = config;
    this.#admission.reconfigure(
      config,
      this.#sessionContext(config),
      result.applied.includes('tls'),
    );
    return result;
  }

  /** The configuration new connections get. */
  get config(): TentacleConfig {
    return this.#config;
  }

  /** Connections being served (TLS handshakes included). */
  activeConnections(): number {
    return this.#admission.activeConnections;
  }

  /** Peer bytes held in memory by all sessions (partial lines, unwritten bodies, ZSEND archives). */
  bufferedBytes(): number {
    return this.#admission.bufferedBytes();
  }

  /** Accepted connections waiting for a free slot. */
  waitingConnections(): number {
    return this.#admission.waitingConnections;
  }

  /** Bound addresses (empty when not listening). */
  addresses(): AddressInfo[] {
    return [...this.#addresses];
  }

  /**
   * Binds every configured address; a failing one is logged and skipped (as the reference
   * does), and it rejects only when none binds. Callable again after `drain()`.
   */
  listen(): Promise<AddressInfo[]> {
    if (this.#closing) return Promise.reject(new Error('server is closed'));
    if (this.#admission.accepting) return Promise.resolve(this.addresses());
    this.#starting ??= this.#listen().finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  async #listen(): Promise<AddressInfo[]> {
    await this.#draining;
    const { config } = this;
    if (config.directory !== '' && !config.proxy) {
      const dirs = [config.directory, ...config.filters.map((f) => `${config.directory}/${f.dir}`)];
      const removed = await sweepStaleTempFiles(dirs, STALE_TEMP_AGE_MS);
      if (removed > 0) this.#log.info({ event: 'temp_swept', removed }, 'removed stale temp files');
    }
    let port = config.port;
    const failures: string[] = [];
    for (const address of config.listen) {
      // The default `0,0.0.0.0`: IPv4 is already served by the dual-stack `::` listener (the
      // reference logs an EADDRINUSE here on every start).
      if (
        (address === '0.0.0.0' || address === '0') &&
        this.#addresses.some((a) => a.address === '::')
      ) {
        this.#log.debug({ event: 'listen_skipped', address }, 'covered by the dual-stack listener');
        continue;
      }
      try {
        const server = await bindAddress(address, port, this.#admission.onConnection, this.#log);
        const info = server.address() as AddressInfo;
        port = info.port;
        this.#listeners.push(server);
        this.#addresses.push(info);
        this.#log.info(
          { event: 'listening', address: info.address, port: info.port, tls: !!config.tls },
          'server listening',
        );
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        failures.push(`${address}: ${e.code ?? e.message}`);
        this.#log.error(
          { event: 'bind_failed', address, port, code: e.code, err: e.message },
          'cannot listen on address',
        );
      }
    }
    if (this.#listeners.length === 0) {
      throw new ConfigError(`no listener could be bound (${failures.join('; ')})`);
    }
    this.#admission.accepting = true;
    warnIfFewDescriptors(this.config, this.#log);
    return this.addresses();
  }

  #stopAccepting(): void {
    this.#admission.accepting = false;
    for (const server of this.#listeners) server.close();
    this.#listeners = [];
    this.#addresses = [];
    this.#admission.closeWaiting();
  }

  /**
   * Stops accepting and lets the current sessions finish their command, then closes them
   * (between commands). The server stays usable: `listen()` starts accepting again.
   */
  drain(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#draining ??= (async () => {
      this.#log.info({ event: 'draining', sessions: this.#admission.sessionCount }, 'draining');
      this.#stopAccepting();
      await this.#admission.finishSessions(undefined);
    })().finally(() => {
      this.#draining = undefined;
    });
    return this.#draining;
  }

  /**
   * Graceful, idempotent shutdown: stop accepting, let in-flight transfers finish within
   * `close_timeout`, then drop the rest; no temp file remains afterwards.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#log.info({ event: 'closing', sessions: this.#admission.sessionCount }, 'closing');
      this.#stopAccepting();
      await this.#admission.finishSessions(this.config.closeTimeoutMs);
      await this.#spool.abortAll();
      this.#log.info({ event: 'closed' }, 'server closed');
    })();
    return this.#closing;
  }
}

function zipBudget(maxSize: number): ByteBudget {
  return new ByteBudget(Math.max(ZSEND_MEMORY_BUDGET_BYTES, maxSize));
}

/** The Tentacle server factory (see index.ts for the contract). */
export function createTentacleServer(
  options: TentacleServerOptions,
  deps: TentacleServerDeps = {},
): TentacleServer {
  return new TentacleServer(options, deps);
}
