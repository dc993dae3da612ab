import type net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../core/index.js';
import { RejectReason, type TentacleMetrics } from './metrics.js';
import type { TentacleTlsConfig } from './options.js';
import { directClient, type ClientAddress } from './proxy-accept.js';

/**
 * Implicit TLS (spec §7): a tls.Server that never listens; accepted sockets are handed to it,
 * so handshake timeouts and client-certificate checks are Node's own. Without `-f` no client
 * certificate is requested (agents use `-c`); with `-f` one signed by the CA is required.
 * A failed handshake is counted, logged with the client's address and closed.
 */
export class TlsHandshakes {
  /** Clients named by a PROXY header, by connection, until their TLS handshake ends. */
  readonly #clients = new Map<string, ClientAddress>();
  /** Performs the TLS handshakes (never listens itself; we hand it accepted sockets). */
  readonly #server: tls.Server;

  constructor(
    config: TentacleTlsConfig,
    handshakeTimeoutMs: number,
    metrics: TentacleMetrics,
    log: Logger,
    onSecure: (socket: tls.TLSSocket, client: ClientAddress) => void,
  ) {
    const server = tls.createServer({
      ...config.contextOptions,
      requestCert: config.requireClientCert,
      rejectUnauthorized: config.requireClientCert,
      handshakeTimeout: handshakeTimeoutMs,
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      onSecure(socket, this.#client(socket));
    });
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
      metrics.reject(RejectReason.Tls);
      const client = this.#client(socket);
      log.warn(
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
    this.#server = server;
  }

  /** A new certificate and key (SIGHUP) for handshakes from now on. */
  setSecureContext(options: tls.SecureContextOptions): void {
    this.#server.setSecureContext(options);
  }

  /** Starts the handshake of an accepted connection whose client is known. */
  start(raw: net.Socket, client: ClientAddress): void {
    if (client.via) {
      const key = connectionKey(raw);
      this.#clients.set(key, client);
      raw.once('close', () => this.#clients.delete(key));
    }
    this.#server.emit('connection', raw);
  }

  /** The client of a TLS socket: the one its PROXY header named, else its own peer. */
  #client(socket: tls.TLSSocket): ClientAddress {
    return this.#clients.get(connectionKey(socket)) ?? directClient(socket);
  }
}

/**
 * A TLS socket reports its raw socket's endpoints, so the four of them find the client a
 * PROXY header named (unique among open connections).
 */
function connectionKey(socket: net.Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}|${socket.localAddress}|${socket.localPort}`;
}
