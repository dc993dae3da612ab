import { link, mkdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../core/index.js';
import type { Outbox, OutboxFile } from './buffer.js';

/** Hidden folders inside the watched folder (hidden names are never shipped themselves). */
export const PRIMARY_QUEUE_DIR = '.primary';
export const SECONDARY_QUEUE_DIR = '.secondary';
export const REJECTED_DIR = '.rejected';

/** True when `path` does not exist or is the same file (inode) as `original`. */
async function isFreeOrSame(path: string, original: string): Promise<boolean> {
  const [existing, source] = await Promise.all([
    stat(path).catch(() => undefined),
    stat(original).catch(() => undefined),
  ]);
  if (!existing) return true;
  return source !== undefined && existing.ino === source.ino && existing.dev === source.dev;
}

/** Moves a file every target refused into `dir/.rejected/`, keeping any copy already there. */
export async function setAside(
  dir: string,
  file: OutboxFile,
  reason: string,
  log: Logger,
): Promise<void> {
  const rejected = join(dir, REJECTED_DIR);
  await mkdir(rejected, { recursive: true });
  const target = join(rejected, file.name);
  // The other lane's copy (a hard link) may be there already: then this one just goes.
  // (rename() between two links of one file is a no-op, so it cannot be used for that.)
  if (!(await isFreeOrSame(target, file.path))) {
    await rename(file.path, `${target}.${Date.now()}`);
  } else if (await stat(target).catch(() => undefined)) {
    await unlink(file.path);
  } else {
    await rename(file.path, target);
  }
  log.error({ file: file.name, reason }, 'every target refused the file; moved to .rejected');
}

/**
 * `always`: hand each settled inbox file to both queues (link first: a crash in between keeps
 * both copies). A name still waiting in a queue from an earlier file of the same name stays in
 * the inbox until that one is gone, so neither copy is overwritten.
 */
export async function fanOutInbox(
  dir: string,
  inbox: Outbox,
  settled: (file: OutboxFile) => boolean,
): Promise<void> {
  for (const file of await inbox.list()) {
    if (!settled(file)) continue;
    const secondaryCopy = join(dir, SECONDARY_QUEUE_DIR, file.name);
    const primaryCopy = join(dir, PRIMARY_QUEUE_DIR, file.name);
    if (!(await isFreeOrSame(primaryCopy, file.path))) continue;
    try {
      await link(file.path, secondaryCopy);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
      if (!(await isFreeOrSame(secondaryCopy, file.path))) continue;
    }
    await rename(file.path, primaryCopy);
  }
}
