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

function convert(key: string, spec: SettingSpec, raw: string, source: string, warnings: string[]) {
  switch (spec.kind) {
    case 'string':
      return raw;
    case 'bool':
      // Pandora and Tentacle turn a boolean on only for exactly "1"; anything else is off.
      if (raw !== '1' && raw !== '0') {
        warnings.push(
          `${source}: ${key} "${raw}" is not 1 or 0; treated as 0 (off), as Pandora does`,
        );
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
    values[key] = raw === undefined ? spec.default : convert(key, spec, raw, source, warnings);
  }
  const unknownFileKeys = [...(sources.file?.keys() ?? [])].filter((k) => !(k in table));
  return { values: Object.freeze(values) as Settings<T>, unknownFileKeys, warnings };
}

/**
 * Splits `--key value` / `--key=value` / `--flag` arguments into a map keyed by snake_case
 * setting name. Boolean settings may be given bare (`--overwrite`) or negated (`--no-tentacle`).
 * Returns the remaining positional arguments in order.
 */
export function parseLongFlags(
  argv: readonly string[],
  table: SettingsTable,
): { flags: Map<string, string>; positional: string[] } {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--') || arg === '--') {
      if (arg === '--') positional.push(...argv.slice(i + 1));
      else positional.push(arg);
      if (arg === '--') break;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = (eq === -1 ? arg.slice(2) : arg.slice(2, eq)).replaceAll('-', '_');
    const negated = name.startsWith('no_') && table[name.slice(3)]?.kind === 'bool';
    const key = negated ? name.slice(3) : name;
    const spec = table[key];
    if (!spec) throw new ConfigError(`unknown option --${name.replaceAll('_', '-')}`);
    if (negated) {
      flags.set(key, '0');
    } else if (eq !== -1) {
      flags.set(key, arg.slice(eq + 1));
    } else if (spec.kind === 'bool') {
      const next = argv[i + 1];
      if (next === '0' || next === '1') {
        flags.set(key, next);
        i++;
      } else flags.set(key, '1');
    } else {
      const next = argv[i + 1];
      if (next === undefined)
        throw new ConfigError(`option --${key.replaceAll('_', '-')} needs a value`);
      flags.set(key, next);
      i++;
    }
  }
  return { flags, positional };
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
