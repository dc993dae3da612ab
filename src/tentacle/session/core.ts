import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { printableBytes, type Logger } from '../../core/index.js';
import { RejectReason } from '../metrics.js';
import type { TentacleConfig } from '../options.js';
import { TentacleParser } from '../parser.js';
import type { ClientAddress } from '../proxy-accept.js';
import { dispatchLine } from './commands.js';
import type { PendingConfirm } from './confirm.js';
import type { SessionContext } from './context.js';
import { checkDeadlines, type SessionClocks } from './deadlines.js';
import { startRelay } from './relay.js';
import { readsLines, SessionState } from './state.js';
import {
  abandonUpload,
  uploadBufferedBytes,
  uploadChunk,
  uploadEnded,
  type Upload,
} from './upload.js';

/**
 * A session's lifecycle: its state, reading lines from the socket, the deadlines, holding the
 * peer while our own work runs, and closing. The command families (auth.ts, commands.ts,
 * upload.ts, download.ts, listing.ts, confirm.ts, relay.ts) act through this object; the
 * public face is `TentacleSession` (../session.ts).
 */

/** How long a dropped connection may linger to flush its last bytes before it is destroyed. */
const LINGER_MS = 1000;

type LogFields = Record<string, unknown>;

let nextConnectionId = 1;

export class SessionCore implements SessionClocks {
  readonly cid = nextConnectionId++;
  readonly client: ClientAddress;
  readonly peer: string;
  readonly peerPort: number;
  /** Settles once the socket is closed and any temp file is removed. */
  readonly closed: Promise<void>;
  readonly socket: net.Socket;
  readonly ctx: SessionContext;
  readonly config: TentacleConfig;
  readonly parser: TentacleParser;
  state: SessionState;
  /** Last read from or reply to the peer (performance.now() ms). */
  lastActivity = performance.now();
  /** When the current command's first byte arrived; 0 between commands. */
  commandStartedAt = 0;
  /** When the session started; 0 once its first byte has arrived. */
  awaitingFirstByteSince = 0;
  /** When the line being received (command, PASS, confirmation) began; 0 when none is. */
  lineStartedAt = 0;
  /** Doing our own work (disk, sending): `closed` waits for it to finish. */
  busy = false;
  /** Within that work, blocked on the peer reading our data: the idle clock runs. */
  awaitingPeer = false;
  upload: Upload | undefined;
  confirm: PendingConfirm | undefined;
  /** Removal of an abandoned upload's temp file; `closed` waits for it. */
  cleanup: Promise<void> | undefined;
  relay: net.Socket | undefined;
  #log: Logger | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** When #timer fires (performance.now() ms). */
  #timerDueAt = 0;
  #peerEnded = false;
  #closeWhenIdle = false;
  #resolveClosed!: () => void;

  constructor(socket: net.Socket, ctx: SessionContext, client: ClientAddress) {
    this.socket = socket;
    this.ctx = ctx;
    this.config = ctx.config;
    this.client = client;
    this.peer = client.address;
    this.peerPort = client.port;
    this.state = ctx.config.passLine ? SessionState.Auth : SessionState.Command;
    this.closed = new Promise<void>((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.parser = new TentacleParser(
      {
        onLine: (line) => {
          this.lineStartedAt = 0;
          dispatchLine(this, line);
        },
        onPayload: (chunk) => {
          uploadChunk(this, chunk);
        },
        onPayloadEnd: () => {
          uploadEnded(this);
        },
        onError: (err) => {
          this.reject(RejectReason.LineTooLong, 'command line too long', { err: err.message });
          this.close();
        },
      },
      { maxLineBytes: ctx.config.maxLineBytes },
    );
  }

  /** Mid-command: a line started, a body in flight, or disk work pending. */
  get isBusy(): boolean {
    return (
      this.state === SessionState.Body ||
      this.state === SessionState.Work ||
      this.state === SessionState.Confirm ||
      this.state === SessionState.Relay ||
      this.commandStartedAt !== 0
    );
  }

  /** Bytes this session holds in memory for the peer (parser plus an unstored body). */
  get bufferedBytes(): number {
    return this.parser.bufferedBytes + (this.upload ? uploadBufferedBytes(this.upload) : 0);
  }

  /** Starts serving: the socket must be paused (`pauseOnConnect`) and not yet read. */
  start(): void {
    const socket = this.socket;
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onSocketError);
    socket.on('close', this.#onClose);
    socket.on('drain', this.touch);
    this.awaitingFirstByteSince = performance.now();
    this.#schedule(Math.min(this.config.idleTimeoutMs, this.config.firstByteTimeoutMs));
    if (this.config.proxy && !this.config.passLine) {
      startRelay(this);
      return;
    }
    socket.resume();
  }

  /** Ends the session at the next point between commands (now, if it is idle). */
  closeWhenIdle(): void {
    this.#closeWhenIdle = true;
    if (!this.isBusy && this.parser.bufferedBytes === 0) this.close();
  }

  /** Closes at once; an unfinished upload's temp file is removed. */
  destroy(): void {
    this.socket.destroy();
    this.relay?.destroy();
  }

  logger(): Logger {
    return (this.#log ??= this.ctx.logger.child({
      cid: this.cid,
      peer: this.peer,
      peerPort: this.peerPort,
      ...(this.client.via ? { via: this.client.via.address, viaPort: this.client.via.port } : {}),
    }));
  }

