/**
 * Cleanups run last-registered-first. node:test runs `t.after` hooks in the order they were
 * registered, so a test that drops its database and removes its folder before stopping the
 * servers that use them races those servers (a CI run failed on `rmdir: ENOTEMPTY` while a
 * server still wrote into the folder, and the hooks after it never stopped the servers).
 * Every cleanup runs even when an earlier one throws or hangs; the first error is rethrown at
 * the end. A cleanup still running after CLEANUP_TIMEOUT_MS is reported and left behind, so a
 * hang names itself instead of ending as the file's 300 s timeout.
 */
const CLEANUP_TIMEOUT_MS = 60_000;

export function teardown(t: { after(fn: () => Promise<void>): void }): (fn: () => unknown) => void {
  const stack: (() => unknown)[] = [];
  t.after(() => runAll(stack.reverse()));
  return (fn) => {
    stack.push(fn);
  };
}

/**
 * Runs every step in order, each one even when an earlier one threw or hung (a step still
 * running after CLEANUP_TIMEOUT_MS is reported and left behind); rethrows the first error.
 */
export async function runAll(steps: readonly (() => unknown)[]): Promise<void> {
  let first: Error | undefined;
  for (const fn of steps) {
    const source = fn.toString().slice(0, 80);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(fn),
        new Promise((_, reject) => {
          timer = setTimeout(() => {
            reject(
              new Error(`cleanup still running after ${String(CLEANUP_TIMEOUT_MS)} ms: ${source}`),
            );
          }, CLEANUP_TIMEOUT_MS);
          timer.unref();
        }),
      ]);
    } catch (err) {
      first ??= err instanceof Error ? err : new Error(String(err));
    } finally {
      clearTimeout(timer);
    }
  }
  if (first) throw first;
}
