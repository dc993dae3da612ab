import { randomUUID } from 'node:crypto';
import { link, readdir, realpath, rename, rm, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { isPathSegment, spareDirOf } from '../core/index.js';
import { isDataFileName } from '../pandora/index.js';
import type { FencedContext } from './coordinator.js';

/** Staged names never match the data-file rule (no `.data` ending), so no scanner takes them. */
const STAGE_PREFIX = '.adopt-';
const STAGE_SUFFIX = '.adopting';
const UUID_CHARS = 36;

export interface FolderTakeoverConfig {
  /** Our own incoming folder: adopted files are queued here for our dataserver. */
  readonly incomingDir: string;
  readonly serverName: string;
  readonly memberDeadAfterMs: number;
}

export interface Adoption {
  readonly peer: string;
  readonly moved: number;
  /** Files left staged because a file of the same name is already queued here. */
  readonly collisions: number;
}

/**
 * A dead peer's spare files (core/spare-files.ts) are only blocks for it to reuse: one that never
 * returns would leave them on the shared disk for good, and one that returns (or was only cut
 * off from the database) finds none and creates files instead. Best effort, after its data
 * files moved: a folder we may not remove (another uid) must not stop the adoption.
 */
async function removeSpares(peerDir: string, peer: string): Promise<void> {
  if (!isPathSegment(peer)) return; // a name read from the database must not climb out
  await rm(spareDirOf(peerDir, peer), { recursive: true, force: true, maxRetries: 2 }).catch(
    () => undefined,
  );
}

function isMissing(err: unknown): boolean {
  return (err as { code?: unknown }).code === 'ENOENT';
}

async function listDataFiles(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isFile() && isDataFileName(e.name)).map((e) => e.name);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
}

/**
 * Gives a staged file its real name in our folder without ever overwriting: `link` fails on an
 * existing name (POSIX `rename` would silently replace it). Returns false on a name collision.
 */
async function finalize(incomingDir: string, staged: string): Promise<boolean> {
  const name = staged.slice(STAGE_PREFIX.length + UUID_CHARS + 1, -STAGE_SUFFIX.length);
  try {
    await link(join(incomingDir, staged), join(incomingDir, name));
  } catch (err) {
    if ((err as { code?: unknown }).code === 'EEXIST') return false;
    throw err;
  }
  await unlink(join(incomingDir, staged));
  return true;
}

/** Finishes adoptions a crash interrupted between the two steps. Returns the collisions left. */
export async function finishStagedAdoptions(incomingDir: string): Promise<number> {
  let collisions = 0;
  for (const name of await readdir(incomingDir)) {
    if (!name.startsWith(STAGE_PREFIX) || !name.endsWith(STAGE_SUFFIX)) continue;
    if (!(await finalize(incomingDir, name))) collisions++;
  }
  return collisions;
}

/**
 * Master duty (ha.md §4.3–4.5): with incoming folders on shared storage, re-queue the files a
 * dead peer had accepted, both still queued and claimed by it (`.processing/<peer>/`), into our
 * own folder, where our dataserver processes them. Runs inside a fenced transaction, so only the
 * current master adopts. Each file moves by one atomic `rename` (the same primitive the
 * dataserver claims with), so a file is taken by exactly one process even if the peer comes back
 * meanwhile; claimed files that were half-processed are caught by the dataserver's ledger.
 * The dead peer's spare files are removed. A peer folder that is not reachable from here (local
 * disks) is skipped: it waits for its owner.
 */
export async function adoptDeadPeerFolders(
  ctx: FencedContext,
  config: FolderTakeoverConfig,
): Promise<Adoption[]> {
  const ownDir = await realpath(config.incomingDir);
  await finishStagedAdoptions(ownDir);
  const [rows] = await ctx.conn.query<RowDataPacket[]>(
    `SELECT server_name, incoming_dir FROM tha_member
     WHERE server_name <> ? AND incoming_dir <> ''
       AND (state = 'stopped' OR last_seen < NOW(3) - INTERVAL ? MICROSECOND)`,
    [config.serverName, config.memberDeadAfterMs * 1000],
  );
  const adoptions: Adoption[] = [];
  for (const row of rows) {
    const peer = String(row['server_name']);
    let peerDir: string;
    try {
      peerDir = await realpath(resolve(String(row['incoming_dir'])));
    } catch {
      continue; // not on storage we share
    }
    if (peerDir === ownDir) {
      await removeSpares(peerDir, peer);
      continue; // a shared incomingdir: the atomic claim already covers it
    }
    let moved = 0;
    let collisions = 0;
    for (const dir of [join(peerDir, '.processing', peer), peerDir]) {
      for (const name of await listDataFiles(dir)) {
        const staged = `${STAGE_PREFIX}${randomUUID()}-${name}${STAGE_SUFFIX}`;
        try {
          await rename(join(dir, name), join(ownDir, staged));
        } catch (err) {
          if (isMissing(err)) continue; // taken by its owner or another adopter first
          throw err;
        }
        if (await finalize(ownDir, staged)) moved++;
        else collisions++;
      }
    }
    await removeSpares(peerDir, peer);
    if (moved + collisions > 0) adoptions.push({ peer, moved, collisions });
  }
  return adoptions;
}
