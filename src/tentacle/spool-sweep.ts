import fs from 'node:fs';

const SLASH = Buffer.from('/', 'latin1');

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
