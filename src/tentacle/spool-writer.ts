import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import fs, { constants as fsConstants, readFileSync } from 'node:fs';
import {
  closeFd,
  closeQuietly,
  DirSyncer,
  fchmodFd,
  openFd,
  unlinkPath,
  unlinkQuietly,
  type SpareFiles,
} from '../core/index.js';
import type { FileSink } from './file-sink.js';
import type { SyncPolicy } from './options.js';
import { SpoolTransfer } from './spool-transfer.js';

/**
 * Stores uploaded files so that no reader ever sees a partial file (spec §5 [R]):
 *
 *   temp `.<name>.<tag>.tmp` in the destination folder (O_CREAT|O_EXCL, explicit mode)
 *   → write → [sync always: fsync(file)] → close
 *   → overwrite on: rename(temp, final)   (atomic replace)
 *     overwrite off: link(temp, final) + unlink(temp)   (fails with EEXIST instead of clobbering
 *       a file another connection stored meanwhile)
 *   → [sync always: fsync(folder), shared by every transfer waiting on that folder]
 *
 * Only then does the session send the final OK. The temp name starts with a dot and ends in
 * `.tmp`, so the dataserver's `[._]\d+\.data$` pattern never picks it up. Any failure (ENOSPC,
 * EIO, a missing filter folder) or an abort removes the temp file.
 *
 * Bodies up to `MEMORY_BUFFER_BYTES` are kept in memory and written with one write; larger ones
 * stream to the temp file as they arrive, and the caller awaits each write before reading the
 * socket again, so disk speed throttles the peer (backpressure).
 *
 * Inline I/O: a small body held in memory is stored with synchronous calls on the event loop
 * (open, write, close, link, unlink: a few microseconds each on a local disk), as is the
 * existence check; only the fsyncs of `sync always` go to the thread pool (they take
 * milliseconds), the folder one group-committed. Measured with the bench load on 2 cores
 * (32 clients, 4 KB files, tmpfs): 61.8k vs 30.8k files/s under `sync none` and 33–46k vs
 * 16–20k under `sync always`, against one thread-pool round trip per call; on ext4 the server
 * spends 35–40 % less CPU per file. If the inline part of one store takes longer than
 * INLINE_STALL_MS (a slow or stalled disk), or its running average exceeds INLINE_SLOW_AVG_MS
 * (ext4 under `sync always`: every create waits on the journal commits the fsyncs force, about
 * 1 ms each, which blocked the event loop for a fifth of its time in the end-to-end bench), the
 * writer goes back to the thread pool for INLINE_BACKOFF_MS, then tries inline again.
 *
 * Spares: under `serve`, an inline store first takes a file the dataserver has finished with
 * (core/spare-files.ts), moved to the temp name, written from offset 0 and truncated, rather than
 * creating one; the rest of the sequence is the same.
 *
 * This file holds what every transfer shares (temp names and files, the inline-or-thread-pool
 * choice, spares, the folder fsyncs); one file's sequence is a `SpoolTransfer`
 * (spool-transfer.ts), its failures `SpoolError`s (spool-error.ts), and the start-up removal of
 * a crash's temp files is spool-sweep.ts.
 */

/** Longest file name Linux accepts in one path component. */
export const NAME_MAX_BYTES = 255;
/** Bytes of the original name kept in a temp name (the rest of it must fit NAME_MAX). */
const TEMP_NAME_KEEP_BYTES = 200;
const OPEN_EXCL = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL;
/** An inline store slower than this sends the writer back to the thread pool... */
export const INLINE_STALL_MS = 20;
/** ...as does an average inline store slower than this (a disk that is slow on every call)... */
export const INLINE_SLOW_AVG_MS = 0.25;
/** ...for this long. */
export const INLINE_BACKOFF_MS = 10_000;
/** Weight of the newest store in the running average (about the last 20 stores). */
const INLINE_AVG_WEIGHT = 0.05;

/** The process umask, read without changing it (Linux); 0o022 when unknown. */
function currentUmask(): number {
  try {
    const m = /^Umask:\s*([0-7]+)/m.exec(readFileSync('/proc/self/status', 'latin1'));
    if (m?.[1] !== undefined) return parseInt(m[1], 8);
  } catch {
    // not Linux: assume the common default
  }
  return 0o022;
}

export interface SpoolWriterOptions {
  readonly sync: SyncPolicy;
  readonly fileMode: number;
  readonly overwrite: boolean;
  /** Called for every folder fsync (metrics). */
  readonly onFolderSync?: () => void;
  /**
   * Finished spool files to write into instead of creating files (inode recycling, see
   * core/spare-files.ts). Used under `sync always` only: without the fsync before the rename,
   * an OS crash could leave the final name on the spare's old bytes, a whole older packet.
   */
  readonly spares?: SpareFiles | undefined;
  /** Files it wants are handed to it at commit instead of being stored (file-sink.ts). */
  readonly sink?: FileSink | undefined;
  /**
   * Keep a stored body that was in memory, with the file's mtime, for `SpoolTransfer.stored`
   * (`serve` hands it to its dataserver instead of that reading the file back).
   */
  readonly keepStored?: boolean | undefined;
}

