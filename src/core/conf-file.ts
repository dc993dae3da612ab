import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';

/** One `key value` setting and where it came from, for error messages (`file:line`). */
export interface ConfEntry {
  readonly key: string;
  readonly value: string;
  readonly source: string;
}

export type ConfEntries = ReadonlyMap<string, ConfEntry>;

const SETTING_LINE = /^([A-Za-z][A-Za-z0-9_.-]*)\s+([^\n]*)$/;

/**
 * Parses the syntax shared by `tentacle_server.conf` and `pandora_server.conf`: only lines whose
 * first character is a letter count; the key is the first word, the value the rest of the line.
 * Unlike the Perl reference, trailing whitespace and a CR from CRLF files are trimmed, so
 * `password secret ` means `secret`. Empty values are ignored; the last occurrence wins. Keys are
 * kept lower-case (Pandora's keys are all lower-case snake_case).
 */
export function parseConfText(text: string, sourceName: string): Map<string, ConfEntry> {
  const entries = new Map<string, ConfEntry>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const match = SETTING_LINE.exec(lines[i] ?? '');
    if (!match) continue;
    const key = (match[1] ?? '').toLowerCase();
    const value = (match[2] ?? '').replace(/[\s\r]+$/, '');
    if (value === '') continue;
    entries.set(key, { key, value, source: `${sourceName}:${i + 1}` });
  }
  return entries;
}

export function readConfFile(path: string): Map<string, ConfEntry> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read configuration file ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parseConfText(text, path);
}
