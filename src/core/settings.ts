import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ConfEntries } from './conf-file.js';
import { ConfigError } from './errors.js';

/**
 * Declarative settings: one table per component drives parsing, validation, defaults, `--help`
 * and the README. Precedence, lowest first: default, configuration file, environment
 * (`PANDORA_<KEY>`), command-line flag (`--key value`, `--key=value`, dashes or underscores).
 */
export type SettingKind = 'string' | 'int' | 'bool';

export interface SettingSpec {
  readonly kind: SettingKind;
  readonly default?: string | number | boolean;
  readonly min?: number;
  readonly max?: number;
  readonly help: string;
  /** Never printed or logged (passwords). */
  readonly secret?: boolean;
  /** Not a key of the Perl original. */
  readonly extension?: boolean;
  /** For a string: the only values accepted (an enum); anything else is an error. */
  readonly values?: readonly string[];
}

export type SettingsTable = Readonly<Record<string, SettingSpec>>;

type ValueOf<S extends SettingSpec> = S['kind'] extends 'int'
  ? number
  : S['kind'] extends 'bool'
    ? boolean
    : string;

export type Settings<T extends SettingsTable> = {
  readonly [K in keyof T]: T[K]['default'] extends string | number | boolean
    ? ValueOf<T[K]>
    : ValueOf<T[K]> | undefined;
};

export interface SettingSources {
  readonly file?: ConfEntries;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly flags?: ReadonlyMap<string, string>;
}

export interface ResolvedSettings<T extends SettingsTable> {
  readonly values: Settings<T>;
  /** Keys present in the file that this table does not know (kept, reported at debug). */
  readonly unknownFileKeys: string[];
  readonly warnings: string[];
}

export function envName(key: string): string {
  return `PANDORA_${key.toUpperCase()}`;
}

function convert(key: string, spec: SettingSpec, raw: string, source: string) {
  switch (spec.kind) {
    case 'string':
      if (spec.values !== undefined && !spec.values.includes(raw)) {
        throw new ConfigError(
          `${source}: ${key} must be one of ${spec.values.join(', ')}, got "${raw}"`,
        );
      }
      return raw;
    case 'bool':
      // Pandora reads a switch as "on only for exactly 1", so `dataserver yes` would silently be
      // off there; a value that is neither 1 nor 0 is a mistake worth stopping for.
      if (raw !== '1' && raw !== '0') {
        throw new ConfigError(`${source}: ${key} must be 1 or 0, got "${raw}"`);
      }
      return raw === '1';
    case 'int': {
      if (!/^-?\d+$/.test(raw))
        throw new ConfigError(`${source}: ${key} must be an integer, got "${raw}"`);
      const n = Number(raw);
      if (spec.min !== undefined && n < spec.min) {
        throw new ConfigError(`${source}: ${key} must be >= ${spec.min}, got ${n}`);
      }
      if (spec.max !== undefined && n > spec.max) {
        throw new ConfigError(`${source}: ${key} must be <= ${spec.max}, got ${n}`);
      }
      return n;
    }
  }
}

export function resolveSettings<T extends SettingsTable>(
  table: T,
  sources: SettingSources,
): ResolvedSettings<T> {
  const warnings: string[] = [];
  const values: Record<string, string | number | boolean | undefined> = {};
  for (const [key, spec] of Object.entries(table)) {
    const fromFlag = sources.flags?.get(key);
    const fromEnv = sources.env?.[envName(key)];
    const fromFile = sources.file?.get(key);
    let raw: string | undefined;
    let source = '';
    if (fromFlag !== undefined) [raw, source] = [fromFlag, `--${key.replaceAll('_', '-')}`];
    else if (fromEnv !== undefined && fromEnv !== '') [raw, source] = [fromEnv, envName(key)];
    else if (fromFile !== undefined) [raw, source] = [fromFile.value, fromFile.source];
    values[key] = raw === undefined ? spec.default : convert(key, spec, raw, source);
  }
  const unknownFileKeys = [...(sources.file?.keys() ?? [])].filter((k) => !(k in table));
  return { values: Object.freeze(values) as Settings<T>, unknownFileKeys, warnings };
}