export class SpoolWriter {
  readonly options: SpoolWriterOptions;
  readonly dirSyncer: DirSyncer;
  readonly #active = new Set<SpoolTransfer>();
  readonly #needsChmod: boolean;
  readonly #spares: SpareFiles | undefined;
  readonly #tagPrefix = randomBytes(4).toString('hex');
  #counter = 0;
  /** performance.now() before which inline I/O stays off after a slow store. */
  #inlineOffUntil = 0;
  /** Running average of inline store time (ms), and how many stores it has seen. */
  #inlineAvgMs = 0;
  #inlineSamples = 0;

  constructor(options: SpoolWriterOptions) {
    this.options = options;
    this.dirSyncer = new DirSyncer(options.onFolderSync);
    this.#needsChmod = (options.fileMode & currentUmask()) !== 0;
    this.#spares = options.sync === 'always' ? options.spares : undefined;
  }

  /**
   * A store met ENOSPC: removes every spare file (their blocks and inodes) and says whether any
   * went, i.e. whether retrying the store once can succeed where it just failed.
   */
  releaseSpares(): boolean {
    return (this.#spares?.releaseAll('enospc') ?? 0) > 0;
  }

  /** Whether small stores and existence checks run as synchronous calls right now. */
  get inlineIo(): boolean {
    return performance.now() >= this.#inlineOffUntil;
  }

  /** Whether `dir/name` exists (any kind of entry; symlinks not followed). */
  exists(path: Buffer): Promise<boolean> | boolean {
    if (this.inlineIo) return fs.lstatSync(path, { throwIfNoEntry: false }) !== undefined;
    return new Promise((resolve) => {
      fs.lstat(path, (err) => {
        resolve(!err);
      });
    });
  }

  /** @internal Times an inline store; a slow one turns inline I/O off for a while. */
  inlineTook(ms: number): void {
    this.#inlineSamples++;
    this.#inlineAvgMs += (ms - this.#inlineAvgMs) * INLINE_AVG_WEIGHT;
    const warm = this.#inlineSamples >= 1 / INLINE_AVG_WEIGHT;
    if (ms > INLINE_STALL_MS || (warm && this.#inlineAvgMs > INLINE_SLOW_AVG_MS)) {
      this.#inlineOffUntil = performance.now() + INLINE_BACKOFF_MS;
      this.#inlineAvgMs = 0;
      this.#inlineSamples = 0;
    }
  }

  /** Transfers with a temp file that may exist (not yet committed or removed). */
  get activeTransfers(): number {
    return this.#active.size;
  }

  /** Starts storing `name` in folder `dir` (both bytes; `dir` has no trailing slash). */
  begin(dir: Buffer, name: Buffer): SpoolTransfer {
    const t = new SpoolTransfer(this, dir, name);
    this.#active.add(t);
    return t;
  }

  /** Removes the temp files of every unfinished transfer. */
  async abortAll(): Promise<void> {
    await Promise.all([...this.#active].map((t) => t.abort()));
  }

  /** @internal */
  release(t: SpoolTransfer): void {
    this.#active.delete(t);
  }

  /** @internal */
  tempPath(dir: Buffer, name: Buffer): Buffer {
    const tag = `.${this.#tagPrefix}${(this.#counter++).toString(36)}.tmp`;
    const kept = name.length > TEMP_NAME_KEEP_BYTES ? name.subarray(0, TEMP_NAME_KEEP_BYTES) : name;
    return Buffer.concat([dir, SLASH_DOT, kept, Buffer.from(tag, 'latin1')]);
  }

  /**
   * @internal The synchronous twin of openTemp (inline I/O). `reused`: the file is a spare
   * holding old bytes, so the caller truncates it to what it wrote.
   */
  openTempSync(dir: Buffer, name: Buffer): { path: Buffer; fd: number; reused: boolean } {
    for (let attempt = 0; ; attempt++) {
      const path = this.tempPath(dir, name);
      try {
        const spare = this.#spares?.takeSync(path, this.options.fileMode);
        if (spare !== undefined) return { path, fd: spare, reused: true };
        const fd = fs.openSync(path, OPEN_EXCL, this.options.fileMode);
        if (this.#needsChmod) {
          try {
            fs.fchmodSync(fd, this.options.fileMode);
          } catch (err) {
            closeQuietly(fd);
            unlinkQuietly(path);
            throw err;
          }
        }
        return { path, fd, reused: false };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err;
      }
    }
  }

  /** @internal `reused` as for openTempSync. */
  async openTemp(
    dir: Buffer,
    name: Buffer,
  ): Promise<{ path: Buffer; fd: number; reused: boolean }> {
    for (let attempt = 0; ; attempt++) {
      const path = this.tempPath(dir, name);
      try {
        const spare = await this.#spares?.take(path, this.options.fileMode);
        if (spare !== undefined) return { path, fd: spare, reused: true };
        const fd = await openFd(path, OPEN_EXCL, this.options.fileMode);
        if (this.#needsChmod) {
          try {
            await fchmodFd(fd, this.options.fileMode);
          } catch (err) {
            await closeFd(fd).catch(ignore);
            await unlinkPath(path).catch(ignore);
            throw err;
          }
        }
        return { path, fd, reused: false };
      } catch (err) {
        // A leftover temp file with the same name: pick another tag.
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err;
      }
    }
  }
}

const SLASH_DOT = Buffer.from('/.', 'latin1');

function ignore(): void {
  // best-effort cleanup
}
