import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import fs, { constants as fsConstants, readFileSync } from 'node:fs';
import {
  closeFd,
  closeQuietly,
  DirSyncer,
  ErrorCode,
  fchmodFd,
  fsyncFd,
  ftruncateFd,
  linkPath,
  openFd,
  PandoraError,
  renamePath,
  unlinkPath,
  unlinkQuietly,
  writeAllFd,
  type SpareFiles,
} from '../core/index.js';
import type { FileSink } from './file-sink.js';
import type { SyncPolicy } from './options.js';

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
 * creating one; the rest of the sequence is the same. */

/** Bodies up to this size are written with a single write at commit. */
export const MEMORY_BUFFER_BYTES = 64 * 1024;
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

export const SpoolErrorKind = { Exists: 'exists', Storage: 'storage' } as const;
export type SpoolErrorKind = (typeof SpoolErrorKind)[keyof typeof SpoolErrorKind];

export class SpoolError extends PandoraError {
  readonly kind: SpoolErrorKind;
  /** errno code of the failing call, e.g. ENOSPC. */
  readonly errno: string | undefined;
  constructor(kind: SpoolErrorKind, message: string, cause: unknown) {
    super(ErrorCode.TentacleStorage, message, { cause });
    this.kind = kind;
    const code = (cause as { code?: unknown } | undefined)?.code;
    this.errno = typeof code === 'string' ? code : undefined;
  }
}

function isDiskFull(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === 'ENOSPC';
}

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
const SLASH = Buffer.from('/', 'latin1');

function ignore(): void {
  // best-effort cleanup
}

/** One file being stored. Calls must not overlap: await each before the next. */
export class SpoolTransfer {
  readonly #writer: SpoolWriter;
  readonly dir: Buffer;
  readonly name: Buffer;
  readonly finalPath: Buffer;
  #chunks: Buffer[] = [];
  #bufferedBytes = 0;
  #fd: number | undefined;
  #tempPath: Buffer | undefined;
  /** The temp file is a spare: truncate it to #written before it gets its final name. */
  #reused = false;
  #written = 0;
  /** The current disk operation; abort() waits for it. */
  #op: Promise<unknown> | undefined;
  #done = false;

  constructor(writer: SpoolWriter, dir: Buffer, name: Buffer) {
    this.#writer = writer;
    this.dir = dir;
    this.name = name;
    this.finalPath = Buffer.concat([dir, SLASH, name]);
  }

