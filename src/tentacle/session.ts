import fs from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../core/log.js';
import { printableBytes } from '../core/log.js';
import { ErrorCode, type PandoraError } from '../core/errors.js';
import { RejectReason } from './metrics.js';
import type { TentacleConfig } from './options.js';
import { TentacleParser } from './parser.js';
import { directClient, type ClientAddress } from './proxy-accept.js';
import { SpoolErrorKind, type SpoolTransfer } from './spool-writer.js';
import { isZip, unzipFirstMember, zipSingleFile } from './zip.js';
import type { SessionContext } from './session/context.js';
import { checkDeadlines } from './session/deadlines.js';
import { closeFd, openRegularFile, readAt } from './session/read-file.js';
import { readsLines, SessionState } from './session/state.js';
import {
  ascii,
  DOT_ENTRIES,
  hasForbidden,
  isUnstorableName,
  LF_BUF,
  LS_CONFIRM,
  LS_PREFIX,
  MV,
  parseNameLine,
  parseSize,
  parseUploadLine,
  QUIT,
  RECV,
  Reply,
  SEND,
  SLASH,
  ZRECV,
  ZSEND,
  type DownloadKind,
  type UploadKind,
} from './session/wire.js';

export { Gate, type FileStoredEvent, type SessionContext } from './session/context.js';
export { SessionState } from './session/state.js';
export { Reply } from './session/wire.js';

/**
 * One Tentacle connection: the protocol decisions (spec §2–§4), on top of the framing parser.
 * Every reply is one preallocated (or freshly built) buffer written with one `write`, and a
 * reply is never merged with another. While the session waits on the disk it stops reading the
 * socket (the parser holds at most one chunk), so a slow disk slows the peer down instead of
 * filling memory.
 *
 * Deliberate differences from the Perl reference (spec §13/§14 "should improve"):
 * - empty, `.`, `..`, NUL-containing, over-long (> 255 bytes) and trailing-whitespace names are
 *   refused up front with `… ERR (invalid file name)`; names are otherwise stored byte-exact;
 * - files are stored atomically (spool-writer); a storage failure after the body is answered
 *   `SEND ERR\n` / `ZSEND ERR\n` (the reference drops the connection) and the session goes on;
 * - `RECV` of an empty file answers `RECV SIZE 0` and sends no body instead of dropping;
 * - pipelined bytes after a line or a body are the start of the next command;
 * - an idle limit of timeout×(retries+1) that nothing disables, a per-command deadline, and
 *   short deadlines for the first byte and for each line (slow or silent sockets free their slot);
 * - a PASS from an address with failed attempts is checked after a growing delay (auth-throttle);
 * - RECV/ZRECV serve only files in filter folders unless `recv_any_file`: a data file queued in
 *   the storage folder "does not exist" for them.
 */

const READ_CHUNK_BYTES = 64 * 1024;
/** How long a dropped connection may linger to flush its last bytes before it is destroyed. */
const LINGER_MS = 1000;

interface Upload {
  readonly kind: UploadKind;
  readonly name: Buffer;
  readonly dir: Buffer;
  readonly size: number;
  readonly startedAt: number;
  readonly spool: SpoolTransfer | undefined;
  readonly zipChunks: Buffer[] | undefined;
  /** Bytes this ZSEND holds of `zipMemory`, until it is stored or abandoned. */
  zipReserved: number;
  /** A disk write failed mid-body: the rest is read and discarded, then `… ERR` is sent. */
  failed: PandoraError | undefined;
}

interface PendingConfirm {
  readonly expect: Buffer;
  readonly send: () => Promise<void>;
  readonly cancel: () => void;
}

let nextConnectionId = 1;

export class TentacleSession {
  readonly cid = nextConnectionId++;
  /**
   * The client, captured at accept (the socket forgets it once closed): the agent's own
   * address, decoded from the PROXY header behind a balancer. Per-address limits key on it.
   */
  readonly client: ClientAddress;
  /** `client.address` and `client.port`, as logs and events name them. */
  readonly peer: string;
  /** Peer port, captured at accept (it vanishes from the socket once closed). */
  readonly peerPort: number;
  /** Settles once the socket is closed and any temp file is removed. */
  readonly closed: Promise<void>;

