import { EventEmitter } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import tls from 'node:tls';
import { Registry } from 'prom-client';
import {
  ConfigError,
  describeError,
  type Logger,
  silentLogger,
  type SpareFiles,
} from '../core/index.js';
import { ConnectionsPerAddress } from './address-limit.js';
import { AuthThrottle } from './auth-throttle.js';
import { descriptorsNeeded, openFileLimit } from './fd-limit.js';
import { ByteBudget, ZSEND_MEMORY_BUDGET_BYTES } from './memory-budget.js';
import { createTentacleMetrics, RejectReason, type TentacleMetrics } from './metrics.js';
import {
  resolveTentacleConfig,
  type TentacleConfig,
  type TentacleServerOptions,
  type TentacleTlsConfig,
} from './options.js';
import {
  acceptProxyHeader,
  directClient,
  isTrustedSource,
  type ClientAddress,
} from './proxy-accept.js';
import { Gate, TentacleSession, type FileStoredEvent, type SessionContext } from './session.js';
import { SpoolWriter, sweepStaleTempFiles } from './spool-writer.js';
import type { FileSink } from './file-sink.js';

/**
 * The Tentacle listener: one `net.Server` per listen address (implicit TLS is layered per
 * connection), a connection limit, and graceful shutdown.
 *
 * Connection limit (`-c`, spec §10): the reference stops accepting at the limit, so extra
 * clients wait unserved in the kernel backlog until a slot frees. Node cannot pause `accept()`,
 * so we accept every connection paused (`pauseOnConnect`) and keep up to
 * `max_waiting_connections` (1024) of them waiting, unread and without a timer, in arrival
 * order; they are served as slots free, as from the reference's backlog (case 57: a queued SEND
 * is answered when an idle client times out). Waiting costs a descriptor and no buffer, so a
 * burst of agents is served within the client's 4 s patience instead of failing. Connections
 * are closed without a protocol line, but logged with the peer address and counted, when they
 * arrive to a full waiting list (`ERR_TENTACLE_CONNECTION_LIMIT`; the client retries) or have
 * waited more than twice the idle limit (`ERR_TENTACLE_TIMEOUT`: the client has given up, or
 * the list is clogged by idle connections). Slow or idle peers lose their slot at the first-byte,
 * command-line or idle limit, or the per-command deadline; a large `-c` is cheap (one session
 * object each, so the default is thousands), and one client address may hold at most
 * `max_connections_per_address` of the served and waiting connections together.
 *
 * Every per-address decision (that cap, the PASS delay, the `peer` of log lines) uses the one
 * address `#admit()` receives (`ClientAddress`): the socket's, or the agent's own that a
 * PROXY header from a listed balancer names; a balancer's connections count only once it has.
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
  /** Takes the uploads it wants instead of the storage folder (scale-out; file-sink.ts). */
  readonly sink?: FileSink | undefined;
}

export interface TentacleServerEvents {
  fileStored: [FileStoredEvent];
}

export class TentacleServer extends EventEmitter<TentacleServerEvents> {
  readonly config: TentacleConfig;
  readonly metrics: TentacleMetrics;
  readonly #log: Logger;
  readonly #spool: SpoolWriter;
  readonly #ctx: SessionContext;
  #listeners: net.Server[] = [];
  #addresses: AddressInfo[] = [];
  /** Accepted connections holding a slot (TLS handshake or session), until they close. */
  readonly #served = new Set<net.Socket>();
  readonly #sessions = new Set<TentacleSession>();
  /** Accepted connections waiting for a slot (paused, unread), oldest first. */
  readonly #waiting: { raw: net.Socket; direct: ClientAddress; since: number }[] = [];
  /** Served and waiting connections per client address. */
  readonly #perAddress: ConnectionsPerAddress;
  /** Callbacks waiting for every served connection and session to end. */
  #whenIdle: (() => void)[] = [];
  /** Clients named by a PROXY header, by connection, until their TLS handshake ends. */
  readonly #tlsClients = new Map<string, ClientAddress>();
  /** Performs the TLS handshakes (never listens itself; we hand it accepted sockets). */
  readonly #tlsServer: tls.Server | undefined;
  #accepting = false;
  #starting: Promise<AddressInfo[]> | undefined;
  #closing: Promise<void> | undefined;
  #draining: Promise<void> | undefined;

