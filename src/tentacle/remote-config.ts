import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { compileFilters } from './name-rules.js';

/**
 * Remote agent configuration as Pandora lays it out (tentacle.md §4.3, ha.md §4.3): the filters
 * of the shipped tentacle_server.conf route an agent's `<md5>.conf` to `conf/`, `<md5>.md5` to
 * `md5/`, collections to `collections/`, transactional locks to `trans/` and remote commands
 * (`.rcmd`) to `commands/`, all inside the storage folder, where Pandora's console writes and
 * reads them (`/var/spool/pandora/data_in/{conf,md5,collections,commands}`). Agents fetch them
 * back with RECV, which serves only files in filter folders (recv_any_file 0).
 *
 * `tentacle-ingest serve` uses them unless `tentacle_filters` (or its tentacle_config's
 * `filters`) says otherwise; `none` turns routing off.
 */
export const PANDORA_FILTERS =
  '.*\\.conf:conf;.*\\.md5:md5;.*\\.zip:collections;.*\\.lock:trans;.*\\.rcmd:commands';

/** The value of `tentacle_filters` that turns routing off (an empty value cannot be written). */
export const NO_FILTERS = 'none';

/**
 * The built-in listener's filters: `tentacle_filters` first, then the tentacle_config file's
 * `filters`, then Pandora's. Returns the spec and whether it is Pandora's default.
 */
export function listenerFilters(
  serveKey: string | undefined,
  fromFile: string | undefined,
): { readonly spec: string; readonly pandoraDefault: boolean } {
  const chosen = serveKey ?? fromFile;
  if (chosen === undefined) return { spec: PANDORA_FILTERS, pandoraDefault: true };
  return { spec: chosen.trim() === NO_FILTERS ? '' : chosen, pandoraDefault: false };
}

/**
 * Creates the folders of Pandora's default filters in the storage folder (its package creates
 * them at install; a SEND routed to a missing folder would be dropped). Returns those created.
 * Folders of filters an operator wrote are left alone: a missing one may be a missing mount.
 */
export function ensureFilterFolders(directory: string, spec: string): string[] {
  const created: string[] = [];
  for (const filter of compileFilters(spec)) {
    if (filter.dir === '') continue;
    const made = mkdirSync(join(directory, filter.dir), { recursive: true });
    if (made !== undefined) created.push(filter.dir);
  }
  return created;
}
