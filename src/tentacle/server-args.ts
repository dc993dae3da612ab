import { ConfigError, settingsHelp } from '../core/index.js';
import { TENTACLE_SETTINGS } from './settings.js';

/**
 * Command line of `tentacle-server`: the Perl server's short options, parsed like its
 * Getopt::Std string `a:b:c:de:f:F:g:hIi:k:l:m:op:qr:s:S:t:TvVwx:z:u:` (bundling `-oI`, attached
 * values `-p41121`, processing stops at the first non-option or `--`), plus a long form for
 * every setting (`--max-size 100`, `--sync=none`, `--no-overwrite`).
 */

/** Short option letter → setting key (value options) */
const SHORT_VALUE: Readonly<Record<string, keyof typeof TENTACLE_SETTINGS>> = {
  a: 'addresses',
  b: 'proxy_ip',
  c: 'max_connections',
  e: 'ssl_cert',
  f: 'ssl_ca',
  g: 'proxy_port',
  i: 'filters',
  k: 'ssl_key',
  l: 'log_file',
  m: 'max_size',
  p: 'port',
  r: 'retries',
  s: 'directory',
  t: 'timeout',
  x: 'password',
  z: 'ssl_version',
  u: 'ssl_cipher',
};

/** Short option letter → boolean setting key */
const SHORT_FLAG: Readonly<Record<string, keyof typeof TENTACLE_SETTINGS>> = {
  d: 'daemon',
  I: 'insecure',
  o: 'overwrite',
  q: 'quiet',
  T: 'use_libwrap',
  w: 'ssl_password',
};

/** A bad `tentacle-server` command line: the CLI prints it and exits with the usage code. */
export class ServerUsageError extends ConfigError {}

export interface ServerArgs {
  /** Setting key → raw value, command line only (they override the config file). */
  readonly flags: Map<string, string>;
  readonly configFile: string | undefined;
  readonly help: boolean;
  readonly version: boolean;
  /** `-S install|uninstall|run` (Windows only in the reference). */
  readonly service: string | undefined;
}

export function parseServerArgs(argv: readonly string[]): ServerArgs {
  const flags = new Map<string, string>();
  let configFile: string | undefined;
  let help = false;
  let version = false;
  let service: string | undefined;
  let verbose = 0;
  let i = 0;
  const valueFor = (letter: string, rest: string): string => {
    if (rest !== '') return rest;
    const next = argv[++i];
    if (next === undefined) throw new ServerUsageError(`option -${letter} needs a value`);
    return next;
  };
  for (; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      i++;
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = (eq === -1 ? arg.slice(2) : arg.slice(2, eq)).replaceAll('-', '_');
      if (name === 'help') {
        help = true;
        continue;
      }
      if (name === 'version') {
        version = true;
        continue;
      }
      if (name === 'config' || name === 'config_file') {
        configFile = eq === -1 ? valueFor(name, '') : arg.slice(eq + 1);
        continue;
      }
      const negated = name.startsWith('no_') && name.slice(3) in TENTACLE_SETTINGS;
      const key = negated ? name.slice(3) : name;
      if (!(key in TENTACLE_SETTINGS)) {
        throw new ServerUsageError(`unknown option --${name.replaceAll('_', '-')}`);
      }
      const spec = TENTACLE_SETTINGS[key as keyof typeof TENTACLE_SETTINGS];
      if (spec.kind === 'bool') {
        if (eq !== -1) flags.set(key, arg.slice(eq + 1));
        else flags.set(key, negated ? '0' : '1');
      } else {
        if (negated) throw new ServerUsageError(`option --${name} is not a switch`);
        flags.set(key, eq === -1 ? valueFor(name, '') : arg.slice(eq + 1));
      }
      continue;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    for (let j = 1; j < arg.length; j++) {
      const letter = arg[j] ?? '';
      const rest = arg.slice(j + 1);
      const valueKey = SHORT_VALUE[letter];
      if (valueKey) {
        flags.set(valueKey, valueFor(letter, rest));
        break;
      }
      const flagKey = SHORT_FLAG[letter];
      if (flagKey) {
        flags.set(flagKey, '1');
        continue;
      }
      switch (letter) {
        case 'v':
          verbose = Math.max(verbose, 1);
          break;
        case 'V':
          verbose = 2;
          break;
        case 'h':
          help = true;
          break;
        case 'F':
          configFile = valueFor(letter, rest);
          j = arg.length;
          break;
        case 'S':
          service = valueFor(letter, rest);
          j = arg.length;
          break;
        default:
          throw new ServerUsageError(`Unknown option: ${letter}`);
      }
    }
  }
  if (i < argv.length) {
    throw new ServerUsageError(`unexpected argument "${argv[i] ?? ''}"`);
  }
  // -v / -V on the command line force the level (spec §9.1).
  if (verbose > 0) flags.set('verbose', String(verbose));
  return { flags, configFile, help, version, service };
}

export const SERVER_USAGE = `Usage: tentacle-server -s <storage directory> [options]

Tentacle server (byte-compatible with Pandora FMS tentacle_server 0.6.2).

Options:
  -a ip[,ip]  Addresses to listen on (default 0,0.0.0.0; 0 = all, IPv6 dual-stack).
  -b ip       Proxy mode: relay every session to this server.
  -c number   Connections served at once (default 10); extra ones wait.
  -d          Run in the background.
  -e cert     Implicit TLS with this certificate (PEM).
  -f ca       Require client certificates signed by this CA (PEM).
  -F file     Configuration file (command-line options win).
  -g port     Proxy mode upstream port (default 41121).
  -h          Print this help and exit (status 1).
  -I          Insecure mode: enable LS and MV.
  -i filters  regex:dir;regex:dir... route names to subfolders (first match wins).
  -k key      TLS private key (PEM); default: read it from the certificate file.
  -l log      Append logs to this file.
  -m size     Largest file in bytes (default 2000000).
  -o          Allow overwriting existing files.
  -p port     Port to listen on (default 41121).
  -q          Quiet: log only fatal errors.
  -r number   Retries per wait (default 3); idle limit = timeout x (retries+1).
  -s dir      Storage directory (required unless -b).
  -t time     Seconds per wait (default 1).
  -T          TCP wrappers (not supported: refused).
  -u ciphers  OpenSSL cipher list.
  -v          Verbose (info).
  -V          Very verbose (debug).
  -w          Ask for the TLS key passphrase.
  -x pwd      Password (clients send PASS with its double MD5).
  -z version  TLS version(s), e.g. TLSv1_3 or TLSv1_2:TLSv1_3.

Every setting also has a long form (--max-size 100, --sync=none, --no-overwrite);
configuration-file keys (-F) use the names below with underscores:
${settingsHelp(TENTACLE_SETTINGS)}
`;