  // ---- socket events -------------------------------------------------------------------

  readonly onData = (chunk: Buffer): void => {
    const now = performance.now();
    this.lastActivity = now;
    this.awaitingFirstByteSince = 0;
    if (this.commandStartedAt === 0) this.commandStartedAt = now;
    // The chunk's first byte starts a line unless one is under way; a line may also start after
    // the ones the chunk completes.
    if (this.lineStartedAt === 0) this.#lineBegan(now);
    this.parser.push(chunk);
    if (this.lineStartedAt === 0 && this.parser.bufferedBytes > 0) this.#lineBegan(now);
    if (this.parser.isPaused && this.state !== SessionState.Closed) this.socket.pause();
  };

  /** A line started at `now` (if lines are what the session reads): its deadline is armed. */
  #lineBegan(now: number): void {
    if (!readsLines(this.state)) return;
    this.lineStartedAt = now;
    const due = now + this.config.commandTimeoutMs;
    if (this.#timerDueAt > due) this.#schedule(due - now);
  }

  readonly touch = (): void => {
    this.lastActivity = performance.now();
  };

  readonly #onEnd = (): void => {
    this.#peerEnded = true;
    if (this.state === SessionState.Closed) {
      this.socket.destroy();
      return;
    }
    // While our own work runs, release() handles the EOF once the held input is processed.
    if (!this.busy) this.#peerGone();
  };

  /** The peer sent EOF and every byte before it is processed: nothing more can come. */
  #peerGone(): void {
    if (this.state === SessionState.Body) {
      this.logger().warn(
        { event: 'disconnected', reason: RejectReason.Disconnected },
        'connection closed by the peer in the middle of a file',
      );
      this.ctx.metrics.reject(RejectReason.Disconnected);
    }
    this.close();
  }

  readonly #onSocketError = (err: Error): void => {
    const code = (err as NodeJS.ErrnoException).code;
    if (this.ctx.logger.isLevelEnabled('debug')) {
      this.logger().debug({ event: 'socket_error', code, err: err.message }, 'socket error');
    }
  };

  readonly #onClose = (): void => {
    const wasBody = this.state === SessionState.Body;
    this.state = SessionState.Closed;
    this.parser.close();
    if (this.#timer) clearTimeout(this.#timer);
    this.relay?.destroy();
    this.confirm?.cancel();
    this.confirm = undefined;
    if (wasBody && this.upload) {
      if (!this.#peerEnded) {
        this.logger().warn(
          { event: 'disconnected', reason: RejectReason.Disconnected },
          'connection lost in the middle of a file',
        );
        this.ctx.metrics.reject(RejectReason.Disconnected);
      }
      abandonUpload(this);
    }
    // Busy: the disk work finishes (or fails) first, then settles `closed`.
    if (!this.busy) this.#settle();
  };

  // ---- timers -------------------------------------------------------------------------

  #schedule(ms: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    const delay = Math.max(1, Math.ceil(ms));
    this.#timerDueAt = performance.now() + delay;
    this.#timer = setTimeout(this.#onTimer, delay);
    this.#timer.unref();
  }

  readonly #onTimer = (): void => {
    if (this.state === SessionState.Closed) return;
    if (this.busy && !this.awaitingPeer) {
      // Our disk work is not the peer's idleness.
      this.#schedule(this.config.idleTimeoutMs);
      return;
    }
    const now = performance.now();
    const next = checkDeadlines(this.config, this, readsLines(this.state), this.state, now);
    if (typeof next === 'number') {
      this.#schedule(next);
      return;
    }
    this.reject(next.reason, next.message, next.detail);
    this.close();
  };

  // ---- flow control -------------------------------------------------------------------

  /** Runs our own work (disk, sending) with the socket and parser paused; then reads on. */
  work(task: () => Promise<void>): void {
    this.state = SessionState.Work;
    this.hold();
    task().then(
      () => {
        this.afterWork();
      },
      (err: unknown) => {
        this.logger().error(
          { event: 'internal_error', err: (err as Error).message },
          'request failed',
        );
        this.close();
        this.afterWork();
      },
    );
  }

  /** Stops reading the peer until afterWork(): at most one chunk stays held in the parser. */
  hold(): void {
    this.busy = true;
    this.parser.pause();
    this.socket.pause();
  }

  afterWork(): void {
    this.busy = false;
    this.lastActivity = performance.now();
    if (this.settledIfClosed()) return;
    this.release();
  }

  /** After our own work: true when the session ended meanwhile (resolving `closed` if the
   * socket is already gone; otherwise its 'close' event does). */
  settledIfClosed(): boolean {
    if (this.socket.destroyed) {
      this.state = SessionState.Closed;
      this.#settle();
      return true;
    }
    return this.state === SessionState.Closed;
  }

  /** Resumes the parser, then the socket unless the parser paused again. */
  release(): void {
    this.parser.resume();
    if (this.state === SessionState.Closed || this.parser.isPaused) return;
    if (this.#peerEnded) {
      this.#peerGone();
      return;
    }
    this.socket.resume();
  }

  /** The current command is answered: back to reading commands. */
  commandDone(): void {
    this.state = SessionState.Command;
    const pipelined = this.parser.bufferedBytes > 0;
    this.commandStartedAt = pipelined ? performance.now() : 0;
    this.lineStartedAt = 0;
    if (pipelined) this.#lineBegan(this.commandStartedAt);
    if (this.#closeWhenIdle && this.commandStartedAt === 0) this.close();
  }

  reply(buf: Buffer): void {
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return;
    this.lastActivity = performance.now();
    socket.write(buf);
  }

  /**
   * Ends the session: QUIT, EOF, shutdown, or a drop after a protocol violation, timeout or
   * failure (no reply, spec §1.5). An unfinished upload's temp file is removed.
   */
  close(): void {
    if (this.state === SessionState.Closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    const wasBody = this.state === SessionState.Body;
    this.state = SessionState.Closed;
    this.parser.close();
    this.confirm?.cancel();
    this.confirm = undefined;
    if (wasBody) abandonUpload(this);
    const socket = this.socket;
    if (socket.destroyed) return;
    // FIN after the last reply is flushed; unread input is discarded until the peer closes or
    // the linger time ends.
    socket.end();
    socket.resume();
    this.#timer = setTimeout(() => socket.destroy(), LINGER_MS);
    this.#timer.unref();
  }

  /** Resolves `closed` once any temp-file removal is done. */
  #settle(): void {
    if (this.cleanup) void this.cleanup.finally(this.#resolveClosed);
    else this.#resolveClosed();
  }

  reject(reason: RejectReason, message: string, extra: LogFields = {}): void {
    this.ctx.metrics.reject(reason);
    this.logger().warn({ event: 'rejected', reason, ...extra }, message);
  }

  /** A command refused with `reply`; the session reads the next one. */
  refuse(reply: Buffer, reason: RejectReason, message: string, extra: LogFields): void {
    this.reply(reply);
    this.reject(reason, message, extra);
    this.commandDone();
  }

  /** Anything that is not a command (or a command line that does not parse): dropped, no reply. */
  unknownCommand(line: Buffer): void {
    this.reject(RejectReason.UnknownCommand, 'unknown command', {
      line: printableBytes(line, 80),
    });
    this.close();
  }
}
