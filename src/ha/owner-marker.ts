import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../core/index.js';
import type { HaCoordinator } from './coordinator.js';

/** File in the incoming folder naming the server that owns it (ha.md §4.3). */
export const OWNER_FILE = '.owner';

interface OwnerRecord {
  readonly server: string;
  readonly instance: string;
}

/**
 * Detects two servers sharing one incoming folder by mistake: each server writes its name into
 * `<incomingdir>/.owner` and re-reads it on every readiness check. When the file names another
 * server that is live, this one reports `shared-incomingdir` (not ready) and logs an error once;
 * a marker left by a dead or stopped server is taken over. Device numbers and realpaths are not
 * comparable across hosts on network filesystems, so the folder's content is the only witness.
 */
export function createOwnerMarkerCheck(
  config: { incomingDir: string; serverName: string },
  deps: { coordinator: HaCoordinator; log: Logger },
): () => Promise<string | undefined> {
  const path = join(config.incomingDir, OWNER_FILE);
  const mine: OwnerRecord = {
    server: config.serverName,
    instance: deps.coordinator.membership.instanceId,
  };
  let reported = false;

  async function claim(): Promise<void> {
    const tmp = `${path}.${mine.instance}.tmp`;
    await writeFile(tmp, `${JSON.stringify(mine)}\n`);
    await rename(tmp, path);
  }

  async function read(): Promise<OwnerRecord | undefined> {
    try {
      const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<OwnerRecord>;
      if (typeof parsed.server === 'string' && typeof parsed.instance === 'string') {
        return { server: parsed.server, instance: parsed.instance };
      }
    } catch {
      // missing or unreadable: claim it below
    }
    return undefined;
  }

  return async () => {
    const owner = await read();
    if (owner?.server === mine.server) return undefined;
    const other = owner && deps.coordinator.snapshot().peers.find((p) => p.name === owner.server);
    if (other?.isLive) {
      if (!reported) {
        deps.log.error(
          { event: 'sharedIncomingDir', dir: config.incomingDir, other: other.name },
          `incoming folder ${config.incomingDir} is also used by live server ${other.name}; ` +
            'give every server its own incomingdir',
        );
        reported = true;
      }
      return 'shared-incomingdir';
    }
    try {
      await claim();
    } catch {
      return undefined; // an unwritable spool is the spool check's reason, not ours
    }
    reported = false;
    return undefined;
  };
}
