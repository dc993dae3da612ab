/**
 * Cleanups run last-registered-first. node:test runs `t.after` hooks in the order they were
 * registered, so a test that drops its database and removes its folder before stopping the
 * servers that use them races those servers (a CI run failed on `rmdir: ENOTEMPTY` while a
 * server still wrote into the folder, and the hooks after it never stopped the servers).
 * Every cleanup runs even when an earlier one throws; the first error is rethrown at the end.
 */
export function teardown(t: { after(fn: () => Promise<void>): void }): (fn: () => unknown) => void {
  const stack: (() => unknown)[] = [];
  t.after(async () => {
    let first: Error | undefined;
    for (let fn = stack.pop(); fn; fn = stack.pop()) {
      try {
        await fn();
      } catch (err) {
        first ??= err instanceof Error ? err : new Error(String(err));
      }
    }
    if (first) throw first;
  });
  return (fn) => {
    stack.push(fn);
  };
}
