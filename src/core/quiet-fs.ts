import fs from 'node:fs';

/** Best-effort cleanup: the file may already be gone, and the caller has a real error to report. */
export function unlinkQuietly(path: Buffer): void {
  try {
    fs.unlinkSync(path);
  } catch {
    // best-effort cleanup
  }
}

/** Best-effort close on an error path. */
export function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // best-effort cleanup
  }
}