  readonly #socket: net.Socket;
  readonly #ctx: SessionContext;
  readonly #config: TentacleConfig;
  readonly #parser: TentacleParser;
  #state: SessionState;
  #log: Logger | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Last read from or reply to the peer (performance.now() ms). */
  #lastActivity = performance.now();
  /** When the current command's first byte arrived; 0 between commands. */
  #commandStartedAt = 0;
  /** When the session started; 0 once its first byte has arrived. */
  #awaitingFirstByteSince = 0;
  /** When the line being received (command, PASS, confirmation) began; 0 when none is. */
  #lineStartedAt = 0;
  /** When #timer fires (performance.now() ms). */
  #timerDueAt = 0;
  /** Doing our own work (disk, sending): `closed` waits for it to finish. */
  #busy = false;
  /** Within that work, blocked on the peer reading our data: the idle clock runs. */
  #awaitingPeer = false;
  #upload: Upload | undefined;
  #confirm: PendingConfirm | undefined;
  #peerEnded = false;
  #closeWhenIdle = false;
  #resolveClosed!: () => void;
  /** Removal of an abandoned upload's temp file; `closed` waits for it. */
  #cleanup: Promise<void> | undefined;
  #relay: net.Socket | undefined;

  constructor(socket: net.Socket, ctx: SessionContext, client = directClient(socket)) {
    this.#socket = socket;
    this.#ctx = ctx;
    this.#config = ctx.config;
    this.client = client;
    this.peer = client.address;
    this.peerPort = client.port;
    this.#state = ctx.config.passLine ? SessionState.Auth : SessionState.Command;
    this.closed = new Promise<void>((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#parser = new TentacleParser(
      {
        onLine: (line) => {
          this.#onLine(line);
        },
        onPayload: (chunk) => {
          this.#onPayload(chunk);
        },
        onPayloadEnd: () => {
          this.#onPayloadEnd();
        },
        onError: (err) => {
          this.#reject(RejectReason.LineTooLong, 'command line too long', { err: err.message });
          this.#close();
        },
      },
      { maxLineBytes: ctx.config.maxLineBytes },
    );
  }

  /** Mid-command: a line started, a body in flight, or disk work pending. */
  get isBusy(): boolean {
    return (
      this.#state === SessionState.Body ||
      this.#state === SessionState.Work ||
      this.#state === SessionState.Confirm ||
      this.#state === SessionState.Relay ||
      this.#commandStartedAt !== 0
    );
  }

  /** Bytes this session holds in memory for the peer (parser plus an unstored body). */
  get bufferedBytes(): number {
    const u = this.#upload;
    let body = u?.spool?.bufferedBytes ?? 0;
    if (u?.zipChunks) for (const c of u.zipChunks) body += c.length;
    return this.#parser.bufferedBytes + body;
  }

  /** Starts serving: the socket must be paused (`pauseOnConnect`) and not yet read. */
  start(): void {
    const socket = this.#socket;
    socket.setNoDelay(true);
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onSocketError);
    socket.on('close', this.#onClose);
    socket.on('drain', this.#touch);
    this.#awaitingFirstByteSince = performance.now();
    this.#schedule(Math.min(this.#config.idleTimeoutMs, this.#config.firstByteTimeoutMs));
    if (this.#config.proxy && !this.#config.passLine) {
      this.#startRelay();
      return;
    }
    socket.resume();
  }

  /** Ends the session at the next point between commands (now, if it is idle). */
  closeWhenIdle(): void {
    this.#closeWhenIdle = true;
    if (!this.isBusy && this.#parser.bufferedBytes === 0) this.#close();
  }

  /** Closes at once; an unfinished upload's temp file is removed. */
  destroy(): void {
    this.#socket.destroy();
    this.#relay?.destroy();
  }

  #logger(): Logger {
    return (this.#log ??= this.#ctx.logger.child({
      cid: this.cid,
      peer: this.peer,
      peerPort: this.peerPort,
      ...(this.client.via ? { via: this.client.via.address, viaPort: this.client.via.port } : {}),
    }));
  }

  // ---- socket events -------------------------------------------------------------------

