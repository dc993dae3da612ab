import { ErrorCode, PandoraError } from '../core/index.js';

/**
 * Tentacle framing (spec tentacle.md §1.2–§1.3): LF-terminated command lines and length-framed
 * raw payloads. The parser owns no socket and makes no protocol decisions: the session reads a
 * line, decides, and calls `expectPayload(size)` when a body follows. Lines are handed out as
 * bytes (file names are bytes); a CR before the LF is never stripped, so CRLF lines fail the
 * session's exact matches as they do in the reference.
 *
 * Memory is bounded: a partial line is at most `maxLineBytes - 1` bytes (1024 including its LF,
 * the reference's block size), payload chunks are views of the input (no copies), and bytes that
 * arrive while the consumer has paused the parser are held as one view (at most one socket read,
 * because the session stops reading the socket while the parser is paused).
 */

export const MAX_LINE_BYTES = 1024;

export const ParserState = { Line: 0, Payload: 1, Closed: 2 } as const;
export type ParserState = (typeof ParserState)[keyof typeof ParserState];

export interface ParserEvents {
  /** A complete line without its LF. A view that is valid only during the call; copy to keep. */
  onLine(line: Buffer): void;
  /** Part of the current payload: a view of the input chunk. */
  onPayload(chunk: Buffer): void;
  /** The last byte of the payload announced by `expectPayload` has been delivered. */
  onPayloadEnd(): void;
  /** Framing failed (line too long); the parser is closed. */
  onError(err: PandoraError): void;
}

export interface ParserOptions {
  /** Longest accepted line including its LF (reference `block_size`). */
  readonly maxLineBytes?: number;
}

const LF = 0x0a;

export class TentacleParser {
  readonly #events: ParserEvents;
  readonly #maxLineBytes: number;
  #state: ParserState = ParserState.Line;
  /** Pieces of a line that spans chunks, and their total length. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Payload bytes still expected. */
  #remaining = 0;
  #paused = false;
  /** Unprocessed input received or left over while paused. */
  #held: Buffer | undefined;
  /** The payload ended while paused; `onPayloadEnd` is emitted on resume. */
  #payloadEndDue = false;

  constructor(events: ParserEvents, options: ParserOptions = {}) {
    this.#events = events;
    this.#maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
  }

  get state(): ParserState {
    return this.#state;
  }

  get isPaused(): boolean {
    return this.#paused;
  }

  /** Bytes the parser holds: a partial line plus input kept while paused. */
  get bufferedBytes(): number {
    return this.#pendingBytes + (this.#held?.length ?? 0);
  }

  /** Feeds bytes read from the peer. */
  push(chunk: Buffer): void {
    if (this.#state === ParserState.Closed || chunk.length === 0) return;
    if (this.#paused) {
      this.#held = this.#held ? Buffer.concat([this.#held, chunk]) : chunk;
      return;
    }
    this.#run(chunk);
  }

  /**
   * Called by the consumer (normally from `onLine`) when a body of `size` bytes follows the
   * current line. `size` must be at least 1.
   */
  expectPayload(size: number): void {
    if (this.#state === ParserState.Closed) return;
    if (!Number.isSafeInteger(size) || size < 1)
      throw new RangeError(`invalid payload size ${size}`);
    this.#state = ParserState.Payload;
    this.#remaining = size;
  }

  /** Stops emitting events; input is held until `resume()`. Safe to call from a callback. */
  pause(): void {
    this.#paused = true;
  }

  /** Emits events for the held input, then accepts input again. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#payloadEndDue) {
      this.#payloadEndDue = false;
      this.#events.onPayloadEnd();
      if (this.isPaused) return; // the consumer may pause again from the callback
    }
    const held = this.#held;
    this.#held = undefined;
    if (held && this.#state !== ParserState.Closed) this.#run(held);
  }

  /** Hands over every unprocessed input byte (partial line, held input) and closes. */
  takeBuffered(): Buffer[] {
    const out = [...this.#pending];
    if (this.#held) out.push(this.#held);
    this.close();
    return out;
  }

  /** Drops all state; later input is ignored. */
  close(): void {
    this.#state = ParserState.Closed;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#held = undefined;
    this.#payloadEndDue = false;
  }

  #run(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length && this.#state !== ParserState.Closed) {
      if (this.#paused) {
        this.#held = off === 0 ? chunk : chunk.subarray(off);
        return;
      }
      off = this.#state === ParserState.Line ? this.#line(chunk, off) : this.#payload(chunk, off);
    }
  }

  #line(chunk: Buffer, off: number): number {
    const lf = chunk.indexOf(LF, off);
    if (lf === -1) {
      const total = this.#pendingBytes + (chunk.length - off);
      // Even if the next byte were the LF, the line would exceed the cap.
      if (total >= this.#maxLineBytes) return this.#fail(total);
      this.#pending.push(chunk.subarray(off));
      this.#pendingBytes = total;
      return chunk.length;
    }
    const withLf = this.#pendingBytes + (lf - off) + 1;
    if (withLf > this.#maxLineBytes) return this.#fail(withLf);
    let line: Buffer;
    if (this.#pendingBytes === 0) {
      line = chunk.subarray(off, lf);
    } else {
      this.#pending.push(chunk.subarray(off, lf));
      line = Buffer.concat(this.#pending, withLf - 1);
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    this.#events.onLine(line);
    return lf + 1;
  }

  #payload(chunk: Buffer, off: number): number {
    const take = Math.min(this.#remaining, chunk.length - off);
    const end = off + take;
    this.#remaining -= take;
    if (this.#remaining === 0) this.#state = ParserState.Line;
    this.#events.onPayload(off === 0 && end === chunk.length ? chunk : chunk.subarray(off, end));
    if (this.#remaining === 0 && this.#state !== ParserState.Closed) {
      if (this.#paused) this.#payloadEndDue = true;
      else this.#events.onPayloadEnd();
    }
    return end;
  }

  /** Closes the parser and reports the overflow; the returned offset ends the loop. */
  #fail(bytes: number): number {
    this.close();
    this.#events.onError(
      new PandoraError(
        ErrorCode.TentacleLineTooLong,
        `command line longer than ${this.#maxLineBytes} bytes (${bytes} so far)`,
      ),
    );
    return Number.MAX_SAFE_INTEGER;
  }
}