/** Options of a command that are not settings (`-c FILE`, `--help`), in `util.parseArgs` form. */
export type CommandOptions = Readonly<
  Record<string, { readonly type: 'string' | 'boolean'; readonly short?: string }>
>;

export interface ParsedFlags {
  /** Setting key (snake_case) → raw value, as `resolveSettings` takes it (the last one given). */
  readonly flags: Map<string, string>;
  /** Setting key → every value given, in order (for a tool's options that repeat). */
  readonly repeated: Map<string, string[]>;
  /** The remaining positional arguments in order (all of them after `--`). */
  readonly positional: string[];
  /** The command options given (last one wins). */
  readonly options: Map<string, string | true>;
}

/** `util.parseArgs` names of a table's keys: `--key_name` and `--key-name`, `--no-` for switches. */
function flagNames(table: SettingsTable): Map<string, { key: string; negated: boolean }> {
  const names = new Map<string, { key: string; negated: boolean }>();
  for (const [key, spec] of Object.entries(table)) {
    for (const spelling of new Set([key, key.replaceAll('_', '-')])) {
      names.set(spelling, { key, negated: false });
      if (spec.kind === 'bool') {
        names.set(`no-${spelling}`, { key, negated: true });
        names.set(`no_${spelling}`, { key, negated: true });
      }
    }
  }
  return names;
}

/**
 * The one parser of long flags (node's `util.parseArgs`): `--key value` / `--key=value`, dashes
 * or underscores, keyed by snake_case setting name. Boolean settings may be given bare
 * (`--overwrite`), with 0 or 1 (`--overwrite 0`, `--overwrite=0`) or negated (`--no-tentacle`).
 * `commandOptions` adds a command's own options (`-c FILE`, `-h`). Unknown options and missing
 * values throw a ConfigError.
 */
export function parseLongFlags(
  argv: readonly string[],
  table: SettingsTable,
  commandOptions: CommandOptions = {},
): ParsedFlags {
  const names = flagNames(table);
  const config: NonNullable<ParseArgsConfig['options']> = { ...commandOptions };
  for (const [name, { key, negated }] of names) {
    config[name] = { type: table[key]?.kind === 'bool' || negated ? 'boolean' : 'string' };
  }
  // strict off: unknown options and missing values come back as tokens and get our messages.
  const { tokens } = parseArgs({
    args: [...argv],
    options: config,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const flags = new Map<string, string>();
  const repeated = new Map<string, string[]>();
  const set = (key: string, value: string): void => {
    flags.set(key, value);
    repeated.set(key, [...(repeated.get(key) ?? []), value]);
  };
  const positional: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token === undefined || token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      positional.push(token.value);
      continue;
    }
    const own = commandOptions[token.name];
    const flag = names.get(token.name);
    if (own === undefined && flag === undefined) {
      throw new ConfigError(`unknown option ${token.rawName.replaceAll('_', '-')}`);
    }
    const type = own?.type ?? config[token.name]?.type;
    if (type === 'string' && token.value === undefined) {
      const name = flag ? `--${flag.key.replaceAll('_', '-')}` : token.rawName;
      throw new ConfigError(`option ${name} needs a value`);
    }
    if (own !== undefined) {
      options.set(token.name, token.value ?? true);
    } else if (flag !== undefined) {
      const next = tokens[i + 1];
      if (flag.negated) set(flag.key, '0');
      else if (token.value !== undefined) set(flag.key, token.value);
      else if (
        next?.kind === 'positional' &&
        next.index === token.index + 1 &&
        (next.value === '0' || next.value === '1')
      ) {
        set(flag.key, next.value);
        i++;
      } else set(flag.key, '1');
    }
  }
  return { flags, repeated, positional, options };
}

/** `--help` text for a settings table. */
export function settingsHelp(table: SettingsTable): string {
  return Object.entries(table)
    .map(([key, spec]) => {
      const def = spec.secret
        ? ''
        : spec.default === undefined
          ? ''
          : ` (default ${String(spec.default)})`;
      const ext = spec.extension ? ' [extension]' : '';
      return `  --${key.replaceAll('_', '-').padEnd(26)} ${spec.help}${def}${ext}`;
    })
    .join('\n');
}
