import type net from 'node:net';
import { directClient, type ClientAddress } from './proxy-accept.js';
import type { SessionContext } from './session/context.js';
import { SessionCore } from './session/core.js';

export {
  Gate,
  type ConnectionLogLevel,
  type FileStoredEvent,
  type SessionContext,
} from './session/context.js';
export { SessionState } from './session/state.js';
export { Reply } from './session/wire.js';

/**
 * One Tentacle connection: the protocol decisions (spec §2–§4), on top of the framing parser.
 * This is the public face; the work lives in session/ (core.ts: lifecycle, state, deadlines and
 * closing; auth.ts; commands.ts routing to upload.ts, download.ts, listing.ts, relay.ts; the
 * wire bytes in wire.ts).
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

export class TentacleSession {
  readonly cid: number;
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
  readonly #core: SessionCore;

  constructor(socket: net.Socket, ctx: SessionContext, client = directClient(socket)) {
    const core = new SessionCore(socket, ctx, client);
    this.#core = core;
    this.cid = core.cid;
    this.client = core.client;
    this.peer = core.peer;
    this.peerPort = core.peerPort;
    this.closed = core.closed;
  }

  /** Mid-command: a line started, a body in flight, or disk work pending. */
  get isBusy(): boolean {
    return this.#core.isBusy;
  }

  /** Bytes this session holds in memory for the peer (parser plus an unstored body). */
  get bufferedBytes(): number {
    return this.#core.bufferedBytes;
  }

  /** Starts serving: the socket must be paused (`pauseOnConnect`) and not yet read. */
  start(): void {
    this.#core.start();
  }

  /** Ends the session at the next point between commands (now, if it is idle). */
  closeWhenIdle(): void {
    this.#core.closeWhenIdle();
  }

  /** Closes at once; an unfinished upload's temp file is removed. */
  destroy(): void {
    this.#core.destroy();
  }
}
