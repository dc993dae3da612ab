import type { Duplex } from 'node:stream';
import { ErrorCode, PandoraError } from '../core/index.js';

/** Longest response line the client accepts, LF included (the reference's block size). */
export const MAX_RESPONSE_LINE_BYTES = 1024;

/**
 * An error of the Tentacle client. `serverLine` is the server's reply when there was one
 * (`SEND ERR (file already exists)`); `afterBody` is true when the whole body had been written
 * and only the final confirmation is missing, i.e. the server may or may not have stored it.
 */
export class TentacleClientError extends PandoraError {
  readonly serverLine: string | undefined;
  readonly afterBody: boolean;
  constructor(
    code: ErrorCode,
    message: string,
    options: { serverLine?: string; afterBody?: boolean; cause?: unknown } = {},
  ) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.serverLine = options.serverLine;
    this.afterBody = options.afterBody ?? false;
  }
}

/**
 * Buffered reads from a socket for a lock-step protocol: whole lines (split on the first LF, so
 * two replies in one segment are still two replies) and exact byte counts. Each wait is bounded
 * by `idleMs` without progress, as the reference's per-operation `t × (r+1)`. The first failure
 * (EOF, socket error, abort) sticks: every later read rejects with it.
 */
export class SocketReader {
  readonly #idleMs: number;
  readonly #describePeer: () => string;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #failure: TentacleClientError | undefined;
  #wake: (() => void) | undefined;

  readonly #socket: Duplex;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- EventEmitter listener signature
  readonly #listeners: [string, (...args: any[]) => void][];

  constructor(socket: Duplex, idleMs: number, describePeer: () => string) {
    this.#socket = socket;
    this.#idleMs = idleMs;
    this.#describePeer = describePeer;
    const closed = (): void => {
      this.fail(
        new TentacleClientError(
          ErrorCode.TentacleClosed,
          `Connection from ${describePeer()} unexpectedly closed.`,
        ),
      );
    };
    this.#listeners = [
      [
        'data',
        (chunk: Buffer) => {
          this.#chunks.push(chunk);
          this.#buffered += chunk.length;
          this.#notify();
        },
      ],
      ['end', closed],
      ['close', closed],
      [
        'error',
        (err: Error) => {
          this.fail(
            new TentacleClientError(
              ErrorCode.TentacleClosed,
              `Connection error from ${describePeer()}: ${err.message}.`,
              { cause: err },
            ),
          );
        },
      ],
    ];
    for (const [event, listener] of this.#listeners) socket.on(event, listener);
  }

  /** Stops reading from the socket (another reader takes over, e.g. after an HTTP tunnel). */
  detach(): void {
    for (const [event, listener] of this.#listeners) this.#socket.off(event, listener);
  }

  get failure(): TentacleClientError | undefined {
    return this.#failure;
  }

  /** Makes every pending and later read reject with `err` (first failure wins). */
  fail(err: TentacleClientError): void {
    this.#failure ??= err;
    this.#notify();
  }

  /** Bytes received but not yet consumed (a well-behaved server leaves none between replies). */
  get buffered(): number {
    return this.#buffered;
  }

  /** One line without its LF, decoded as latin1 so every byte survives. */
  async readLine(): Promise<string> {
    for (;;) {
      const lf = this.#indexOfLf();
      if (lf !== -1) {
        const line = this.#take(lf + 1);
        return line.toString('latin1', 0, line.length - 1);
      }
      if (this.#buffered >= MAX_RESPONSE_LINE_BYTES) {
        const err = new TentacleClientError(
          ErrorCode.TentacleLineTooLong,
          `Received too much data from ${this.#describePeer()}`,
        );
        this.fail(err);
        throw err;
      }
      await this.#waitForData();
    }
  }

  /** Exactly `size` bytes. */
  async readExactly(size: number): Promise<Buffer> {
    while (this.#buffered < size) await this.#waitForData();
    return this.#take(size);
  }

  #indexOfLf(): number {
    let offset = 0;
    for (const chunk of this.#chunks) {
      const i = chunk.indexOf(0x0a);
      if (i !== -1) return offset + i;
      offset += chunk.length;
    }
    return -1;
  }

  #take(size: number): Buffer {
    const whole = this.#chunks.length === 1 ? this.#chunks[0] : undefined;
    const joined = whole ?? Buffer.concat(this.#chunks, this.#buffered);
    const out = joined.subarray(0, size);
    const rest = joined.subarray(size);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered = rest.length;
    return out;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Resolves on the next chunk; rejects on failure or after `idleMs` without data. */
  #waitForData(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        const err = new TentacleClientError(
          ErrorCode.TentacleTimeout,
          `Connection from ${this.#describePeer()} timed out.`,
        );
        this.fail(err);
        reject(err);
      }, this.#idleMs);
      this.#wake = () => {
        clearTimeout(timer);
        if (this.#failure) reject(this.#failure);
        else resolve();
      };
    });
  }
}
