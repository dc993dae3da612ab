import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../core/index.js';

/**
 * Pandora's `-P <file>`: the process id is written at start and the file removed at exit, but
 * only while it still holds our id (a successor may have written its own meanwhile).
 */
export function writePidFile(path: string): void {
  try {
    writeFileSync(path, `${String(process.pid)}\n`, { mode: 0o644 });
  } catch (err) {
    throw new ConfigError(`cannot write the PID file ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  process.once('exit', () => {
    removePidFile(path);
  });
}

export function removePidFile(path: string): void {
  try {
    if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path, { force: true });
  } catch {
    // Already gone or unreadable: nothing of ours to remove.
  }
}
