import {
  parseLongFlags,
  resolveSettings,
  type Settings,
  type SettingsTable,
} from '../../src/core/index.js';

/**
 * A bench's flags from its settings table (the repository's one long-flag parser): the values,
 * or undefined when `--help` was asked. A stray argument is an error.
 */
export function readBenchFlags<T extends SettingsTable & { readonly help: { kind: 'bool' } }>(
  argv: readonly string[],
  table: T,
): Settings<T> | undefined {
  const { flags, positional } = parseLongFlags(argv, table);
  if (positional.length > 0) throw new Error(`unexpected argument ${positional[0] ?? ''}`);
  const values = resolveSettings(table, { flags }).values;
  return values['help'] === true ? undefined : values;
}
