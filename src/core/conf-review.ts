import type { ConfEntries } from './conf-file.js';

/**
 * What a configuration file holds beyond the settings a program honours: keys it knows and
 * deliberately ignores (with the reason, told once at start), and keys nobody knows (typos,
 * told one by one with the nearest known key). Nothing in a file is dropped without a word.
 */

/** Key → why this program does not act on it (one short sentence an operator can act on). */
export type IgnoredKeys = Readonly<Record<string, string>>;

export interface IgnoredKey {
  readonly key: string;
  readonly source: string;
  readonly reason: string;
}

export interface UnknownKey {
  readonly key: string;
  readonly source: string;
  /** The nearest known key, when one is close enough to be a likely typo. */
  readonly suggestion: string | undefined;
}

export interface ConfReview {
  readonly ignored: readonly IgnoredKey[];
  readonly unknown: readonly UnknownKey[];
}

/** Levenshtein distance (insert, delete, substitute), two rows of memory. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitute));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The known key nearest to `key`, if it is within a third of the key's length (at least 2
 * edits): `dataserver_thread` → `dataserver_threads`, while `colour` suggests nothing.
 */
export function nearestKey(key: string, known: Iterable<string>): string | undefined {
  const limit = Math.max(2, Math.floor(key.length / 3));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of known) {
    const distance = editDistance(key, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/**
 * Sorts the keys of `file` that `honoured` does not contain into ignored (listed in `ignored`)
 * and unknown. A key both honoured and listed as ignored counts as honoured, so a branch that
 * starts honouring a key only has to add it to its settings table.
 */
export function reviewConfKeys(
  file: ConfEntries,
  honoured: ReadonlySet<string>,
  ignored: IgnoredKeys,
): ConfReview {
  const ignoredKeys: IgnoredKey[] = [];
  const unknownKeys: UnknownKey[] = [];
  const known = [...honoured, ...Object.keys(ignored)];
  for (const { key, source } of file.values()) {
    if (honoured.has(key)) continue;
    const reason = Object.hasOwn(ignored, key) ? ignored[key] : undefined;
    if (reason !== undefined) ignoredKeys.push({ key, source, reason });
    else unknownKeys.push({ key, source, suggestion: nearestKey(key, known) });
  }
  return { ignored: ignoredKeys, unknown: unknownKeys };
}

/**
 * The one start-up warning for ignored keys: keys grouped by reason, so the list stays
 * readable with the ~150 keys of a shipped pandora_server.conf.
 */
export function ignoredKeysMessage(ignored: readonly IgnoredKey[]): string | undefined {
  if (ignored.length === 0) return undefined;
  const byReason = new Map<string, string[]>();
  for (const { key, reason } of ignored)
    byReason.set(reason, [...(byReason.get(reason) ?? []), key]);
  const groups = [...byReason].map(([reason, keys]) => `${keys.join(', ')}: ${reason}`);
  return `${String(ignored.length)} configuration keys ignored. ${groups.join('. ')}.`;
}

/** One warning line for a key nobody knows. */
export function unknownKeyMessage({ key, source, suggestion }: UnknownKey): string {
  const hint = suggestion === undefined ? '' : `; did you mean ${suggestion}?`;
  return `${source}: unknown configuration key ${key} ignored${hint}`;
}
