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
  /** `-P FILE`: write the process id there at start, remove it at exit (Pandora's option). */
  readonly pidFile?: string;
  /** `--check-config`: validate and print what `serve` would run with, then exit 0/1. */
  readonly checkConfig?: boolean;
}

const OWN_OPTIONS = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  pidfile: { type: 'string', short: 'P' },
  'check-config': { type: 'boolean' },
  // Pandora's own switches: -v verbose (verbosity 5), -d debug (10), -q quiet, -D daemon.
  verbose: { type: 'boolean', short: 'v' },
  debug: { type: 'boolean', short: 'd' },
  quiet: { type: 'boolean', short: 'q' },
  daemon: { type: 'boolean', short: 'D' },
} as const;

/** Pandora's -D forks into the background; a service manager does that job better. */
export const DAEMON_REFUSED =
  '-D (daemon mode) is not supported: run tentacle-ingest in the foreground under systemd ' +
  '(the shipped tentacle-ingest.service) or another supervisor, which restarts it and keeps its logs';

/** -v, -d and -q as Pandora reads them; an explicit --verbosity wins over them. */
function applyVerbositySwitches(
  options: ReadonlyMap<string, string | true>,
  flags: Map<string, string>,
): void {
  if (flags.has('verbosity')) return;
  if (options.has('debug')) flags.set('verbosity', '10');
  else if (options.has('verbose')) flags.set('verbosity', '5');
  else if (options.has('quiet')) flags.set('verbosity', '1');
}

/** Pandora's `pandora_server /etc/pandora/pandora_server.conf`: a file where the command goes. */
function looksLikeConfFile(word: string): boolean {
  return word.includes('/') || word.endsWith('.conf');
}

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
  if (
    positional[0] !== undefined &&
    !isCommand(positional[0]) &&
    looksLikeConfFile(positional[0])
  ) {
    positional.unshift('serve');
  }
  const [word, fileArg, ...extra] = positional;
  const flagConf = typeof fromFlag === 'string' ? fromFlag : undefined;
  if (options.has('help') || word === 'help') return { command: 'help', confPath: flagConf, flags };
  if (options.has('version')) return { command: 'version', confPath: flagConf, flags };
  if (options.has('daemon')) throw new ConfigError(DAEMON_REFUSED);
  applyVerbositySwitches(options, flags);
  if (word === undefined) return { command: 'help', confPath: flagConf, flags };
  if (!isCommand(word)) throw new ConfigError(`unknown command "${word}" (see --help)`);
  if (fileArg !== undefined && flagConf !== undefined) {
    throw new ConfigError(
      `unexpected argument "${fileArg}": the configuration file is already given with -c`,
    );
  }
  if (extra.length > 0) throw new ConfigError(`unexpected argument "${extra[0] ?? ''}"`);
  const pidFile = options.get('pidfile');
  const checkConfig = options.has('check-config');
  if (checkConfig && word !== 'serve') throw new ConfigError('--check-config goes with serve');
  return {
    command: word,
    confPath: flagConf ?? fileArg,
    flags,
    ...(typeof pidFile === 'string' ? { pidFile } : {}),
    ...(checkConfig ? { checkConfig } : {}),
  };
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
    '       tentacle-ingest /etc/pandora/pandora_server.conf [-P pidfile] [-v|-d|-q]   (= serve)',
    '',
    'commands:',
    ...commands,
    '',
    'options:',
    '  -c, --config FILE            a pandora_server.conf-style file (or the first argument after the command)',
    '  -h, --help                   this text',
    '  --version                    print the version and exit',
    '  --check-config               (serve) check the files, database login, folders and TLS files,',
    '                               print the settings serve would run with; exit 0 if all is well, else 1',
    '  -P, --pidfile FILE           write the process id to FILE, removed at exit',
    "  -v / -d / -q                 verbosity 5 / 10 / 1 (Pandora's verbose, debug, quiet) unless verbosity is set",
    '  -D                           refused: run it under systemd (tentacle-ingest.service) instead',
    '',
    'Every setting is also a conf-file key and a PANDORA_<KEY> environment variable;',
    'command line > environment > file > default.',
    '',
    blocks.join('\n\n'),
  ].join('\n');
}
