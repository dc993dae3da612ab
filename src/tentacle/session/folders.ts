import { printableBytes } from '../../core/index.js';
import type { SessionCore } from './core.js';

/** Which folder a name belongs to: the first filter whose regex matches it (spec §5). */

/** The folder a name goes to: the first matching filter's, else the storage folder. */
export function folderFor(session: SessionCore, name: Buffer): Buffer {
  return folderOf(session, filterIndex(session, name));
}

/** Folder of filter `i`; the storage folder for -1. */
export function folderOf(session: SessionCore, i: number): Buffer {
  return i < 0 ? session.ctx.storageDir : (session.ctx.filterDirs[i] ?? session.ctx.storageDir);
}

/** Index of the first filter matching the name, or -1. */
export function filterIndex(session: SessionCore, name: Buffer): number {
  const filters = session.config.filters;
  if (filters.length === 0) return -1;
  const text = name.toString('latin1');
  for (let i = 0; i < filters.length; i++) {
    const f = filters[i];
    if (f?.regex.test(text)) {
      if (session.ctx.logger.isLevelEnabled('debug')) {
        session
          .logger()
          .debug(
            { event: 'filter', name: printableBytes(name), filter: f.source, dir: f.dir },
            'file matches filter',
          );
      }
      return i;
    }
  }
  return -1;
}
