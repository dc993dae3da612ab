/**
 * Compiles the server with `tsc` into a private temporary folder, so the bench can measure the
 * production artefact (plain JavaScript, no tsx loader in the process) without touching the
 * shared `dist/`. The folder gets a `package.json` (ESM) and a link to `node_modules`.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './server-process.js';

const BUILD_TIMEOUT_MS = 180_000;

/** Returns the compiled `main.js`; tsc's type errors do not stop it from emitting. */
export function buildServer(): { entry: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'bench-build-'));
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--outDir', dir], {
      cwd: REPO_ROOT,
      stdio: 'ignore',
      timeout: BUILD_TIMEOUT_MS,
    });
  } catch {
    // Type errors elsewhere in the tree still leave emitted JavaScript behind.
  }
  copyFileSync(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return { entry: join(dir, 'src', 'main.js'), dir };
}
