import { mkdirSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
// The callback API costs a fraction of node:fs/promises (no FileHandle per call), which shows at
// thousands of files per second on the per-file path: claim, read, remove.
import { join } from 'node:path';
import {
  closeFd,
  fstatFd,
  openFd,
  readFd,
  renamePath,
  unlinkPath,
  type SpareFiles,
} from '../../core/index.js';
import { agentKeyOf } from '../../pandora/index.js';
import type { FileStore } from '../stages/intake.js';

export interface SpoolEntry {
  readonly name: string;
  readonly key: string;
  readonly mtimeMs: number;
}

/** Suffix the reference gives unparsable files; the console counts files ending in it. */
export const BADXML_SUFFIX = '_BADXML';
/** Files the database refuses for a reason other than an outage (kept for an operator). */
export const FAILED_SUFFIX = '_FAILED';

function isMissing(err: unknown): boolean {
  return (err as { code?: unknown }).code === 'ENOENT';
}

/**
 * The spool folder and this server's claim folder `.processing/<servername>/` (ha.md §4.4). A
 * file is claimed by an atomic rename into the claim folder, so two processes scanning one
 * folder by mistake still never both take a file; it leaves the claim folder only after its
 * batch commits (deleted) or when it is refused (renamed back with a suffix).
 */
export interface SpoolDir extends FileStore {
  readonly incomingDir: string;
  readonly claimDir: string;
  /** Matching files in the spool, stat'ed; files that vanish meanwhile are skipped. */
  list(limit: number, skip: ReadonlySet<string>): Promise<SpoolEntry[]>;
  /** One file by name (a watcher or Tentacle event); undefined when not a data file or gone. */
  entry(name: string): Promise<SpoolEntry | undefined>;
  /** Files left claimed by a previous run of this server (crash recovery, spec §9 case 68). */
  listClaimed(): Promise<SpoolEntry[]>;
  // claim, readClaimed, remove, reject: see FileStore. `remove` keeps the file as a spare for the
  // next upload when spares are on and `size` is known (core/spare-files.ts); `reject` renames it
  // back into the spool as `<name><suffix>`.
}

export function createSpoolDir(
  incomingDir: string,
  serverName: string,
  spares?: SpareFiles,
): SpoolDir {
  const claimDir = join(incomingDir, '.processing', serverName);
  mkdirSync(claimDir, { recursive: true });

  async function statEntry(dir: string, name: string): Promise<SpoolEntry | undefined> {
    const key = agentKeyOf(name);
    if (key === undefined) return undefined;
    try {
      const st = await stat(join(dir, name));
      return st.isFile() ? { name, key, mtimeMs: st.mtimeMs } : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async function listDir(dir: string, limit: number, skip: ReadonlySet<string>) {
    const names: string[] = [];
    for (const dirent of await readdir(dir, { withFileTypes: true })) {
      if (names.length >= limit) break;
      if (!dirent.isFile() || skip.has(dirent.name)) continue;
      if (agentKeyOf(dirent.name) !== undefined) names.push(dirent.name);
    }
    const entries = await Promise.all(names.map((name) => statEntry(dir, name)));
    return entries.filter((e): e is SpoolEntry => e !== undefined);
  }

  return {
    incomingDir,
    claimDir,
    list: (limit, skip) => listDir(incomingDir, limit, skip),
    entry: (name) => statEntry(incomingDir, name),
    listClaimed: () => listDir(claimDir, Number.MAX_SAFE_INTEGER, new Set()),
    async claim(name) {
      try {
        await renamePath(join(incomingDir, name), join(claimDir, name));
        return true;
      } catch (err) {
        if (isMissing(err)) return false;
        throw err;
      }
    },
    async readClaimed(name, maxBytes, admit) {
      const fd = await openFd(join(claimDir, name), 'r');
      try {
        const { size } = await fstatFd(fd);
        if (size > maxBytes) return { tooLarge: size };
        await admit?.(size);
        const bytes = Buffer.allocUnsafeSlow(size);
        let filled = 0;
        while (filled < size) {
          const bytesRead = await readFd(fd, bytes, filled, size - filled, filled);
          if (bytesRead === 0) break; // shrank meanwhile: parse what is there
          filled += bytesRead;
        }
        return filled === size ? bytes : bytes.subarray(0, filled);
      } finally {
        await closeFd(fd);
      }
    },
    async remove(name, size) {
      if (spares && size !== undefined) {
        await spares.retire(join(claimDir, name), size);
        return;
      }
      try {
        await unlinkPath(join(claimDir, name));
      } catch (err) {
        if (!isMissing(err)) throw err;
      }
    },
    async reject(name, suffix) {
      await renamePath(join(claimDir, name), join(incomingDir, name + suffix));
    },
    keptAs: (name, suffix) => `as '${name}${suffix}'`,
  };
}
