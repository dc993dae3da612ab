import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { ErrorCode } from '../core/index.js';
import { SocketReader, TentacleClientError } from './client-reader.js';
import { abortError, openSocket, type ConnectOptions } from './client-socket.js';
import { unzipFirstMember, zipSingleFile } from './zip.js';

export { TentacleClientError } from './client-reader.js';

/** The reference client's per-operation limit: `-t 1` second × (`-r 3` retries + 1). */
export const DEFAULT_CLIENT_TIMEOUT_MS = 4000;
/** Cap on a downloaded (or unzipped) file, so a hostile server cannot exhaust memory. */
export const DEFAULT_MAX_RECV_BYTES = 64 * 1024 * 1024;
/** Bodies are written in pieces so a stalled peer is detected per piece, not per file. */
const WRITE_PIECE_BYTES = 64 * 1024;

/** Progress callbacks for the reference client's `[log]` lines. */
export interface UploadHooks {
  /** The request line is about to go out; `size` is what `SIZE` says (the ZIP's for ZSEND). */
  onRequest?(size: number): void;
  /** The server accepted the request; the body follows. */
  onAccepted?(): void;
}

export type FileName = string | Buffer;

export interface ClientSession {
  /** Local address of the connection, as the reference prints in its errors. */
  readonly localAddress: string;
  /** Uploads `data` as `name` (sent as is: callers pass a base name). */
  send(name: FileName, data: Buffer, hooks?: UploadHooks): Promise<void>;
  /** Uploads a ZIP of `data` with ZSEND; the archive's member is named after `name`. */
  zsend(name: FileName, data: Buffer, hooks?: UploadHooks): Promise<void>;
  recv(name: FileName): Promise<Buffer>;
  zrecv(name: FileName): Promise<Buffer>;
  /** Sends `QUIT` and closes. Never throws. */
  quit(): Promise<void>;
  /** Closes at once without `QUIT`. */
  destroy(): void;
}

export function passDigest(password: string | Buffer): string {
  const inner = createHash('md5').update(password).digest();
  return createHash('md5').update(inner).digest('hex');
}

/**
 * Opens a Tentacle session: TCP or TLS, then `PASS` when a password is set. The client speaks
 * first and strictly in lock step: it never writes before the previous reply has arrived.
 */
export async function connect(options: ConnectOptions): Promise<ClientSession> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
  options.signal?.throwIfAborted();
  const socket = await openSocket(options, timeoutMs);
  socket.setNoDelay(true);
  const localAddress = socket.localAddress ?? '127.0.0.1';
  const reader = new SocketReader(socket, timeoutMs, () => localAddress);
  const session = new Session(socket, reader, timeoutMs, options, localAddress);
  try {
    if (options.password !== undefined && options.password.length > 0) {
      await session.authenticate(options.password);
    }
  } catch (err) {
    session.destroy();
    throw err;
  }
  return session;
}

function nameBytes(name: FileName): Buffer {
  return typeof name === 'string' ? Buffer.from(name) : name;
}

function commandLine(verb: string, name: FileName, size?: number): Buffer {
  const tail = size === undefined ? '>\n' : `> SIZE ${size}\n`;
  return Buffer.concat([Buffer.from(`${verb} <`), nameBytes(name), Buffer.from(tail)]);
}

