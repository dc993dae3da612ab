import { ConfigError, parseLongFlags, settingsHelp, type SettingsTable } from '../core/index.js';

/**
 * The command line of `tentacle-ingest`: a command, then settings as long flags (parsed by the
 * one long-flag parser, `core/settings.ts`), `-c FILE`, `-h`/`--help` and `--version`.
 */

const COMMANDS = {
  serve: 'Tentacle listener (port 41121) + dataserver: spool files into the Pandora database',
  'init-db': 'create the database (if missing), the Pandora table subset, seeds and the ledger',
} as const;

export type IngestCommand = keyof typeof COMMANDS | 'help' | 'version';

export interface IngestArgs {
  readonly command: IngestCommand;
  /** The configuration file: `-c FILE`, or the first argument after the command. */
  readonly confPath: string | undefined;
  /** Setting key → raw value from the command line. */
  readonly flags: ReadonlyMap<string, string>;
}

const OWN_OPTIONS = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

function isCommand(word: string): word is keyof typeof COMMANDS {
  return Object.hasOwn(COMMANDS, word);
}

/**
 * `tentacle-ingest <serve|init-db> [FILE] [-c FILE] [--key value ...]`. No command (or `help`)
 * asks for the help. The configuration file may come as the first argument after the command,
 * as Pandora's own `pandora_server /etc/pandora/pandora_server.conf`; anything after it is an
 * error, not silently ignored.
 */
export function parseIngestArgs(argv: readonly string[], table: SettingsTable): IngestArgs {
  const { flags, positional, options } = parseLongFlags(argv, table, OWN_OPTIONS);
  const fromFlag = options.get('config');
  const [word, fileArg, ...extra] = positional;
  const flagConf = typeof fromFlag === 'string' ? fromFlag : undefined;
  if (options.has('help') || word === 'help') return { command: 'help', confPath: flagConf, flags };
  if (options.has('version')) return { command: 'version', confPath: flagConf, flags };
  if (word === undefined) return { command: 'help', confPath: flagConf, flags };
  if (!isCommand(word)) throw new ConfigError(`unknown command "${word}" (see --help)`);
  if (fileArg !== undefined && flagConf !== undefined) {
    throw new ConfigError(
      `unexpected argument "${fileArg}": the configuration file is already given with -c`,
    );
  }
  if (extra.length > 0) throw new ConfigError(`unexpected argument "${extra[0] ?? ''}"`);
  return { command: word, confPath: flagConf ?? fileArg, flags };
}

/** A titled block of the help: the settings it `owns` (each key shows in the first that does). */
export interface HelpSection {
  readonly title: string;
  readonly owns: (key: string) => boolean;
}

/** The grouped `--help`: commands, this command's own options, then the settings by section. */
export function ingestUsage(table: SettingsTable, sections: readonly HelpSection[]): string {
  const placed = new Set<string>();
  const blocks: string[] = [];
  const all = [...sections, { title: 'other settings', owns: () => true }];
  for (const section of all) {
    const keys = Object.keys(table).filter((key) => !placed.has(key) && section.owns(key));
    if (keys.length === 0) continue;
    for (const key of keys) placed.add(key);
    const part = Object.fromEntries(keys.map((key) => [key, table[key]]));
    blocks.push(`${section.title}:\n${settingsHelp(part as SettingsTable)}`);
  }
  const commands = Object.entries(COMMANDS).map(([name, help]) => `  ${name.padEnd(9)} ${help}`);
  return [
    'usage: tentacle-ingest <serve|init-db> [pandora_server.conf] [--key value ...]',
    '',
    'commands:',
    ...commands,
    '',
    'options:',
    '  -c, --config FILE            a pandora_server.conf-style file (or the first argument after the command)',
    '  -h, --help                   this text',
    '  --version                    print the version and exit',
    '',
    'Every setting is also a conf-file key and a PANDORA_<KEY> environment variable;',
    'command line > environment > file > default.',
    '',
    blocks.join('\n\n'),
  ].join('\n');
}