  readonly #onData = (chunk: Buffer): void => {
    const now = performance.now();
    this.#lastActivity = now;
    this.#awaitingFirstByteSince = 0;
    if (this.#commandStartedAt === 0) this.#commandStartedAt = now;
    // The chunk's first byte starts a line unless one is under way; a line may also start after
    // the ones the chunk completes.
    if (this.#lineStartedAt === 0) this.#lineBegan(now);
    this.#parser.push(chunk);
    if (this.#lineStartedAt === 0 && this.#parser.bufferedBytes > 0) this.#lineBegan(now);
    if (this.#parser.isPaused && this.#state !== SessionState.Closed) this.#socket.pause();
  };

  /** A line started at `now` (if lines are what the session reads): its deadline is armed. */
  #lineBegan(now: number): void {
    if (!readsLines(this.#state)) return;
    this.#lineStartedAt = now;
    const due = now + this.#config.commandTimeoutMs;
    if (this.#timerDueAt > due) this.#schedule(due - now);
  }

  readonly #touch = (): void => {
    this.#lastActivity = performance.now();
  };

  readonly #onEnd = (): void => {
    this.#peerEnded = true;
    if (this.#state === SessionState.Closed) {
      this.#socket.destroy();
      return;
    }
    // While our own work runs, #release() handles the EOF once the held input is processed.
    if (!this.#busy) this.#peerGone();
  };

  /** The peer sent EOF and every byte before it is processed: nothing more can come. */
  #peerGone(): void {
    if (this.#state === SessionState.Body) {
      this.#logger().warn(
        { event: 'disconnected', reason: RejectReason.Disconnected },
        'connection closed by the peer in the middle of a file',
      );
      this.#ctx.metrics.reject(RejectReason.Disconnected);
    }
    this.#close();
  }

  readonly #onSocketError = (err: Error): void => {
    const code = (err as NodeJS.ErrnoException).code;
    if (this.#ctx.logger.isLevelEnabled('debug')) {
      this.#logger().debug({ event: 'socket_error', code, err: err.message }, 'socket error');
    }
  };

  readonly #onClose = (): void => {
    const wasBody = this.#state === SessionState.Body;
    this.#state = SessionState.Closed;
    this.#parser.close();
    if (this.#timer) clearTimeout(this.#timer);
    this.#relay?.destroy();
    this.#confirm?.cancel();
    this.#confirm = undefined;
    if (wasBody && this.#upload) {
      if (!this.#peerEnded) {
        this.#logger().warn(
          { event: 'disconnected', reason: RejectReason.Disconnected },
          'connection lost in the middle of a file',
        );
        this.#ctx.metrics.reject(RejectReason.Disconnected);
      }
      this.#abandonUpload();
    }
    // Busy: the disk work finishes (or fails) first, then settles `closed`.
    if (!this.#busy) this.#settle();
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
    if (this.#state === SessionState.Closed) return;
    if (this.#busy && !this.#awaitingPeer) {
      // Our disk work is not the peer's idleness.
      this.#schedule(this.#config.idleTimeoutMs);
      return;
    }
    const clocks = {
      awaitingFirstByteSince: this.#awaitingFirstByteSince,
      lineStartedAt: this.#lineStartedAt,
      commandStartedAt: this.#commandStartedAt,
      lastActivity: this.#lastActivity,
    };
    const now = performance.now();
    const next = checkDeadlines(this.#config, clocks, readsLines(this.#state), this.#state, now);
    if (typeof next === 'number') {
      this.#schedule(next);
      return;
    }
    this.#reject(next.reason, next.message, next.detail);
    this.#close();
  };

  // ---- flow control -------------------------------------------------------------------

  /** Runs our own work (disk, sending) with the socket and parser paused; then reads on. */
  #work(task: () => Promise<void>): void {
    this.#state = SessionState.Work;
    this.#hold();
    task().then(
      () => {
        this.#afterWork();
      },
      (err: unknown) => {
        this.#logger().error(
          { event: 'internal_error', err: (err as Error).message },
          'request failed',
        );
        this.#close();
        this.#afterWork();
      },
    );
  }

  /** Stops reading the peer until #afterWork(): at most one chunk stays held in the parser. */
  #hold(): void {
    this.#busy = true;
    this.#parser.pause();
    this.#socket.pause();
  }

  #afterWork(): void {
    this.#busy = false;
    this.#lastActivity = performance.now();
    if (this.#settledIfClosed()) return;
    this.#release();
  }