class Session implements ClientSession {
  readonly localAddress: string;
  readonly #socket: Socket;
  readonly #reader: SocketReader;
  readonly #timeoutMs: number;
  readonly #maxRecvBytes: number;
  readonly #signal: AbortSignal | undefined;
  /** Operations run one at a time, in call order. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #quitting: Promise<void> | undefined;

  constructor(
    socket: Socket,
    reader: SocketReader,
    timeoutMs: number,
    options: ConnectOptions,
    localAddress: string,
  ) {
    this.#socket = socket;
    this.#reader = reader;
    this.#timeoutMs = timeoutMs;
    this.#maxRecvBytes = options.maxRecvBytes ?? DEFAULT_MAX_RECV_BYTES;
    this.#signal = options.signal;
    this.localAddress = localAddress;
    if (this.#signal) {
      const onAbort = (): void => {
        reader.fail(abortError());
        socket.destroy();
      };
      // Aborted while the socket was being set up: no event will come, act now.
      if (this.#signal.aborted) onAbort();
      else {
        this.#signal.addEventListener('abort', onAbort, { once: true });
        socket.once('close', () => this.#signal?.removeEventListener('abort', onAbort));
      }
    }
  }

  async authenticate(password: string | Buffer): Promise<void> {
    await this.#write(Buffer.from(`PASS ${passDigest(password)}\n`));
    const reply = await this.#reader.readLine();
    if (reply !== 'PASS OK') {
      throw new TentacleClientError(ErrorCode.TentacleAuthFailed, 'Authentication failed.', {
        serverLine: reply,
      });
    }
  }

  send(name: FileName, data: Buffer, hooks: UploadHooks = {}): Promise<void> {
    return this.#serial(() => this.#upload('SEND', name, data, hooks));
  }

  zsend(name: FileName, data: Buffer, hooks: UploadHooks = {}): Promise<void> {
    const memberName = nameBytes(name).toString('latin1');
    return this.#serial(() => this.#upload('ZSEND', name, zipSingleFile(memberName, data), hooks));
  }

  recv(name: FileName): Promise<Buffer> {
    return this.#serial(() => this.#download('RECV', name));
  }

  zrecv(name: FileName): Promise<Buffer> {
    return this.#serial(async () => {
      const zip = await this.#download('ZRECV', name);
      try {
        return unzipFirstMember(zip, this.#maxRecvBytes);
      } catch (err) {
        // The reference tells the server its archive was bad before giving up.
        await this.#write(Buffer.from('ZRECV ERR\n')).catch(() => undefined);
        throw err;
      }
    });
  }

  quit(): Promise<void> {
    return (this.#quitting ??= this.#doQuit());
  }

  async #doQuit(): Promise<void> {
    await this.#queue.catch(() => undefined);
    const wasOpen = !this.#closed;
    this.#closed = true;
    if (wasOpen && !this.#reader.failure) {
      await this.#write(Buffer.from('QUIT\n')).catch(() => undefined);
    }
    this.#socket.end();
    this.#socket.destroySoon();
  }

  destroy(): void {
    this.#closed = true;
    this.#socket.destroy();
  }

  #serial<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(
      () => this.#guarded(operation),
      () => this.#guarded(operation),
    );
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #guarded<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#closed) {
      return Promise.reject(
        new TentacleClientError(ErrorCode.TentacleClosed, 'Session already closed.'),
      );
    }
    const failure = this.#reader.failure;
    if (failure) return Promise.reject(failure);
    return operation();
  }

  async #upload(
    verb: 'SEND' | 'ZSEND',
    name: FileName,
    body: Buffer,
    hooks: UploadHooks,
  ): Promise<void> {
    hooks.onRequest?.(body.length);
    await this.#write(commandLine(verb, name, body.length));
    this.#expectReply(verb, await this.#reader.readLine());
    hooks.onAccepted?.();
    for (let off = 0; off < body.length; off += WRITE_PIECE_BYTES) {
      await this.#write(body.subarray(off, off + WRITE_PIECE_BYTES));
    }
    let reply: string;
    try {
      reply = await this.#reader.readLine();
    } catch (err) {
      if (!(err instanceof TentacleClientError)) throw err;
      // The body left; whether the server stored it is unknown.
      throw new TentacleClientError(err.code, err.message, { afterBody: true, cause: err });
    }
    this.#expectReply(verb, reply);
  }

  #expectReply(verb: string, reply: string): void {
    if (reply === `${verb} OK`) return;
    const code = reply.startsWith(`${verb} ERR`)
      ? ErrorCode.TentacleRejected
      : ErrorCode.TentacleProtocol;
    throw new TentacleClientError(code, `Server responded ${reply}.`, { serverLine: reply });
  }

  async #download(verb: 'RECV' | 'ZRECV', name: FileName): Promise<Buffer> {
    await this.#write(commandLine(verb, name));
    const reply = await this.#reader.readLine();
    const match = new RegExp(`^${verb} SIZE (\\d+)$`).exec(reply);
    if (!match) {
      const code = reply.startsWith(`${verb} ERR`)
        ? ErrorCode.TentacleRejected
        : ErrorCode.TentacleProtocol;
      throw new TentacleClientError(code, `Server responded ${reply}.`, { serverLine: reply });
    }
    const size = Number(match[1]);
    if (size > this.#maxRecvBytes) {
      // Decline politely: any line other than `RECV OK` returns the server to its loop.
      await this.#write(Buffer.from(`${verb} ERR\n`)).catch(() => undefined);
      throw new TentacleClientError(
        ErrorCode.TentacleProtocol,
        `Server offered ${size} bytes, more than the limit of ${this.#maxRecvBytes}.`,
        { serverLine: reply },
      );
    }
    await this.#write(Buffer.from(`${verb} OK\n`));
    return size === 0 ? Buffer.alloc(0) : await this.#reader.readExactly(size);
  }

  /** One write, settled when the bytes are handed to the kernel; bounded by the timeout. */
  #write(bytes: Buffer): Promise<void> {
    const failure = this.#reader.failure;
    if (failure) return Promise.reject(failure);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const err = new TentacleClientError(
          ErrorCode.TentacleTimeout,
          `Connection from ${this.localAddress} timed out.`,
        );
        this.#reader.fail(err);
        this.#socket.destroy();
        reject(err);
      }, this.#timeoutMs);
      this.#socket.write(bytes, (err) => {
        clearTimeout(timer);
        const failure = this.#reader.failure;
        if (failure) reject(failure);
        else if (err) {
          const wrapped = new TentacleClientError(
            ErrorCode.TentacleClosed,
            `Connection error from ${this.localAddress}: ${err.message}.`,
            { cause: err },
          );
          this.#reader.fail(wrapped);
          reject(wrapped);
        } else resolve();
      });
    });
  }
}
