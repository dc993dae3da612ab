import type { Logger } from '../../core/index.js';
import type { AuthThrottle } from '../auth-throttle.js';
import type { ByteBudget } from '../memory-budget.js';
import type { TentacleMetrics } from '../metrics.js';
import type { TentacleConfig } from '../options.js';
import type { StoredBody } from '../spool-transfer.js';
import type { SpoolWriter } from '../spool-writer.js';

/** Emitted after a file is in place under its final name (durable under `sync always`). */
export interface FileStoredEvent {
  /** Final path, decoded as UTF-8 (exact for UTF-8 names; use `pathBytes` otherwise). */
  readonly path: string;
  readonly pathBytes: Buffer;
  /** File name as sent by the peer, decoded as UTF-8; `nameBytes` holds the exact bytes. */
  readonly name: string;
  readonly nameBytes: Buffer;
  /** Bytes stored (after decompression for ZSEND). */
  readonly size: number;
  readonly compressed: boolean;
  /** Peer address (no port). */
  readonly peer: string;
  /**
   * With `announceStoredBytes`: the stored body and the file's mtime when it was stored from
   * memory (plain SEND of a body that fit in memory); the file holds exactly these bytes.
   */
  readonly stored?: StoredBody | undefined;
}

/** Limits how many whole files (ZSEND after decompression, ZRECV before compression) are in memory at once. */
export class Gate {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(slots: number) {
    this.#free = slots;
  }
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

/**
 * `debug` by default: like the reference, which logs a connection only when asked (`-v`), a
 * busy server writes nothing per connection at its usual level. The standalone
 * `tentacle-server` uses `info`, the level its `-v` turns on.
 */
export type ConnectionLogLevel = 'debug' | 'info';

/** What the server gives every session. */
export interface SessionContext {
  readonly config: TentacleConfig;
  /** Storage folder as bytes, no trailing slash. */
  readonly storageDir: Buffer;
  /** Folder of each filter (storage + '/' + dir), parallel to `config.filters`. */
  readonly filterDirs: readonly Buffer[];
  /** Per filter: its folder is not the storage folder itself (RECV may serve from it). */
  readonly filterIsOwnFolder: readonly boolean[];
  /** Delays PASS checks of addresses that failed (shared by every session). */
  readonly authThrottle: AuthThrottle;
  readonly spool: SpoolWriter;
  readonly metrics: TentacleMetrics;
  readonly logger: Logger;
  /** Level of the lines every connection writes (connected, file received or sent). */
  readonly connectionLogLevel: ConnectionLogLevel;
  readonly zipGate: Gate;
  /** Bytes of ZSEND archives all sessions may hold while they arrive. */
  readonly zipMemory: ByteBudget;
  /** Called for every stored file (the server turns it into a `fileStored` event). */
  fileStored?: ((event: FileStoredEvent) => void) | undefined;
}
