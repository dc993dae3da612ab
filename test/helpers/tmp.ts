import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary folder and its cleanup. */
export function tempDir(prefix = 'ti-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {
    path,
    cleanup: () => {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** A fresh tmpfs of `size` (e.g. '64k') mounted on a temp folder, unmounted after the test. */
export function tinyTmpfs(t: { after(fn: () => void): void }, size: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tentacle-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  t.after(() => {
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Whether this process may mount a tmpfs (root, or CAP_SYS_ADMIN). */
export function canMountTmpfs(): boolean {
  try {
    tinyTmpfs(
      {
        after: (fn) => {
          fn();
        },
      },
      '16k',
    );
    return true;
  } catch {
    return false;
  }
}

/** A describe/test `skip` value: false where a tmpfs can be mounted, else the reason. */
export const TMPFS_SKIP = canMountTmpfs() ? false : 'mounting a tmpfs needs root';
