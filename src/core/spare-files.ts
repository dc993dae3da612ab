import fs, { constants as fsConstants } from 'node:fs';
import { zeroSeries } from './metrics.js';
import * as fsp from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, type Registry } from 'prom-client';
import { DirSyncer } from './dir-syncer.js';
import { closeFd, fchmodFd, fstatFd, openFd } from './fd-calls.js';
import { closeQuietly, unlinkQuietly } from './quiet-fs.js';

/**
 * Spare files: spool files the dataserver has finished with are kept, renamed into a folder of
 * their own, and the Tentacle listener writes the next upload into one of them instead of
 * creating a file. The spool then recycles a fixed set of inodes.
 *
 * Why: ext4 without a journal (common on cloud VMs, this project's machine among them) will not
 * hand out an inode freed less than 60 s ago, or 360 s while its inode table block is dirty
 * (kernel `recently_deleted()`); each allocation walks past every such inode of the group under
 * the group lock. A spool that creates and deletes a thousand files a second keeps its groups full
 * of them: a create cost 200-900 µs of kernel CPU there, against 13 µs when reusing (measured
 * with the end-to-end bench, where inode allocation was about a third of the machine's CPU).
 * Elsewhere reuse costs about what create+unlink costs, so it is on by default.
 *
 * Safety: a spare is adopted only when, once its spare name is gone, it is a regular file of
 * ours with exactly one name (a crash between link and unlink can leave two names on one inode;
 * writing into it would change the other). The caller writes from offset 0 and truncates to the
 * new length before the file gets its final name, so no old byte survives and no reader sees one.
 * A retired file becomes a spare only after the folder it left is fsynced: a stale name cannot
 * come back after a power loss pointing at an inode that holds a newer upload.
 *
 * Disk pressure: spares hold blocks and inodes, so they must never be what keeps a spool full.
 * Below the free-space floor no file is kept and the pool is released; an upload meeting ENOSPC
 * releases it too (SpoolWriter.releaseSpares) and is retried once.
 */
/** `<incomingdir>/.spare/<servername>`: one server's spares, beside its spool. */
export function spareDirOf(incomingDir: string, serverName: string): string {
  return join(incomingDir, '.spare', serverName);
}

export interface SpareFilesOptions {
  /** Folder of this server's spares, on the spool's filesystem (created). */
  readonly dir: string;
  /** Spares kept at most; past it, finished files are unlinked as before. */
  readonly capacity: number;
  /** Larger finished files are unlinked, not kept (their blocks would sit idle). */
  readonly maxBytes: number;
  readonly registry?: Registry | undefined;
  /** Folder fsyncs of the claim folders that retired files leave (shared, or one of its own). */
  readonly dirSyncer?: DirSyncer | undefined;
  /**
   * Free share of the filesystem (blocks and inodes, 0..1) below which no spare is kept and the
   * pool is released: spares must never be what keeps a spool full. 0 = no floor.
   */
  readonly minFreeRatio?: number | undefined;
}

/** Why the pool was released (the label of pandora_spool_spare_files_released_total). */
export type SpareReleaseReason = 'enospc' | 'low_space';

/** How long one free-space reading stands (statfs on every finished file would be waste). */
const FREE_SPACE_CHECK_MS = 100;

export class SpareFiles {
  readonly dir: string;
  readonly #capacity: number;
  readonly #maxBytes: number;
  readonly #spares: Buffer[] = [];
  /** Renames into the spare folder under way (counted against the capacity). */
  #retiring = 0;
  readonly #tag = randomBytes(4).toString('hex');
  #counter = 0;
  readonly #uid = process.geteuid?.() ?? -1;
  readonly #dirSyncer: DirSyncer;
  readonly #reused: Counter | undefined;
  readonly #released: Counter<'reason'> | undefined;
  readonly #minFreeRatio: number;
  #freeCheckedAt = -Infinity;
  #lowOnSpace = false;
  #checking = false;
  #recheck: NodeJS.Timeout | undefined;

