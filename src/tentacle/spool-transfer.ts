import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import {
  closeFd,
  closeQuietly,
  fstatFd,
  fsyncFd,
  ftruncateFd,
  linkPath,
  renamePath,
  unlinkPath,
  unlinkQuietly,
  writeAllFd,
} from '../core/index.js';
import type { FileSink } from './file-sink.js';
import { isDiskFull, SpoolError, SpoolErrorKind } from './spool-error.js';
import type { SpoolWriter } from './spool-writer.js';

/** Bodies up to this size are written with a single write at commit. */
export const MEMORY_BUFFER_BYTES = 64 * 1024;

const SLASH = Buffer.from('/', 'latin1');

function ignore(): void {
  // best-effort cleanup
}

/** A body stored from memory and the stored file's mtime (what a reader of it would see). */
export interface StoredBody {
  readonly bytes: Buffer;
  readonly mtimeMs: number;
}

/**
 * One file being stored, in the sequence spool-writer.ts describes: a small body stays in
 * memory and is stored inline at commit; a larger one streams to the temp file as it arrives.
 */
// Calls must not overlap: await each before the next.
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
  #stored: StoredBody | undefined;

  constructor(writer: SpoolWriter, dir: Buffer, name: Buffer) {
    this.#writer = writer;
    this.dir = dir;
    this.name = name;
    this.finalPath = Buffer.concat([dir, SLASH, name]);
  }

  /**
   * After a commit from memory with `keepStored`: the body and the file's mtime; the file under
   * its final name holds exactly these bytes. Otherwise undefined.
   */
  get stored(): StoredBody | undefined {
    return this.#stored;
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
    const { sync, overwrite, keepStored } = this.#writer.options;
    try {
      // A body still whole in memory is kept for `stored` (thread-pool twin of the inline path).
      const whole = keepStored && this.#fd === undefined ? Buffer.concat(this.#chunks) : undefined;
      if (whole) this.#chunks = [whole];
      await this.#flushToDisk();
      const fd = this.#fd;
      const temp = this.#tempPath;
      if (fd === undefined || temp === undefined) throw new Error('no temp file');
      if (this.#reused) await ftruncateFd(fd, this.#written);
      const mtimeMs = whole ? (await fstatFd(fd)).mtimeMs : undefined;
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
      if (whole && mtimeMs !== undefined) this.#stored = { bytes: whole, mtimeMs };
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
      // The last change of the file's content: its mtime identifies these bytes to the reader.
      const mtimeMs = this.#writer.options.keepStored ? fs.fstatSync(fd).mtimeMs : undefined;
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
      if (mtimeMs !== undefined && data) this.#stored = { bytes: data, mtimeMs };
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
      let size: number;
      let read: () => Promise<Buffer>;
      if (this.#fd === undefined) {
        const data = Buffer.concat(this.#chunks, this.#bufferedBytes);
        size = data.length;
        read = () => Promise.resolve(data);
      } else {
        await this.#flushToDisk();
        // The temp file is open write-only: read it back by its name, once the sink asks.
        const temp = this.#tempPath;
        if (temp === undefined) throw new Error('no temp file');
        size = this.#written;
        // A reused spare may be longer than what this upload wrote.
        read = async () => (await fs.promises.readFile(temp)).subarray(0, size);
      }
      this.#chunks = [];
      await sink.deliver(this.name, size, read);
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
