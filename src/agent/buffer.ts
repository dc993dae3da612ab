import {
  lstat,
  mkdir,
  readFile,
  readdir,
  rename,
  rm,
  statfs,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../core/index.js';
import type { BufferLimits } from './config.js';

/**
 * An outbox: a folder of files waiting for one delivery lane. Files keep their exact names (the server
 * stores them under those names); order is by the number before `.data` (seconds normalised to
 * milliseconds, ha.md §1.8), then by modification time for names without one, then by name.
 * Writers use a hidden temporary name and `rename`, so a half-written file is never listed.
 */
export interface OutboxFile {
  readonly name: string;
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface Outbox {
  readonly dir: string;
  /** Regular files the queue accepts (symlinks never), oldest first. */
  list(): Promise<OutboxFile[]>;
  remove(name: string): Promise<void>;
}

export interface FileBuffer extends Outbox {
  /**
   * Stores a copy of `data` as `name` if the reference's admission rule (ha.md §1.5) allows it;
   * with `drop_oldest` the oldest files make room instead. Returns false when the new file is
   * dropped; either way the decision is logged with the counts.
   */
  admit(name: string, data: Buffer): Promise<boolean>;
}

const SECONDS_NUMBER_LIMIT = 1e11;
const DATA_NUMBER = /[._](\d+)\.data$/;
const TEMPORARY_NAME = /^\.|\.tmp$|\.part$|~$/;

/** The buffer only ever holds agent data files, like the reference's `*.data` passes. */
export function isDataFileName(name: string): boolean {
  return name.endsWith('.data') && !TEMPORARY_NAME.test(name);
}

/** Names a writer is still working on (`.x.tmp`, `x.part`, `x~`, any hidden name). */
export function isTemporaryName(name: string): boolean {
  return TEMPORARY_NAME.test(name);
}

function orderNumber(file: OutboxFile): number {
  const match = DATA_NUMBER.exec(file.name);
  if (!match) return file.mtimeMs;
  const n = Number(match[1]);
  return n < SECONDS_NUMBER_LIMIT ? n * 1000 : n;
}

export function compareOutboxFiles(a: OutboxFile, b: OutboxFile): number {
  const diff = orderNumber(a) - orderNumber(b);
  if (diff !== 0) return diff;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function createOutbox(dir: string, accepts: (name: string) => boolean): Outbox {
  return {
    dir,
    async list() {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (err) {
        if ((err as { code?: string }).code === 'ENOENT') return [];
        throw err;
      }
      const files: OutboxFile[] = [];
      for (const name of names) {
        if (!accepts(name)) continue;
        const path = join(dir, name);
        const stat = await lstat(path).catch(() => undefined);
        if (!stat?.isFile()) continue;
        files.push({ name, path, size: stat.size, mtimeMs: stat.mtimeMs });
      }
      return files.sort(compareOutboxFiles);
    },
    async remove(name) {
      await rm(join(dir, name), { force: true });
    },
  };
}

async function freeMegabytes(dir: string): Promise<number> {
  try {
    const fs = await statfs(dir);
    return (fs.bavail * fs.bsize) / 2 ** 20;
  } catch {
    return 0; // as the reference when `df` fails
  }
}

/** The next free name: the number before `.data` goes up, nothing else changes (ha.md §1.8). */
async function freeName(
  dir: string,
  name: string,
  data: Buffer,
): Promise<{ name: string } | 'same' | 'conflict'> {
  let candidate = name;
  for (;;) {
    const existing = await readFile(join(dir, candidate)).catch(() => undefined);
    if (existing === undefined) return { name: candidate };
    if (existing.equals(data)) return 'same';
    const match = DATA_NUMBER.exec(candidate);
    if (!match) return 'conflict';
    const next = String(Number(match[1]) + 1);
    candidate = candidate.slice(0, match.index + 1) + next + '.data';
  }
}

export function createFileBuffer(
  dir: string,
  limits: BufferLimits,
  logger: Logger,
  accepts: (name: string) => boolean = isDataFileName,
): FileBuffer {
  const queue = createOutbox(dir, accepts);
  const log = logger.child({ buffer: dir });
  /** Files the limits count: every `*.data` and `*.datasent`, as the reference's rule. */
  const counted = createOutbox(
    dir,
    (name) => (name.endsWith('.data') || name.endsWith('.datasent')) && !name.startsWith('.'),
  );

  async function fits(newBytes: number): Promise<{ ok: boolean; files: number; bytes: number }> {
    const files = await counted.list();
    const bytes = files.reduce((sum, f) => sum + f.size, 0);
    const tooMany = limits.maxFiles > 0 && files.length + 1 > limits.maxFiles;
    const tooBig = limits.maxSizeMb > 0 && (bytes + newBytes) / 2 ** 20 > limits.maxSizeMb;
    return { ok: !tooMany && !tooBig, files: files.length, bytes };
  }

  return {
    ...queue,
    async admit(name, data) {
      await mkdir(dir, { recursive: true });
      const freeMb = limits.minFreeMb > 0 ? await freeMegabytes(dir) : Infinity;
      if (freeMb < limits.minFreeMb) {
        log.warn(
          { dropped: name, freeMb: Math.floor(freeMb), minFreeMb: limits.minFreeMb },
          'buffer: not enough free disk, newest file dropped',
        );
        return false;
      }
      let room = await fits(data.length);
      if (!room.ok && limits.overflow === 'drop_oldest') {
        for (const oldest of await counted.list()) {
          await unlink(oldest.path).catch(() => undefined);
          log.warn(
            { dropped: oldest.name, files: room.files, bytes: room.bytes },
            'buffer full: oldest file dropped (drop_oldest)',
          );
          room = await fits(data.length);
          if (room.ok) break;
        }
      }
      if (!room.ok) {
        log.warn(
          {
            dropped: name,
            files: room.files,
            bytes: room.bytes,
            maxFiles: limits.maxFiles,
            maxSizeMb: limits.maxSizeMb,
          },
          'buffer full: newest file dropped, older files kept',
        );
        return false;
      }
      const target = await freeName(dir, name, data);
      if (target === 'same') return true;
      if (target === 'conflict') {
        log.warn({ dropped: name }, 'buffer: another file with this name is waiting; not kept');
        return false;
      }
      const temporary = join(dir, `.${target.name}.${process.pid}.tmp`);
      await writeFile(temporary, data);
      await rename(temporary, join(dir, target.name));
      log.info(
        { file: target.name, files: room.files + 1 },
        'buffer: file kept for a later resend',
      );
      return true;
    },
  };
}