  constructor(options: SpareFilesOptions) {
    this.dir = options.dir;
    this.#capacity = options.capacity;
    this.#maxBytes = options.maxBytes;
    this.#dirSyncer = options.dirSyncer ?? new DirSyncer();
    this.#minFreeRatio = options.minFreeRatio ?? 0;
    fs.mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    // Spares a previous run left: adopted (take() checks each before use).
    const base = Buffer.from(options.dir, 'utf8');
    for (const entry of fs.readdirSync(base, { withFileTypes: true, encoding: 'buffer' })) {
      const path = Buffer.concat([base, SLASH, entry.name]);
      if (entry.isFile() && this.#spares.length < this.#capacity) this.#spares.push(path);
      else if (entry.isFile()) unlinkQuietly(path);
    }
    if (options.registry) {
      const spares = this.#spares;
      new Gauge({
        name: 'pandora_spool_spare_files',
        help: 'Finished spool files kept for reuse by the next uploads (inode recycling)',
        registers: [options.registry],
        collect() {
          this.set(spares.length);
        },
      });
      this.#reused = new Counter({
        name: 'pandora_spool_spare_files_reused_total',
        help: 'Uploads written into a spare file instead of a newly created one',
        registers: [options.registry],
      });
      this.#released = new Counter({
        name: 'pandora_spool_spare_files_released_total',
        help: 'Spare files removed to give their space back (enospc: an upload found the disk full; low_space: free space under spool_min_free)',
        labelNames: ['reason'] as const,
        registers: [options.registry],
      });
      zeroSeries(this.#released, [{ reason: 'enospc' }, { reason: 'low_space' }]);
    }
  }

  /**
   * Removes every spare now, giving their blocks and inodes back (an upload met ENOSPC, or free
   * space is under the floor). Returns how many were removed. Spares being retired meanwhile
   * are not counted; they land later and are checked against the floor then.
   */
  releaseAll(reason: SpareReleaseReason): number {
    if (reason === 'enospc' && this.#minFreeRatio > 0) {
      // A full disk is below any floor: keep nothing until the next reading says otherwise.
      this.#lowOnSpace = true;
      this.#freeCheckedAt = performance.now();
    }
    const released = this.#spares.splice(0);
    for (const path of released) unlinkQuietly(path);
    if (released.length > 0) this.#released?.labels(reason).inc(released.length);
    return released.length;
  }

  /**
   * Whether the spool's filesystem was last seen with less free space (or fewer free inodes)
   * than the floor. The reading is refreshed in the background (statfs on the thread pool: an
   * NFS spool must not stall the event loop) when older than FREE_SPACE_CHECK_MS, and once more
   * that long after a burst of finished files, so the last ones of a drain are judged too; a
   * refresh that finds the floor crossed releases the pool.
   */
  #underFloor(): boolean {
    if (this.#minFreeRatio <= 0) return false;
    if (performance.now() - this.#freeCheckedAt >= FREE_SPACE_CHECK_MS) this.#refreshFreeSpace();
    else if (this.#recheck === undefined)
      this.#recheck = setTimeout(() => {
        this.#recheck = undefined;
        this.#refreshFreeSpace();
      }, FREE_SPACE_CHECK_MS).unref();
    return this.#lowOnSpace;
  }

  #refreshFreeSpace(): void {
    if (this.#checking) return;
    this.#checking = true;
    this.#freeCheckedAt = performance.now();
    fs.statfs(this.dir, (err, st) => {
      this.#checking = false;
      // Unknown (statfs failed) counts as enough: spares still give way at ENOSPC.
      const blocksLow = !err && st.blocks > 0 && st.bavail / st.blocks < this.#minFreeRatio;
      const inodesLow = !err && st.files > 0 && st.ffree / st.files < this.#minFreeRatio;
      this.#lowOnSpace = blocksLow || inodesLow;
      if (this.#lowOnSpace) this.releaseAll('low_space');
    });
  }

  get count(): number {
    return this.#spares.length;
  }

  /**
   * Moves a spare to `target` (which must not exist) and opens it for writing, with `mode`.
   * Returns the fd, or undefined when no usable spare is at hand (the caller creates a file).
   * Throws EEXIST when `target` exists, like an O_EXCL open.
   */
  takeSync(target: Buffer, mode: number): number | undefined {
    for (;;) {
      const spare = this.#spares.pop();
      if (spare === undefined) return undefined;
      try {
        fs.linkSync(spare, target);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // ENOENT is also a missing target folder (a filter folder nobody made): then the spare
        // stays, and the caller's own open reports the error.
        if (code === 'ENOENT' && !fs.existsSync(spare)) continue; // removed behind our back
        this.#spares.push(spare);
        if (code === 'EEXIST') throw err;
        return undefined; // EXDEV (another filesystem), EPERM, ...: create instead
      }
      unlinkQuietly(spare);
      const fd = this.#adopt(target, mode);
      if (fd !== undefined) {
        this.#reused?.inc();
        return fd;
      }
    }
  }

  /** takeSync on the thread pool (the listener's non-inline stores). */
  async take(target: Buffer, mode: number): Promise<number | undefined> {
    for (;;) {
      const spare = this.#spares.pop();
      if (spare === undefined) return undefined;
      try {
        await fsp.link(spare, target);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' && !(await exists(spare))) continue;
        this.#spares.push(spare);
        if (code === 'EEXIST') throw err;
        return undefined;
      }
      await fsp.unlink(spare).catch(ignore);
      const fd = await this.#adoptAsync(target, mode);
      if (fd !== undefined) {
        this.#reused?.inc();
        return fd;
      }
    }
  }

  /**
   * A finished file: kept as a spare while there is room and it is small, else unlinked.
   * Never throws for a file that is already gone.
   */
  retire(path: string, size: number): Promise<void> {
    if (size > this.#maxBytes || this.#spares.length + this.#retiring >= this.#capacity) {
      return unlinkAsync(path);
    }
    if (this.#underFloor()) {
      // A drained backlog must leave free space behind, not a pool of spares holding it.
      this.releaseAll('low_space');
      return unlinkAsync(path);
    }
    this.#retiring++;
    const spare = join(this.dir, `${this.#tag}${(this.#counter++).toString(36)}`);
    return new Promise<void>((resolve, reject) => {
      fs.rename(path, spare, (err) => {
        if (err) {
          this.#retiring--;
          // Including ENOENT, which may be the spare folder gone rather than the file: the
          // finished file must leave the claim folder either way.
          unlinkAsync(path).then(resolve, reject);
          return;
        }
        // Reusable only once its old name is gone for good: without a journal, a power loss
        // could bring the claim name back on this inode holding a newer upload (then processed
        // twice). One group-committed folder fsync covers every file of a batch.
        this.#dirSyncer.sync(Buffer.from(dirname(path), 'utf8')).then(
          () => {
            this.#retiring--;
            // The floor may have been crossed while it was on its way (releaseAll missed it).
            if (this.#lowOnSpace) unlinkQuietly(Buffer.from(spare, 'utf8'));
            else this.#spares.push(Buffer.from(spare, 'utf8'));
            resolve();
          },
          () => {
            this.#retiring--;
            unlinkQuietly(Buffer.from(spare, 'utf8'));
            resolve();
          },
        );
      });
    });
  }

  async #adoptAsync(target: Buffer, mode: number): Promise<number | undefined> {
    let fd: number | undefined;
    try {
      // Plain descriptors, not FileHandles: the caller closes it, and a dropped FileHandle
      // would be closed behind its back on garbage collection.
      fd = await openFd(target, fsConstants.O_WRONLY | fsConstants.O_NOFOLLOW);
      const st = await fstatFd(fd);
      if (!this.#reusable(st)) throw new Error('not reusable');
      if ((st.mode & 0o7777) !== mode) await fchmodFd(fd, mode);
      return fd;
    } catch {
      if (fd !== undefined) await closeFd(fd).catch(ignore);
      await fsp.unlink(target).catch(ignore);
      return undefined;
    }
  }

  #reusable(st: fs.Stats): boolean {
    return st.isFile() && st.nlink === 1 && (this.#uid < 0 || st.uid === this.#uid);
  }

  /** The spare now at `target`, opened; undefined (and removed) when it is not safe to reuse. */
  #adopt(target: Buffer, mode: number): number | undefined {
    let fd: number | undefined;
    try {
      fd = fs.openSync(target, fsConstants.O_WRONLY | fsConstants.O_NOFOLLOW);
      const st = fs.fstatSync(fd);
      if (!this.#reusable(st)) throw new Error('not reusable');
      if ((st.mode & 0o7777) !== mode) fs.fchmodSync(fd, mode);
      return fd;
    } catch {
      if (fd !== undefined) closeQuietly(fd);
      unlinkQuietly(target);
      return undefined;
    }
  }
}

const SLASH = Buffer.from('/', 'latin1');

async function exists(path: Buffer): Promise<boolean> {
  try {
    await fsp.lstat(path);
    return true;
  } catch {
    return false;
  }
}

function ignore(): void {
  // best effort
}

function unlinkAsync(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.unlink(path, (err) => {
      if (!err || err.code === 'ENOENT') resolve();
      else reject(err);
    });
  });
}
