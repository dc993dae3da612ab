import { ConfigError } from '../core/index.js';
import { DEFAULT_INVALID_CHARS } from './settings.js';

/** The file-name rules of the configuration: filters (name → subfolder) and forbidden bytes. */

export interface CompiledFilter {
  readonly source: string;
  readonly regex: RegExp;
  /** Subdirectory relative to the storage folder, without a trailing slash. */
  readonly dir: string;
}

/**
 * Filter spec `regex:dir;regex:dir` (§4.3): split on `;`, then on `:`; items without `:` are
 * skipped; one trailing `/` is removed from `dir`. Regexes run unanchored on the name decoded as
 * latin1 (one byte = one character), with `s` so `.` matches every byte but LF, as in Perl.
 */
export function compileFilters(spec: string | undefined): CompiledFilter[] {
  if (spec === undefined || spec === '') return [];
  const filters: CompiledFilter[] = [];
  for (const item of spec.split(';')) {
    const fields = item.split(':');
    if (fields.length < 2) continue;
    const source = fields[0] ?? '';
    const dir = (fields[1] ?? '').replace(/\/$/, '');
    if (source === '') throw new ConfigError(`filter "${item}" has an empty regex`);
    if (dir.split('/').includes('..')) {
      throw new ConfigError(`filter "${item}": the folder may not contain ".."`);
    }
    let regex: RegExp;
    try {
      regex = new RegExp(source, 's');
    } catch (err) {
      throw new ConfigError(`filter "${item}": invalid regex: ${(err as Error).message}`, {
        cause: err,
      });
    }
    filters.push({ source, regex, dir });
  }
  return filters;
}

/** The forbidden-byte table for an `invalid_chars` class body (raw regex text, §9.1). */
export function compileInvalidChars(classBody: string | undefined): Uint8Array {
  const body = classBody ?? DEFAULT_INVALID_CHARS;
  let regex: RegExp;
  try {
    regex = new RegExp(`[${body}]`);
  } catch (err) {
    throw new ConfigError(`invalid_chars: invalid character class: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const table = new Uint8Array(256);
  for (let b = 0; b < 256; b++) table[b] = regex.test(String.fromCharCode(b)) ? 1 : 0;
  return table;
}