  constructor(options: TentacleServerOptions, deps: TentacleServerDeps = {}) {
    super();
    this.config = resolveTentacleConfig(options);
    const config = this.config;
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
    });
    const storageDir = Buffer.from(config.directory, 'utf8');
    const emitStored = (event: FileStoredEvent): void => {
      this.emit('fileStored', event);
    };
    const hasListeners = (): boolean => this.listenerCount('fileStored') > 0;
    this.#perAddress = new ConnectionsPerAddress(config.maxConnectionsPerAddress);
    this.#ctx = {
      config,
      storageDir,
      filterDirs: config.filters.map((f) =>
        f.dir === '' ? storageDir : Buffer.from(`${config.directory}/${f.dir}`, 'utf8'),
      ),
      filterIsOwnFolder: config.filters.map(
        (f) => resolvePath(config.directory, f.dir) !== resolvePath(config.directory),
      ),
      authThrottle: new AuthThrottle(config.passDelayMaxMs),
      spool: this.#spool,
      metrics: this.metrics,
      logger: this.#log,
      zipGate: new Gate(ZIP_CONCURRENCY),
      zipMemory: new ByteBudget(Math.max(ZSEND_MEMORY_BUDGET_BYTES, config.maxSize)),
      // Only build events when someone listens.
      get fileStored() {
        return hasListeners() ? emitStored : undefined;
      },
    };
    this.#tlsServer = config.tls ? this.#createTlsServer(config.tls) : undefined;
  }

  /** Connections being served (TLS handshakes included). */
  activeConnections(): number {
    return this.#served.size;
  }

  /** Peer bytes held in memory by all sessions (partial lines, unwritten bodies, ZSEND archives). */
  bufferedBytes(): number {
    let total = 0;
    for (const s of this.#sessions) total += s.bufferedBytes;
    return total;
  }

  /** Accepted connections waiting for a free slot. */
  waitingConnections(): number {
    return this.#waiting.length;
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
    if (this.#accepting) return Promise.resolve(this.addresses());
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
        const server = await this.#bind(address, port);
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
    this.#accepting = true;
    this.#warnIfFewDescriptors();
    return this.addresses();
  }

  /** At the connection limits, accept() would fail with EMFILE: say so at start. */
  #warnIfFewDescriptors(): void {
    const limit = openFileLimit();
    const { maxConnections, maxWaitingConnections } = this.config;
    const needed = descriptorsNeeded(maxConnections, maxWaitingConnections);
    if (limit !== undefined && limit < needed) {
      this.#log.warn(
        {
          event: 'fd_limit_low',
          openFileLimit: limit,
          needed,
          maxConnections,
          maxWaitingConnections,
        },
        'the open-file limit is below what max_connections and max_waiting_connections may use; raise it (ulimit -n, LimitNOFILE) or lower them',
      );
    }
  }

  async #bind(address: string, port: number): Promise<net.Server> {
    if (address !== '0') return this.#bindOne(address, port, false);
    // `0` = every address: IPv6 dual-stack when the host has IPv6, else IPv4.
    try {
      return await this.#bindOne('::', port, false);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') throw err;
      return this.#bindOne('0.0.0.0', port, false);
    }
  }

  #bindOne(host: string, port: number, ipv6Only: boolean): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
      server.on('connection', this.#onConnection);
      const onError = (err: Error): void => {
        server.close();
        reject(err);
      };
      server.once('error', onError);
      server.listen({ host, port, ipv6Only }, () => {
        server.off('error', onError);
        server.on('error', (err) => {
          this.#log.error({ event: 'listener_error', err: err.message }, 'listener error');
        });
        resolve(server);
      });
    });
  }

  readonly #onConnection = (raw: net.Socket): void => {
    raw.on('error', ignoreError);
    if (!this.#accepting) {
      raw.destroy();
      return;
    }
    const direct = directClient(raw);
    const proxyProtocol = this.config.proxyProtocol;
    // A balancer's connections count against the agent its PROXY header names, once read.
    const fromBalancer =
      proxyProtocol !== undefined && isTrustedSource(proxyProtocol, direct.address);
    if (!fromBalancer && !this.#holdAddressShare(raw, direct)) return;
    if (this.#served.size < this.config.maxConnections) {
      this.#serve(raw, direct);
      return;
    }
    const now = performance.now();
    this.#dropStaleWaiting(now);
    if (this.#waiting.length < this.config.maxWaitingConnections) {
      this.#waiting.push({ raw, direct, since: now });
      this.metrics.connectionsWaiting.set(this.#waiting.length);
      return;
    }
    this.#refuse(
      raw,
      direct,
      RejectReason.ConnectionLimit,
      'connection limit reached and waiting list full',
      { maxConnections: this.config.maxConnections },
    );
  };

  /** Counts the connection against its client's address until it closes; false = refused. */
  #holdAddressShare(raw: net.Socket, client: ClientAddress): boolean {
    if (!this.#perAddress.tryAcquire(client.address)) {
      this.#refuseOverAddressCap(raw, client);
      return false;
    }
    raw.once('close', () => {
      this.#perAddress.release(client.address);
    });
    return true;
  }

  /** Closed at once, counted; logged at a bounded rate (a flood of them is the usual case). */
  #refuseOverAddressCap(raw: net.Socket, client: ClientAddress): void {
    this.metrics.reject(RejectReason.AddressLimit);
    const unlogged = this.#perAddress.refusalToLog(performance.now());
    if (unlogged !== undefined) {
      this.#log.warn(
        {
          event: 'rejected',
          reason: RejectReason.AddressLimit,
          peer: client.address,
          peerPort: client.port,
          maxConnectionsPerAddress: this.#perAddress.limit,
          unlogged,
        },
        'too many connections from this address',
      );
    }
    raw.destroy();
  }

  /**
   * Waiting connections older than twice the idle limit are closed: their client has given up
   * (the Perl client waits 4 s per read), or they are idle ones clogging the list.
   */
  #dropStaleWaiting(now: number): void {
    const staleBefore = now - 2 * this.config.idleTimeoutMs;
    while (this.#waiting.length > 0 && (this.#waiting[0]?.since ?? now) < staleBefore) {
      const stale = this.#waiting.shift();
      if (stale && !stale.raw.destroyed) {
        this.#refuse(
          stale.raw,
          stale.direct,
          RejectReason.Timeout,
          'waited too long for a free slot',
          {
            maxConnections: this.config.maxConnections,
          },
        );
      }
    }
    this.metrics.connectionsWaiting.set(this.#waiting.length);
  }

  /** Closes a connection before any session: no protocol line, but logged and counted. */
  #refuse(
    raw: net.Socket,
    client: ClientAddress,
    reason: RejectReason,
    message: string,
    extra: Record<string, unknown>,
  ): void {
    this.metrics.reject(reason);
    this.#log.warn(
      { event: 'rejected', reason, peer: client.address, peerPort: client.port, ...extra },
      message,
    );
    raw.destroy();
  }

  /** Gives an accepted connection a slot, held until its socket closes. */
  #serve(raw: net.Socket, direct: ClientAddress): void {
    this.#served.add(raw);
    this.metrics.connectionsActive.set(this.#served.size);
    raw.once('close', () => {
      this.#served.delete(raw);
      this.metrics.connectionsActive.set(this.#served.size);
      this.#serveWaiting();
      this.#checkIdle();
    });
    const proxyProtocol = this.config.proxyProtocol;
    if (!proxyProtocol) {
      this.#admit(raw, direct);
      return;
    }
    if (raw.remoteAddress === undefined) {
      // Reset before we looked (HAProxy ends its health checks with a RST): nobody to trust.
      this.#log.debug({ event: 'reset_before_served' }, 'connection reset before it was served');
      raw.destroy();
      return;
    }
    // The PROXY header precedes everything, TLS included: read it from the raw socket first.
    acceptProxyHeader(raw, proxyProtocol).then(
      (client) => {
        // Only now is a proxied agent's address known: its share is held from here.
        if (client.via && !this.#holdAddressShare(raw, client)) return;
        this.#admit(raw, client);
      },
      (err: unknown) => {
        this.#refuse(raw, direct, RejectReason.ProxyHeader, 'PROXY protocol header refused', {
          err: describeError(err).message,
          proxyProtocolFrom: proxyProtocol.from,
        });
      },
    );
  }

  /** Starts the TLS handshake or the session of a connection whose client is known. */
  #admit(raw: net.Socket, client: ClientAddress): void {
    if (raw.destroyed) return;
    if (this.#log.isLevelEnabled('info')) {
      const via = client.via ? { via: client.via.address, viaPort: client.via.port } : {};
      this.#log.info(
        { event: 'connected', peer: client.address, peerPort: client.port, ...via },
        'client connected',
      );
    }
    if (!this.#tlsServer) {
      this.#startSession(raw, client);
      return;
    }
    if (client.via) {
      const key = connectionKey(raw);
      this.#tlsClients.set(key, client);
      raw.once('close', () => this.#tlsClients.delete(key));
    }
    this.#tlsServer.emit('connection', raw);
  }

  /** The client of a TLS socket: the one its PROXY header named, else its own peer. */
  #tlsClient(socket: tls.TLSSocket): ClientAddress {
    return this.#tlsClients.get(connectionKey(socket)) ?? directClient(socket);
  }

  #startSession(socket: net.Socket, client: ClientAddress): void {
    const session = new TentacleSession(socket, this.#ctx, client);
    this.#sessions.add(session);
    void session.closed.then(() => {
      this.#sessions.delete(session);
      this.#checkIdle();
    });
    session.start();
    if (this.#closing || this.#draining) session.closeWhenIdle();
  }

  #serveWaiting(): void {
    this.#dropStaleWaiting(performance.now());
    while (this.#served.size < this.config.maxConnections && this.#waiting.length > 0) {
      const next = this.#waiting.shift();
      if (next && !next.raw.destroyed) this.#serve(next.raw, next.direct);
    }
    this.metrics.connectionsWaiting.set(this.#waiting.length);
  }

  #checkIdle(): void {
    if (this.#served.size > 0 || this.#sessions.size > 0) return;
    for (const done of this.#whenIdle.splice(0)) done();
  }

  /**
   * Implicit TLS (spec §7): a tls.Server that never listens; accepted sockets are handed to it,
   * so handshake timeouts and client-certificate checks are Node's own. Without `-f` no client
   * certificate is requested (agents use `-c`); with `-f` one signed by the CA is required.
   */
  #createTlsServer(config: TentacleTlsConfig): tls.Server {
    const server = tls.createServer({
      ...config.contextOptions,
      requestCert: config.requireClientCert,
      rejectUnauthorized: config.requireClientCert,
      handshakeTimeout: this.config.idleTimeoutMs,
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      this.#startSession(socket, this.#tlsClient(socket));
    });
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
      this.metrics.reject(RejectReason.Tls);
      const client = this.#tlsClient(socket);
      this.#log.warn(
        {
          event: 'rejected',
          reason: RejectReason.Tls,
          peer: client.address,
          peerPort: client.port,
          code: err.code,
          certificate: socket.authorizationError,
          err: err.message,
        },
        'TLS handshake failed',
      );
      // With a listener for this event Node leaves the socket open (e.g. on handshake timeout).
      socket.destroy();
    });
    return server;
  }

  #stopAccepting(): void {
    this.#accepting = false;
    for (const server of this.#listeners) server.close();
    this.#listeners = [];
    this.#addresses = [];
    // Waiting connections were never read: nothing of theirs is in flight. They see EOF.
    for (const { raw } of this.#waiting.splice(0)) raw.destroy();
    this.metrics.connectionsWaiting.set(0);
  }

  /** Sessions end at their next point between commands; resolves when all have ended. */
  async #finishSessions(deadlineMs: number | undefined): Promise<void> {
    for (const s of this.#sessions) s.closeWhenIdle();
    const idle = new Promise<void>((resolve) => {
      this.#whenIdle.push(resolve);
      this.#checkIdle();
    });
    if (deadlineMs === undefined) {
      await idle;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => {
        resolve('expired');
      }, deadlineMs);
      timer.unref();
    });
    const outcome = await Promise.race([idle, expired]);
    clearTimeout(timer);
    if (outcome === 'expired') {
      this.#log.warn(
        { event: 'close_timeout', connections: this.#served.size },
        'close timeout: dropping unfinished transfers',
      );
      for (const s of this.#sessions) s.destroy();
      for (const raw of this.#served) raw.destroy();
      await idle;
    }
  }

  /**
   * Stops accepting and lets the current sessions finish their command, then closes them
   * (between commands). The server stays usable: `listen()` starts accepting again.
   */
  drain(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#draining ??= (async () => {
      this.#log.info({ event: 'draining', sessions: this.#sessions.size }, 'draining');
      this.#stopAccepting();
      await this.#finishSessions(undefined);
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
      this.#log.info({ event: 'closing', sessions: this.#sessions.size }, 'closing');
      this.#stopAccepting();
      await this.#finishSessions(this.config.closeTimeoutMs);
      await this.#spool.abortAll();
      this.#log.info({ event: 'closed' }, 'server closed');
    })();
    return this.#closing;
  }
}

/**
 * A TLS socket reports its raw socket's endpoints, so the four of them find the client a
 * PROXY header named (unique among open connections).
 */
function connectionKey(socket: net.Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}|${socket.localAddress}|${socket.localPort}`;
}

function ignoreError(): void {
  // errors of sockets not yet served (resets while waiting); sessions attach their own handler
}

/** The Tentacle server factory (see index.ts for the contract). */
export function createTentacleServer(
  options: TentacleServerOptions,
  deps: TentacleServerDeps = {},
): TentacleServer {
  return new TentacleServer(options, deps);
}