  /** Bytes held in memory, not yet written to the temp file. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  /**
   * Adds body bytes. Returns undefined when they were only buffered, or a promise to await
   * before reading more from the peer when they had to go to disk. `chunk` may be a view of a
   * socket buffer; it is kept, not copied (socket buffers are not reused).
   */
  append(chunk: Buffer): Promise<void> | undefined {
    if (this.#done) throw new Error('transfer already finished');
    this.#chunks.push(chunk);
    this.#bufferedBytes += chunk.length;
    if (this.#bufferedBytes <= MEMORY_BUFFER_BYTES) return undefined;
    return this.#track(this.#flushToDisk());
  }

  /**
   * Makes the file visible under its final name, durably under `sync always`. Throws a
   * SpoolError (kind `exists` when overwrite is off and the name appeared meanwhile); the temp
   * file is gone either way.
   */
  async commit(): Promise<void> {
    if (this.#done) throw new Error('transfer already finished');
    const sink = this.#writer.options.sink;
    if (sink?.wants(this.dir, this.name)) {
      await this.#track(this.#deliver(sink));
      return;
    }
    if (
      this.#fd === undefined &&
      this.#bufferedBytes <= MEMORY_BUFFER_BYTES &&
      this.#writer.inlineIo
    ) {
      await this.#commitInline();
      return;
    }
    const op = this.#track(this.#commit());
    await op;
  }

  /** Replaces the buffered body with `data` and commits it (ZSEND after decompression). */
  async commitData(data: Buffer): Promise<void> {
    this.#chunks = [data];
    this.#bufferedBytes = data.length;
    await this.commit();
  }

  /** Discards the transfer and removes its temp file. Idempotent. */
  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    this.#chunks = [];
    await this.#op?.catch(ignore);
    await this.#cleanup();
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#op = p;
    return p;
  }

  async #flushToDisk(): Promise<void> {
    try {
      if (this.#fd === undefined) {
        const { path, fd, reused } = await this.#onceMoreIfSparesGo(() =>
          this.#writer.openTemp(this.dir, this.name),
        );
        this.#tempPath = path;
        this.#fd = fd;
        this.#reused = reused;
      }
      const fd = this.#fd;
      const data = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks);
      this.#chunks = [];
      this.#bufferedBytes = 0;
      if (data && data.length > 0) {
        const progress = { written: 0 };
        await this.#onceMoreIfSparesGo(() =>
          writeAllFd(fd, data.subarray(progress.written), progress),
        );
        this.#written += data.length;
      }
    } catch (err) {
      await this.#fail(err);
    }
  }

  /**
   * Runs `step`; when the disk is full and spare files were holding space, they are released
   * and `step` runs once more (a retried write resumes where the failed one stopped).
   */
  async #onceMoreIfSparesGo<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (err) {
      if (!isDiskFull(err) || !this.#writer.releaseSpares()) throw err;
      return step();
    }
  }

  async #commit(): Promise<void> {
    const { sync, overwrite } = this.#writer.options;
    try {
      await this.#flushToDisk();
      const fd = this.#fd;
      const temp = this.#tempPath;
      if (fd === undefined || temp === undefined) throw new Error('no temp file');
      if (this.#reused) await ftruncateFd(fd, this.#written);
      if (sync === 'always') await fsyncFd(fd);
      this.#fd = undefined;
      await closeFd(fd);
      if (overwrite) {
        await renamePath(temp, this.finalPath);
        this.#tempPath = undefined;
        if (sync === 'always') await this.#writer.dirSyncer.sync(this.dir);
      } else {
        try {
          await linkPath(temp, this.finalPath);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
            throw new SpoolError(SpoolErrorKind.Exists, 'file already exists', err);
          }
          throw err;
        }
        this.#tempPath = undefined;
        // The temp name's removal need not be durable; the new link must be.
        const unlinked = unlinkPath(temp).catch(ignore);
        if (sync === 'always') await this.#writer.dirSyncer.sync(this.dir);
        await unlinked;
      }
      this.#done = true;
      this.#writer.release(this);
    } catch (err) {
      await this.#fail(err);
    }
  }

  /**
   * The store with synchronous calls for everything but the fsyncs (thread pool, and the folder
   * one group-committed): the body is in memory.
   */
  async #commitInline(): Promise<void> {
    const data = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks);
    const timing = { inlineMs: 0 };
    try {
      try {
        await this.#storeInline(data, timing);
      } catch (err) {
        // A full disk with spares holding space: they go, and the store is tried once more.
        if (!isDiskFull(err) || !this.#writer.releaseSpares()) throw err;
        await this.#storeInline(data, timing);
      }
    } catch (err) {
      throw err instanceof SpoolError
        ? err
        : new SpoolError(SpoolErrorKind.Storage, (err as Error).message, err);
    } finally {
      this.#done = true;
      this.#chunks = [];
      this.#writer.release(this);
      this.#writer.inlineTook(timing.inlineMs);
    }
  }

  /** One attempt of the inline store; on failure nothing of it is left on disk. */
  async #storeInline(data: Buffer | undefined, timing: { inlineMs: number }): Promise<void> {
    const always = this.#writer.options.sync === 'always';
    let t = performance.now();
    let temp: Buffer | undefined;
    let fd: number | undefined;
    try {
      const opened = this.#writer.openTempSync(this.dir, this.name);
      temp = opened.path;
      fd = opened.fd;
      for (let off = 0; data && off < data.length;) {
        off += fs.writeSync(fd, data, off, data.length - off);
      }
      if (opened.reused) fs.ftruncateSync(fd, data?.length ?? 0);
      if (always) {
        timing.inlineMs += performance.now() - t;
        await fsyncFd(fd);
        t = performance.now();
      }
      fs.closeSync(fd);
      fd = undefined;
      if (this.#writer.options.overwrite) {
        fs.renameSync(temp, this.finalPath);
      } else {
        try {
          fs.linkSync(temp, this.finalPath);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
            throw new SpoolError(SpoolErrorKind.Exists, 'file already exists', err);
          }
          throw err;
        }
        unlinkQuietly(temp);
      }
      temp = undefined;
      timing.inlineMs += performance.now() - t;
      if (always) await this.#writer.dirSyncer.sync(this.dir);
    } catch (err) {
      timing.inlineMs += performance.now() - t;
      if (fd !== undefined) closeQuietly(fd);
      if (temp) unlinkQuietly(temp);
      throw err;
    }
  }

  /** Sink mode: the whole body goes to the sink; a spilled temp file is removed either way. */
  async #deliver(sink: FileSink): Promise<void> {
    try {
      let data: Buffer;
      if (this.#fd === undefined) {
        data = Buffer.concat(this.#chunks, this.#bufferedBytes);
      } else {
        await this.#flushToDisk();
        // The temp file is open write-only: read it back by its name.
        if (this.#tempPath === undefined) throw new Error('no temp file');
        data = await fs.promises.readFile(this.#tempPath);
      }
      this.#chunks = [];
      await sink.deliver(this.name, data);
    } catch (err) {
      await this.#fail(err);
    }
    this.#done = true;
    await this.#cleanup();
  }

  async #fail(err: unknown): Promise<never> {
    this.#done = true;
    this.#chunks = [];
    await this.#cleanup();
    if (err instanceof SpoolError) throw err;
    throw new SpoolError(SpoolErrorKind.Storage, (err as Error).message, err);
  }

  async #cleanup(): Promise<void> {
    const fd = this.#fd;
    const temp = this.#tempPath;
    this.#fd = undefined;
    this.#tempPath = undefined;
    if (fd !== undefined) await closeFd(fd).catch(ignore);
    if (temp !== undefined) await unlinkPath(temp).catch(ignore);
    this.#writer.release(this);
  }
}

/** Names `SpoolWriter.tempPath` produces: `.<name>.<8 hex><counter>.tmp`. */
const TEMP_NAME = /^\..*\.[0-9a-f]{8}[0-9a-z]+\.tmp$/s;

/**
 * Removes temp files a crashed process left behind in `dirs`, once they are older than
 * `olderThanMs` (so the live temp files of another server sharing the folder are safe).
 * Returns how many were removed; unreadable folders are skipped.
 */
export async function sweepStaleTempFiles(
  dirs: readonly string[],
  olderThanMs: number,
): Promise<number> {
  const cutoff = Date.now() - olderThanMs;
  let removed = 0;
  for (const dir of dirs) {
    const base = Buffer.from(dir, 'utf8');
    let names: Buffer[];
    try {
      names = await fs.promises.readdir(base, { encoding: 'buffer' });
    } catch {
      continue;
    }
    for (const name of names) {
      if (name[0] !== 0x2e || !TEMP_NAME.test(name.toString('latin1'))) continue;
      const path = Buffer.concat([base, SLASH, name]);
      try {
        const st = await fs.promises.lstat(path);
        if (st.isFile() && st.mtimeMs < cutoff) {
          await fs.promises.unlink(path);
          removed++;
        }
      } catch {
        // vanished meanwhile
      }
    }
  }
  return removed;
}