  /** After our own work: true when the session ended meanwhile (resolving `closed` if the
   * socket is already gone; otherwise its 'close' event does). */
  #settledIfClosed(): boolean {
    if (this.#socket.destroyed) {
      this.#state = SessionState.Closed;
      this.#settle();
      return true;
    }
    return this.#state === SessionState.Closed;
  }

  /** Resumes the parser, then the socket unless the parser paused again. */
  #release(): void {
    this.#parser.resume();
    if (this.#state === SessionState.Closed || this.#parser.isPaused) return;
    if (this.#peerEnded) {
      this.#peerGone();
      return;
    }
    this.#socket.resume();
  }

  /** The current command is answered: back to reading commands. */
  #commandDone(): void {
    this.#state = SessionState.Command;
    const pipelined = this.#parser.bufferedBytes > 0;
    this.#commandStartedAt = pipelined ? performance.now() : 0;
    this.#lineStartedAt = 0;
    if (pipelined) this.#lineBegan(this.#commandStartedAt);
    if (this.#closeWhenIdle && this.#commandStartedAt === 0) this.#close();
  }

  #reply(buf: Buffer): void {
    const socket = this.#socket;
    if (socket.destroyed || !socket.writable) return;
    this.#lastActivity = performance.now();
    socket.write(buf);
  }

  /**
   * Ends the session: QUIT, EOF, shutdown, or a drop after a protocol violation, timeout or
   * failure (no reply, spec §1.5). An unfinished upload's temp file is removed.
   */
  #close(): void {
    if (this.#state === SessionState.Closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    const wasBody = this.#state === SessionState.Body;
    this.#state = SessionState.Closed;
    this.#parser.close();
    this.#confirm?.cancel();
    this.#confirm = undefined;
    if (wasBody) this.#abandonUpload();
    const socket = this.#socket;
    if (socket.destroyed) return;
    // FIN after the last reply is flushed; unread input is discarded until the peer closes or
    // the linger time ends.
    socket.end();
    socket.resume();
    this.#timer = setTimeout(() => socket.destroy(), LINGER_MS);
    this.#timer.unref();
  }

  /** An upload cut short: counted as an error; its temp file is removed before `closed`. */
  #abandonUpload(): void {
    const upload = this.#upload;
    if (!upload) return;
    this.#upload = undefined;
    this.#ctx.metrics.file('error');
    this.#releaseZipMemory(upload);
    this.#cleanup = upload.spool?.abort();
  }

  #releaseZipMemory(upload: Upload): void {
    this.#ctx.zipMemory.giveBack(upload.zipReserved);
    upload.zipReserved = 0;
  }

  /** Resolves `closed` once any temp-file removal is done. */
  #settle(): void {
    if (this.#cleanup) void this.#cleanup.finally(this.#resolveClosed);
    else this.#resolveClosed();
  }

  #reject(reason: RejectReason, message: string, extra: Record<string, unknown> = {}): void {
    this.#ctx.metrics.reject(reason);
    this.#logger().warn({ event: 'rejected', reason, ...extra }, message);
  }

  // ---- commands -----------------------------------------------------------------------

  #onLine(line: Buffer): void {
    this.#lineStartedAt = 0;
    switch (this.#state) {
      case SessionState.Auth:
        this.#auth(line);
        return;
      case SessionState.Command:
        this.#command(line);
        return;
      case SessionState.Confirm:
        this.#confirmed(line);
        return;
      case SessionState.Body:
      case SessionState.Work:
      case SessionState.Relay:
      case SessionState.Closed:
        return;
    }
  }

  /** The first line of a session with a password: checked now, later, or refused unchecked. */
  #auth(line: Buffer): void {
    const throttle = this.#ctx.authThrottle;
    const turn = throttle.turn(this.peer, performance.now());
    if (turn === 'refuse') {
      this.#reject(RejectReason.AuthThrottled, 'too many failed passwords from this address', {
        passDelayMaxSec: this.#config.passDelayMaxMs / 1000,
      });
      this.#close();
      return;
    }
    if (turn.waitMs === 0) {
      this.#checkPass(line, 0);
      return;
    }
    // Hold the session (not the process) until the address's turn: the line is kept, the
    // socket and parser are paused, and the idle clock does not run against the peer.
    this.#logger().info(
      { event: 'pass_delayed', waitMs: Math.round(turn.waitMs) },
      'password check delayed: earlier failures from this address',
    );
    const kept = Buffer.from(line);
    this.#state = SessionState.Work;
    this.#hold();
    const timer = setTimeout(() => {
      this.#busy = false;
      if (this.#settledIfClosed()) return;
      this.#state = SessionState.Auth;
      if (this.#checkPass(kept, turn.waitMs)) this.#release();
    }, turn.waitMs);
    timer.unref();
  }

  /** Checks a PASS line; true when the session reads on (false: closed, or relaying). */
  #checkPass(line: Buffer, delayedMs: number): boolean {
    const expected = this.#config.passLine;
    const throttle = this.#ctx.authThrottle;
    if (expected && line.length === expected.length && line.equals(expected)) {
      throttle.succeeded(this.peer);
      this.#reply(Reply.passOk);
      if (this.#config.proxy) {
        // Relay once the parser has set aside the bytes that followed the PASS line.
        this.#parser.pause();
        this.#socket.pause();
        process.nextTick(() => {
          this.#startRelay();
        });
        return false;
      }
      this.#commandDone();
      return true;
    }
    // Wrong digest, upper case, single MD5, or no PASS at all: drop without a reply (spec §2).
    // Quiet mode changes nothing here: the reference's -q bypass is not reproduced.
    const failures = throttle.failed(this.peer, performance.now());
    this.#reject(RejectReason.AuthFailed, 'invalid password', {
      line: printableBytes(line, 64),
      failures,
      delayedMs: Math.round(delayedMs),
    });
    this.#close();
    return false;
  }

  #command(line: Buffer): void {
    switch (line[0] ?? 0) {
      case 0x53: // S
        if (line.subarray(0, SEND.prefix.length).equals(SEND.prefix)) {
          this.#startUpload(line, SEND);
          return;
        }
        break;
      case 0x5a: // Z
        if (line.subarray(0, ZSEND.prefix.length).equals(ZSEND.prefix)) {
          this.#startUpload(line, ZSEND);
          return;
        }
        if (line.subarray(0, ZRECV.prefix.length).equals(ZRECV.prefix)) {
          this.#download(line, ZRECV);
          return;
        }
        break;
      case 0x52: // R
        if (line.subarray(0, RECV.prefix.length).equals(RECV.prefix)) {
          this.#download(line, RECV);
          return;
        }
        break;
      case 0x51: // Q
        if (line.equals(QUIT)) {
          if (this.#ctx.logger.isLevelEnabled('debug')) {
            this.#logger().debug({ event: 'quit' }, 'client quit');
          }
          this.#close();
          return;
        }
        break;
      case 0x4c: // L
        if (this.#config.insecure && line.subarray(0, LS_PREFIX.length).equals(LS_PREFIX)) {
          this.#list(line);
          return;
        }
        break;
      case 0x4d: // M
        if (this.#config.insecure && line.subarray(0, MV.prefix.length).equals(MV.prefix)) {
          this.#download(line, MV);
          return;
        }
        break;
      default:
        break;
    }
    this.#unknown(line);
  }

  #unknown(line: Buffer): void {
    this.#reject(RejectReason.UnknownCommand, 'unknown command', {
      line: printableBytes(line, 80),
    });
    this.#close();
  }

  /** The folder a name goes to: the first matching filter's, else the storage folder. */
  #folderFor(name: Buffer): Buffer {
    return this.#folderOf(this.#filterIndex(name));
  }

  /** Folder of filter `i`; the storage folder for -1. */
  #folderOf(i: number): Buffer {
    return i < 0 ? this.#ctx.storageDir : (this.#ctx.filterDirs[i] ?? this.#ctx.storageDir);
  }

  /** Index of the first filter matching the name, or -1. */
  #filterIndex(name: Buffer): number {
    const filters = this.#config.filters;
    if (filters.length === 0) return -1;
    const text = name.toString('latin1');
    for (let i = 0; i < filters.length; i++) {
      const f = filters[i];
      if (f?.regex.test(text)) {
        if (this.#ctx.logger.isLevelEnabled('debug')) {
          this.#logger().debug(
            { event: 'filter', name: printableBytes(name), filter: f.source, dir: f.dir },
            'file matches filter',
          );
        }
        return i;
      }
    }
    return -1;
  }

  #rejectUpload(kind: UploadKind, reply: Buffer, reason: RejectReason, name: Buffer): void {
    this.#reply(reply);
    this.#ctx.metrics.file('rejected');
    this.#reject(reason, `${kind.compressed ? 'ZSEND' : 'SEND'} refused`, {
      name: printableBytes(name),
    });
    this.#commandDone();
  }

  /** SEND / ZSEND: checks in the reference's order, then the first OK and the body. */
  #startUpload(line: Buffer, kind: UploadKind): void {
    const args = parseUploadLine(line, kind.prefix.length);
    if (!args) {
      this.#unknown(line);
      return;
    }
    const startedAt = performance.now();
    const name = Buffer.from(args.name);
    const config = this.#config;
    if (hasForbidden(name, config.forbiddenBytes) || isUnstorableName(name)) {
      this.#rejectUpload(kind, kind.errName, RejectReason.InvalidName, name);
      return;
    }
    const size = parseSize(args.digits, config.maxSize);
    if (size === 0) {
      this.#rejectUpload(kind, kind.errBig, RejectReason.TooBig, name);
      return;
    }
    const dir = this.#folderFor(name);
    if (kind.compressed && !this.#ctx.zipMemory.tryTake(size)) {
      this.#rejectUpload(kind, kind.err, RejectReason.Busy, name);
      return;
    }
    if (config.overwrite) {
      this.#beginBody(kind, name, dir, size, startedAt);
      return;
    }
    const exists = this.#ctx.spool.exists(Buffer.concat([dir, SLASH, name]));
    const decide = (found: boolean): void => {
      if (this.#state === SessionState.Closed) {
        if (kind.compressed) this.#ctx.zipMemory.giveBack(size);
        return;
      }
      if (!found) {
        this.#beginBody(kind, name, dir, size, startedAt);
        return;
      }
      if (kind.compressed) this.#ctx.zipMemory.giveBack(size);
      this.#rejectUpload(kind, kind.errExists, RejectReason.Exists, name);
    };
    if (typeof exists === 'boolean') decide(exists);
    else {
      this.#work(async () => {
        decide(await exists);
      });
    }
  }

  #beginBody(kind: UploadKind, name: Buffer, dir: Buffer, size: number, startedAt: number): void {
    this.#upload = {
      kind,
      name,
      dir,
      size,
      startedAt,
      spool: kind.compressed ? undefined : this.#ctx.spool.begin(dir, name),
      zipChunks: kind.compressed ? [] : undefined,
      zipReserved: kind.compressed ? size : 0,
      failed: undefined,
    };
    this.#state = SessionState.Body;
    this.#reply(kind.ok);
    this.#parser.expectPayload(size);
  }

  #onPayload(chunk: Buffer): void {
    const upload = this.#upload;
    if (!upload) return;
    if (upload.zipChunks) {
      upload.zipChunks.push(chunk);
      return;
    }
    if (upload.failed || !upload.spool) return;
    const pending = upload.spool.append(chunk);
    if (!pending) return;
    // The body goes to disk: read no more until it is written (backpressure).
    this.#hold();
    pending.then(
      () => {
        this.#afterWork();
      },
      (err: unknown) => {
        upload.failed = err as PandoraError;
        this.#afterWork();
      },
    );
  }

  #onPayloadEnd(): void {
    const upload = this.#upload;
    if (!upload) return;
    this.#ctx.metrics.receivedBytes.inc(upload.size);
    this.#work(async () => {
      const reply = await this.#store(upload).finally(() => {
        this.#releaseZipMemory(upload);
      });
      this.#upload = undefined;
      this.#reply(reply);
      this.#commandDone();
    });
  }

  /** Stores a received body; returns the final reply. */
  async #store(upload: Upload): Promise<Buffer> {
    const { kind, name } = upload;
    let size = upload.size;
    try {
      if (upload.failed) throw upload.failed;
      if (upload.zipChunks) {
        const body = Buffer.concat(upload.zipChunks, upload.size);
        upload.zipChunks.length = 0;
        const result = await this.#ctx.zipGate.run(async () => {
          let data: Buffer = body;
          if (isZip(body)) {
            try {
              data = unzipFirstMember(body, this.#config.maxDecompressedSize);
            } catch (err) {
              return err as PandoraError;
            }
          }
          size = data.length;
          await this.#ctx.spool.begin(upload.dir, name).commitData(data);
          return undefined;
        });
        if (result) {
          const reason =
            result.code === ErrorCode.ZipTooLarge
              ? RejectReason.ZipTooLarge
              : RejectReason.ZipInvalid;
          this.#ctx.metrics.file('rejected');
          this.#reject(reason, 'ZSEND archive refused', {
            name: printableBytes(name),
            err: result.message,
          });
          return kind.err;
        }
      } else {
        await upload.spool?.commit();
      }
    } catch (err) {
      const spoolErr = err as { kind?: string; errno?: string; message: string };
      if (spoolErr.kind === SpoolErrorKind.Exists) {
        this.#ctx.metrics.file('rejected');
        this.#reject(RejectReason.Exists, 'file appeared while it was being received', {
          name: printableBytes(name),
        });
        return kind.errExists;
      }
      this.#ctx.metrics.file('error');
      this.#ctx.metrics.reject(RejectReason.Storage);
      this.#logger().error(
        {
          event: 'store_failed',
          reason: RejectReason.Storage,
          name: printableBytes(name),
          errno: spoolErr.errno,
          err: spoolErr.message,
        },
        'could not store file',
      );
      return kind.err;
    }
    this.#stored(upload, size);
    return kind.ok;
  }

  #stored(upload: Upload, size: number): void {
    const { metrics } = this.#ctx;
    metrics.file('ok');
    metrics.receiveDuration.observe((performance.now() - upload.startedAt) / 1000);
    if (this.#ctx.logger.isLevelEnabled('info')) {
      this.#logger().info(
        {
          event: 'file_received',
          name: printableBytes(upload.name),
          size,
          compressed: upload.kind.compressed,
        },
        'received file',
      );
    }
    const notify = this.#ctx.fileStored;
    if (notify) {
      const pathBytes = Buffer.concat([upload.dir, SLASH, upload.name]);
      notify({
        path: pathBytes.toString('utf8'),
        pathBytes,
        name: upload.name.toString('utf8'),
        nameBytes: upload.name,
        size,
        compressed: upload.kind.compressed,
        peer: this.peer,
      });
    }
  }

  /** RECV / ZRECV / MV: `<X> SIZE n`, then the bytes once the peer confirms with `<X> OK`. */
  #download(line: Buffer, kind: DownloadKind): void {
    const view = parseNameLine(line, kind.prefix.length);
    if (!view) {
      this.#unknown(line);
      return;
    }
    const name = Buffer.from(view);
    if (hasForbidden(name, this.#config.forbiddenBytes)) {
      this.#reply(kind.errName);
      this.#reject(RejectReason.InvalidName, `${kind.cmd} refused`, {
        name: printableBytes(name),
      });
      this.#commandDone();
      return;
    }
    const filter = this.#filterIndex(name);
    const folder = this.#folderOf(filter);
    const servable = filter >= 0 && this.#ctx.filterIsOwnFolder[filter] === true;
    if (kind !== MV && !this.#config.recvAnyFile && !servable) {
      // A queued data file (or anything else outside the filter folders) is not served; the
      // reply is the reference's own for a missing file, so clients see nothing new.
      this.#reply(kind.errMissing);
      this.#reject(RejectReason.NotFound, `${kind.cmd}: not in a filter folder`, {
        name: printableBytes(name),
      });
      this.#commandDone();
      return;
    }
    const path = Buffer.concat([folder, SLASH, name]);
    this.#work(async () => {
      const file = name.includes(0) ? undefined : await openRegularFile(path);
      if (!file) {
        this.#reply(kind.errMissing);
        this.#reject(RejectReason.NotFound, `${kind.cmd}: no such file`, {
          name: printableBytes(name),
        });
        this.#commandDone();
        return;
      }
      if (kind === ZRECV) {
        await this.#offerZip(name, file);
        return;
      }
      this.#reply(ascii(`${kind.sizePrefix}${file.size}\n`));
      this.#awaitConfirm({
        expect: kind.confirm,
        send: async () => {
          try {
            await this.#sendFile(file.fd, file.size);
          } finally {
            closeFd(file.fd);
          }
          if (kind === MV) await fs.promises.unlink(path);
          if (this.#ctx.logger.isLevelEnabled('info')) {
            this.#logger().info(
              { event: 'file_sent', cmd: kind.cmd, name: printableBytes(name), size: file.size },
              'sent file',
            );
          }
        },
        cancel: () => {
          closeFd(file.fd);
        },
      });
    });
  }

  async #offerZip(name: Buffer, file: { fd: number; size: number }): Promise<void> {
    let zip: Buffer;
    try {
      if (file.size > this.#config.maxDecompressedSize) {
        throw new Error(`file is larger than max_decompressed_size`);
      }
      // The whole file is in memory while it is compressed: share the ZSEND memory budget.
      zip = await this.#ctx.zipGate.run(async () => {
        const data = file.size === 0 ? Buffer.alloc(0) : await readAt(file.fd, file.size, 0);
        return zipSingleFile(name.toString('utf8'), data);
      });
    } catch (err) {
      // The reference answers a compression failure with QUIT and drops (spec §3.4).
      this.#logger().error(
        { event: 'zip_failed', name: printableBytes(name), err: (err as Error).message },
        'ZRECV: could not compress file',
      );
      this.#reply(Reply.quit);
      this.#close();
      return;
    } finally {
      closeFd(file.fd);
    }
    this.#reply(ascii(`${ZRECV.sizePrefix}${zip.length}\n`));
    this.#awaitConfirm({
      expect: ZRECV.confirm,
      send: () => this.#write(zip),
      cancel: () => undefined,
    });
  }

  /** LS (insecure mode): the listing of the storage folder or of the matching filter's folder. */
  #list(line: Buffer): void {
    const arg = parseNameLine(line, LS_PREFIX.length);
    if (!arg) {
      this.#unknown(line);
      return;
    }
    const forbidden = this.#config.forbiddenBytes;
    if (hasForbidden(arg, forbidden)) {
      this.#reply(Reply.lsErr);
      this.#reject(RejectReason.InvalidName, 'LS refused', { arg: printableBytes(arg) });
      this.#commandDone();
      return;
    }
    const dir = this.#folderFor(arg);
    this.#work(async () => {
      let entries: Buffer[];
      try {
        entries = await fs.promises.readdir(dir, { encoding: 'buffer' });
      } catch {
        this.#reply(Reply.lsErr);
        this.#commandDone();
        return;
      }
      const parts = [DOT_ENTRIES];
      // Sorted for a stable listing (the reference sends readdir order).
      for (const e of entries.sort((a, b) => Buffer.compare(a, b))) {
        if (!hasForbidden(e, forbidden)) parts.push(e, LF_BUF);
      }
      const body = Buffer.concat(parts);
      this.#reply(ascii(`LS SIZE ${body.length}\n`));
      this.#awaitConfirm({ expect: LS_CONFIRM, send: () => this.#write(body), cancel: () => {} });
    });
  }

  #awaitConfirm(pending: PendingConfirm): void {
    this.#confirm = pending;
    this.#state = SessionState.Confirm;
  }

  #confirmed(line: Buffer): void {
    const pending = this.#confirm;
    this.#confirm = undefined;
    if (!pending) return;
    if (!line.equals(pending.expect)) {
      // Anything but the exact confirmation: nothing is sent; the line is consumed (spec §3.3).
      pending.cancel();
      this.#commandDone();
      return;
    }
    this.#work(async () => {
      await pending.send();
      this.#commandDone();
    });
  }

  /** Writes data to the peer, waiting while the socket's buffer is full. */
  async #write(data: Buffer): Promise<void> {
    if (data.length === 0) return;
    const socket = this.#socket;
    if (socket.destroyed) throw new Error('connection closed while sending');
    this.#lastActivity = performance.now();
    if (socket.write(data)) return;
    // A peer that does not read is idle: the idle clock runs against it meanwhile.
    this.#awaitingPeer = true;
    try {
      await new Promise<void>((resolve, reject) => {
        const done = (): void => {
          socket.off('drain', done);
          socket.off('close', done);
          if (socket.destroyed) reject(new Error('connection closed while sending'));
          else resolve();
        };
        socket.on('drain', done);
        socket.on('close', done);
      });
    } finally {
      this.#awaitingPeer = false;
    }
  }

  async #sendFile(fd: number, size: number): Promise<void> {
    let sent = 0;
    while (sent < size) {
      const chunk = await readAt(fd, Math.min(READ_CHUNK_BYTES, size - sent), sent);
      if (chunk.length === 0) throw new Error('file shrank while it was being sent');
      sent += chunk.length;
      await this.#write(chunk);
    }
  }

  // ---- proxy mode ---------------------------------------------------------------------

  /** Relays the rest of the session, byte for byte, to the upstream server (spec §8.1). */
  #startRelay(): void {
    const proxy = this.#config.proxy;
    if (!proxy) return;
    this.#state = SessionState.Relay;
    const socket = this.#socket;
    socket.pause();
    socket.off('data', this.#onData);
    const early = this.#parser.takeBuffered();
    this.#parser.close();
    const upstream = net.connect({ host: proxy.host, port: proxy.port });
    this.#relay = upstream;
    upstream.setNoDelay(true);
    upstream.on('error', (err) => {
      this.#reject(RejectReason.Proxy, 'proxy upstream failed', { err: err.message });
    });
    upstream.on('close', () => {
      socket.destroy();
    });
    upstream.once('connect', () => {
      for (const b of early) upstream.write(b);
      upstream.on('data', this.#touch);
      socket.on('data', this.#touch);
      socket.pipe(upstream);
      upstream.pipe(socket);
      socket.resume();
    });
  }
}
