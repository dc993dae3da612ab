import type net from 'node:net';
import { describeError, type Logger } from '../core/index.js';
import { ConnectionsPerAddress } from './address-limit.js';
import { RejectReason, type TentacleMetrics } from './metrics.js';
import type { TentacleConfig } from './options.js';
import {
  acceptProxyHeader,
  directClient,
  isTrustedSource,
  type ClientAddress,
} from './proxy-accept.js';
import { TentacleSession, type SessionContext } from './session.js';
import { TlsHandshakes } from './tls-handshake.js';

/**
 * An accepted connection's way to a session, and the sessions until they end.
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
export class ConnectionAdmission {
  /** New connections are taken (the server listens); false before listen and from drain/close. */
  accepting = false;
  #config: TentacleConfig;
  readonly #metrics: TentacleMetrics;
  readonly #log: Logger;
  /** Given to sessions as they start; replaced by reconfigure(). */
  #ctx: SessionContext;
  /** Whether the server drains or closes: a new session then ends as soon as it is idle. */
  readonly #ending: () => boolean;
  /** Accepted connections holding a slot (TLS handshake or session), until they close. */
  readonly #served = new Set<net.Socket>();
  readonly #sessions = new Set<TentacleSession>();
  /** Accepted connections waiting for a slot (paused, unread), oldest first. */
  readonly #waiting: { raw: net.Socket; direct: ClientAddress; since: number }[] = [];
  /** Served and waiting connections per client address. */
  readonly #perAddress: ConnectionsPerAddress;
  /** Callbacks waiting for every served connection and session to end. */
  #whenIdle: (() => void)[] = [];
  readonly #tls: TlsHandshakes | undefined;

  constructor(config: TentacleConfig, ctx: SessionContext, log: Logger, ending: () => boolean) {
    this.#config = config;
    this.#ctx = ctx;
    this.#metrics = ctx.metrics;
    this.#log = log;
    this.#ending = ending;
    this.#perAddress = new ConnectionsPerAddress(config.maxConnectionsPerAddress);
    this.#tls = config.tls
      ? new TlsHandshakes(config.tls, config.idleTimeoutMs, ctx.metrics, log, (socket, client) => {
          this.#startSession(socket, client);
        })
      : undefined;
  }

  /**
   * A new configuration (SIGHUP) for connections accepted from now on: the caps, the session
   * context and, when `tls` changed, the certificate. Waiting connections get the new caps.
   */
  reconfigure(config: TentacleConfig, ctx: SessionContext, tlsChanged: boolean): void {
    if (tlsChanged && config.tls) this.#tls?.setSecureContext(config.tls.contextOptions);
    this.#perAddress.limit = config.maxConnectionsPerAddress;
    this.#config = config;
    this.#ctx = ctx;
    this.#serveWaiting();
  }

  /** Connections being served (TLS handshakes included). */
  get activeConnections(): number {
    return this.#served.size;
  }

  /** Accepted connections waiting for a free slot. */
  get waitingConnections(): number {
    return this.#waiting.length;
  }

  /** Sessions not yet ended. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Peer bytes held in memory by all sessions (partial lines, unwritten bodies, ZSEND archives). */
  bufferedBytes(): number {
    let total = 0;
    for (const s of this.#sessions) total += s.bufferedBytes;
    return total;
  }

  /** The listeners' `connection` handler. */
  readonly onConnection = (raw: net.Socket): void => {
    raw.on('error', ignoreError);
    if (!this.accepting) {
      raw.destroy();
      return;
    }
    const direct = directClient(raw);
    const proxyProtocol = this.#config.proxyProtocol;
    // A balancer's connections count against the agent its PROXY header names, once read.
    const fromBalancer =
      proxyProtocol !== undefined && isTrustedSource(proxyProtocol, direct.address);
    if (!fromBalancer && !this.#holdAddressShare(raw, direct)) return;
    if (this.#served.size < this.#config.maxConnections) {
      this.#serve(raw, direct);
      return;
    }
    const now = performance.now();
    this.#dropStaleWaiting(now);
    if (this.#waiting.length < this.#config.maxWaitingConnections) {
      this.#waiting.push({ raw, direct, since: now });
      this.#metrics.connectionsWaiting.set(this.#waiting.length);
      return;
    }
    this.#refuse(
      raw,
      direct,
      RejectReason.ConnectionLimit,
      'connection limit reached and waiting list full',
      { maxConnections: this.#config.maxConnections },
    );
  };

  /**
   * Counts the connection against its client's address until the server has ended its side
   * ('finish': our FIN is out, e.g. after QUIT) or the socket closes, whichever comes first;
   * false = refused. Not waiting for the peer's FIN matters: an agent that sees our FIN and
   * reconnects at once may be accepted before its old socket's EOF is read, and would be
   * refused at the cap. A peer that keeps a finished socket open holds it at most the
   * session's linger time. (A TLS session ends on its own socket, so there only 'close' counts.)
   */
  #holdAddressShare(raw: net.Socket, client: ClientAddress): boolean {
    if (!this.#perAddress.tryAcquire(client.address)) {
      this.#refuseOverAddressCap(raw, client);
      return false;
    }
    const release = (): void => {
      raw.off('finish', release);
      raw.off('close', release);
      this.#perAddress.release(client.address);
    };
    raw.once('finish', release);
    raw.once('close', release);
    return true;
  }

  /** Closed at once, counted; logged at a bounded rate (a flood of them is the usual case). */
  #refuseOverAddressCap(raw: net.Socket, client: ClientAddress): void {
    this.#metrics.reject(RejectReason.AddressLimit);
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
    const staleBefore = now - 2 * this.#config.idleTimeoutMs;
    while (this.#waiting.length > 0 && (this.#waiting[0]?.since ?? now) < staleBefore) {
      const stale = this.#waiting.shift();
      if (stale && !stale.raw.destroyed) {
        this.#refuse(
          stale.raw,
          stale.direct,
          RejectReason.Timeout,
          'waited too long for a free slot',
          {
            maxConnections: this.#config.maxConnections,
          },
        );
      }
    }
    this.#metrics.connectionsWaiting.set(this.#waiting.length);
  }

  /** Closes a connection before any session: no protocol line, but logged and counted. */
  #refuse(
    raw: net.Socket,
    client: ClientAddress,
    reason: RejectReason,
    message: string,
    extra: Record<string, unknown>,
  ): void {
    this.#metrics.reject(reason);
    this.#log.warn(
      { event: 'rejected', reason, peer: client.address, peerPort: client.port, ...extra },
      message,
    );
    raw.destroy();
  }

  /** Gives an accepted connection a slot, held until its socket closes. */
  #serve(raw: net.Socket, direct: ClientAddress): void {
    this.#served.add(raw);
    this.#metrics.connectionsActive.set(this.#served.size);
    raw.once('close', () => {
      this.#served.delete(raw);
      this.#metrics.connectionsActive.set(this.#served.size);
      this.#serveWaiting();
      this.#checkIdle();
    });
    const proxyProtocol = this.#config.proxyProtocol;
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
    const level = this.#ctx.connectionLogLevel;
    if (this.#log.isLevelEnabled(level)) {
      const via = client.via ? { via: client.via.address, viaPort: client.via.port } : {};
      this.#log[level](
        { event: 'connected', peer: client.address, peerPort: client.port, ...via },
        'client connected',
      );
    }
    if (this.#tls) this.#tls.start(raw, client);
    else this.#startSession(raw, client);
  }

  #startSession(socket: net.Socket, client: ClientAddress): void {
    const session = new TentacleSession(socket, this.#ctx, client);
    this.#sessions.add(session);
    void session.closed.then(() => {
      this.#sessions.delete(session);
      this.#checkIdle();
    });
    session.start();
    if (this.#ending()) session.closeWhenIdle();
  }

  #serveWaiting(): void {
    this.#dropStaleWaiting(performance.now());
    while (this.#served.size < this.#config.maxConnections && this.#waiting.length > 0) {
      const next = this.#waiting.shift();
      if (next && !next.raw.destroyed) this.#serve(next.raw, next.direct);
    }
    this.#metrics.connectionsWaiting.set(this.#waiting.length);
  }

  #checkIdle(): void {
    if (this.#served.size > 0 || this.#sessions.size > 0) return;
    for (const done of this.#whenIdle.splice(0)) done();
  }

  /** Waiting connections were never read: nothing of theirs is in flight. They see EOF. */
  closeWaiting(): void {
    for (const { raw } of this.#waiting.splice(0)) raw.destroy();
    this.#metrics.connectionsWaiting.set(0);
  }

  /**
   * Sessions end at their next point between commands; resolves when all have ended. Past
   * `deadlineMs` the unfinished ones are dropped.
   */
  async finishSessions(deadlineMs: number | undefined): Promise<void> {
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
}

function ignoreError(): void {
  // errors of sockets not yet served (resets while waiting); sessions attach their own handler
}
