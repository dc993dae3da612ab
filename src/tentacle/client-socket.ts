/**
 * The client's transport: the TCP connect (optionally through an HTTP proxy's `CONNECT`) and
 * the TLS handshake, each bounded by a timeout and the abort signal, with the reference
 * client's error texts. The protocol on top of the socket is in client.ts.
 */
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect } from 'node:tls';
import { ErrorCode } from '../core/index.js';
import { SocketReader, TentacleClientError } from './client-reader.js';

export interface ClientTlsOptions {
  /** Client certificate (PEM). Without it the client presents none (`-c`). */
  readonly cert?: string | Buffer;
  /** Private key (PEM); defaults to `cert`, which may hold both. */
  readonly key?: string | Buffer;
  /** CA (PEM) to verify the server against, host name included (`-f`). */
  readonly ca?: string | Buffer;
  /** Defaults to true when `ca` is given, false otherwise, as the reference client. */
  readonly rejectUnauthorized?: boolean;
}

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  /** Local address to bind (`-b`). */
  readonly localAddress?: string;
  readonly tls?: ClientTlsOptions;
  /** Server password; sent as `PASS md5hex(md5(password))` right after connecting. */
  readonly password?: string | Buffer;
  /** Longest wait without progress for any read, write or the connect itself. */
  readonly timeoutMs?: number;
  /** A shorter limit for the TCP connect alone (when several addresses share one budget). */
  readonly connectTimeoutMs?: number;
  /** Aborting destroys the socket at once: the transfer in flight can never complete later. */
  readonly signal?: AbortSignal;
  readonly maxRecvBytes?: number;
  /** Reach the server through an HTTP proxy with `CONNECT` (`-y`). */
  readonly httpProxy?: { host: string; port: number; user?: string; pass?: string };
}

export function abortError(): TentacleClientError {
  return new TentacleClientError(ErrorCode.TentacleAborted, 'Transfer aborted.');
}

/** The C library's text for the errors a connect usually meets, as the reference prints `$!`. */
const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'Connection refused',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ECONNRESET: 'Connection reset by peer',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENOTFOUND: 'Name or service not known',
  EAI_AGAIN: 'Temporary failure in name resolution',
};

function connectFailure(host: string, port: number, err: Error): TentacleClientError {
  const errno = (err as { code?: unknown }).code;
  const text = typeof errno === 'string' ? (ERRNO_TEXT[errno] ?? err.message) : err.message;
  return new TentacleClientError(
    ErrorCode.TentacleConnect,
    `Cannot connect to ${host} on port ${port}: ${text}.`,
    { cause: err },
  );
}

/**
 * Waits for `event` on `socket`, bounded by `timeoutMs` and the abort signal; on failure the
 * socket is destroyed and the error comes from `describe`.
 */
function settle<S extends Socket>(
  socket: S,
  event: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  describe: (err: Error) => TentacleClientError,
): Promise<S> {
  return new Promise((resolve, reject) => {
    const finish = (err: TentacleClientError | undefined): void => {
      clearTimeout(timer);
      socket.off(event, onReady);
      socket.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        socket.destroy();
        reject(err);
      } else resolve(socket);
    };
    const onReady = (): void => {
      finish(undefined);
    };
    const onError = (err: Error): void => {
      finish(describe(err));
    };
    const onAbort = (): void => {
      finish(abortError());
    };
    const timer = setTimeout(() => {
      finish(describe(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    }, timeoutMs);
    socket.once(event, onReady);
    socket.on('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `CONNECT host:port` through an HTTP proxy, with the reference's separate writes. */
async function tunnel(
  socket: Socket,
  options: ConnectOptions,
  proxy: NonNullable<ConnectOptions['httpProxy']>,
  timeoutMs: number,
): Promise<void> {
  const reader = new SocketReader(socket, timeoutMs, () => socket.localAddress ?? proxy.host);
  const lines = [`CONNECT ${options.host}:${options.port} HTTP/1.0\r\n`];
  if (proxy.user !== undefined && proxy.user !== '') {
    const token = Buffer.from(`${proxy.user}:${proxy.pass ?? ''}`).toString('base64');
    lines.push(`Proxy-Authorization: Basic ${token}\r\n`);
  }
  lines.push('\r\n');
  for (const line of lines) socket.write(line);
  // The reply header ends with an empty line; read up to it and leave nothing behind.
  const status = await reader.readLine();
  for (;;) {
    const header = await reader.readLine();
    if (header === '' || header === '\r') break;
  }
  reader.detach();
  if (!/^HTTP.* 200 /.test(`${status} `)) {
    throw new TentacleClientError(
      ErrorCode.TentacleConnect,
      `CONNECT error: ${status.replace(/\r$/, '')}`,
    );
  }
}

/** The connected socket (TLS when `options.tls`), ready for the first command. */
export async function openSocket(options: ConnectOptions, timeoutMs: number): Promise<Socket> {
  const { host, port, tls, httpProxy, signal } = options;
  const peer = httpProxy ?? { host, port };
  const raw = await settle(
    netConnect({
      host: peer.host,
      port: peer.port,
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    }),
    'connect',
    options.connectTimeoutMs ?? timeoutMs,
    signal,
    (err) => connectFailure(peer.host, peer.port, err),
  );
  if (httpProxy) {
    try {
      await tunnel(raw, options, httpProxy, timeoutMs);
    } catch (err) {
      raw.destroy();
      throw err;
    }
  }
  if (!tls) return raw;
  const secure = tlsConnect({
    socket: raw,
    ...(tls.cert === undefined ? {} : { cert: tls.cert, key: tls.key ?? tls.cert }),
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    // SNI must not carry an IP literal; the certificate check still uses `host`.
    ...(isIP(host) === 0 ? { servername: host } : {}),
    checkServerIdentity: (_name, cert) => checkServerIdentity(host, cert),
    rejectUnauthorized: tls.rejectUnauthorized ?? tls.ca !== undefined,
  });
  return settle(secure, 'secureConnect', timeoutMs, signal, (err) => {
    raw.destroy();
    return new TentacleClientError(ErrorCode.TentacleConnect, `SSL error: ${err.message}.`, {
      cause: err,
    });
  });
}
