import type { SpoolEntry } from './spool-dir.js';

/**
 * Reference order (spec §2.1): by modification time, oldest first and ties by name ascending;
 * with `dataserver_lifo` newest first and ties by name descending.
 */
export function compareEntries(lifo: boolean): (a: SpoolEntry, b: SpoolEntry) => number {
  const sign = lifo ? -1 : 1;
  return (a, b) => {
    // mtime has 1 s resolution on the reference's side; compare at millisecond precision.
    const dt = Math.trunc(a.mtimeMs) - Math.trunc(b.mtimeMs);
    if (dt !== 0) return sign * dt;
    return sign * (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  };
}
