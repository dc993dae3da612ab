import { existsSync, statSync } from 'node:fs';

/**
 * Command-line options of the reference `tentacle_client`, parsed as Perl's Getopt::Std does
 * (`a:b:ce:f:ghk:p:qr:t:vwx:y:z`): bundling (`-vz`), a value attached (`-p41121`) or in the
 * next argument, and option parsing stops at the first non-option or at `--`. Long options
 * (`--config FILE`, `--secondary-mode always`, …) are our extension and are collected apart.
 */
export interface PerlClientOptions {
  address: string;
  port: number;
  bindAddress?: string;
  ssl: boolean;
  cert?: string;
  key?: string;
  ca?: string;
  getMode: boolean;
  help: boolean;
  password?: string;
  proxy?: { user: string; pass: string; host: string; port: number };
  quiet: boolean;
  verbose: boolean;
  compress: boolean;
  timeoutSec: number;
  retries: number;
}

export interface ParsedCommandLine {
  readonly options: PerlClientOptions;
  /** Long options in order, name without the leading dashes, value or undefined when bare. */
  readonly longOptions: { name: string; value: string | undefined }[];
  readonly files: string[];
  /** Letters of the short options actually given (to layer them over a configuration file). */
  readonly given: ReadonlySet<string>;
}

/** A bad command line: the CLI prints `[err] <message>` (or the help) and exits 1. */
export class ClientUsageError extends Error {
  readonly showHelp: boolean;
  constructor(message: string, showHelp = false) {
    super(message);
    this.showHelp = showHelp;
  }
}

const WITH_VALUE = new Set(['a', 'b', 'e', 'f', 'k', 'p', 'r', 't', 'x', 'y']);
const FLAGS = new Set(['c', 'g', 'h', 'q', 'v', 'w', 'z']);

/** Long options that take no value. */
const BARE_LONG_OPTIONS = new Set(['help', 'once']);

export function defaultPerlOptions(): PerlClientOptions {
  return {
    address: '127.0.0.1',
    port: 41121,
    ssl: false,
    getMode: false,
    help: false,
    quiet: false,
    verbose: false,
    compress: false,
    timeoutSec: 1,
    retries: 3,
  };
}

function collect(argv: readonly string[]): {
  short: Map<string, string | true>;
  longOptions: { name: string; value: string | undefined }[];
  files: string[];
} {
  const short = new Map<string, string | true>();
  const longOptions: { name: string; value: string | undefined }[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      i++;
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      if (eq !== -1) longOptions.push({ name, value: arg.slice(eq + 1) });
      else if (BARE_LONG_OPTIONS.has(name)) longOptions.push({ name, value: undefined });
      else {
        const next = argv[i + 1];
        if (next === undefined) throw new ClientUsageError(`Option --${name} needs a value.`);
        longOptions.push({ name, value: next });
        i++;
      }
      continue;
    }
    if (!arg.startsWith('-') || arg.length < 2) break;
    for (let j = 1; j < arg.length; j++) {
      const letter = arg.charAt(j);
      if (WITH_VALUE.has(letter)) {
        const attached = arg.slice(j + 1);
        if (attached !== '') short.set(letter, attached);
        else {
          const next = argv[i + 1];
          if (next === undefined)
            throw new ClientUsageError(`Option -${letter} needs a value.`, true);
          short.set(letter, next);
          i++;
        }
        break;
      }
      if (!FLAGS.has(letter)) throw new ClientUsageError(`Unknown option: ${letter}`, true);
      short.set(letter, true);
    }
  }
  return { short, longOptions, files: argv.slice(i) };
}

const HOST_NAME = /^[a-zA-Z.][a-zA-Z0-9.-]+$/;
const IPV4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/;
const IPV6ISH = /^[0-9a-f:]+$/;

/** The reference's address check: a host name, a dotted quad of 0–255, or hex and colons. */
export function isValidAddress(address: string): boolean {
  if (HOST_NAME.test(address) || IPV6ISH.test(address)) return true;
  const quad = IPV4.exec(address);
  return quad !== null && quad.slice(1).every((part) => Number(part) <= 255);
}

function mustBeFile(path: string): string {
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new ClientUsageError(`File ${path} does not exist.`);
  }
  return path;
}

function positiveInt(raw: string, message: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new ClientUsageError(message);
  return Number(raw);
}

export function parseClientCommandLine(argv: readonly string[]): ParsedCommandLine {
  const { short, longOptions, files } = collect(argv);
  const options = defaultPerlOptions();
  const text = (letter: string): string | undefined => {
    const value = short.get(letter);
    return typeof value === 'string' ? value : undefined;
  };
  if (short.has('h')) options.help = true;
  const address = text('a');
  if (address !== undefined) {
    if (!isValidAddress(address)) throw new ClientUsageError(`Address ${address} is not valid.`);
    options.address = address;
  }
  const bind = text('b');
  if (bind !== undefined) options.bindAddress = bind;
  if (short.has('c')) options.ssl = true;
  const cert = text('e');
  if (cert !== undefined) {
    if (options.ssl)
      throw new ClientUsageError('Flags -c and -e can not be used at the same time.');
    options.cert = mustBeFile(cert);
    options.ssl = true;
  }
  const ca = text('f');
  if (ca !== undefined) {
    if (cert === undefined) {
      throw new ClientUsageError('Flag -e must be set to enable peer certificate verify.');
    }
    options.ca = mustBeFile(ca);
  }
  if (short.has('g')) options.getMode = true;
  const key = text('k');
  if (key !== undefined) {
    if (cert === undefined)
      throw new ClientUsageError('Flag -e must be set to use a private key file.');
    options.key = mustBeFile(key);
  }
  const port = text('p');
  if (port !== undefined) {
    if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
      throw new ClientUsageError(`Port ${port} is not valid.`);
    }
    options.port = Number(port);
  }
  if (short.has('q')) options.quiet = true;
  const retries = text('r');
  if (retries !== undefined) {
    options.retries = positiveInt(retries, 'Invalid number of retries for network operations.');
  }
  const timeout = text('t');
  if (timeout !== undefined) {
    options.timeoutSec = positiveInt(timeout, 'Invalid timeout for network operations.');
  }
  if (short.has('v')) options.verbose = true;
  if (short.has('w')) {
    throw new ClientUsageError(
      'Option -w (key passphrase prompt) is not supported; use a plain key.',
    );
  }
  const password = text('x');
  if (password !== undefined) options.password = password;
  const proxy = text('y');
  if (proxy !== undefined) {
    const match = /^(?:(.*):(.*)@)?(\S+):(\d+)$/.exec(proxy);
    const proxyPort = Number(match?.[4] ?? '0');
    if (!match) throw new ClientUsageError(`Invalid proxy string: ${proxy}`);
    if (proxyPort < 1 || proxyPort > 65535) {
      throw new ClientUsageError(`Proxy port ${proxyPort} is not valid.`);
    }
    options.proxy = {
      user: match[1] ?? '',
      pass: match[2] ?? '',
      host: match[3] ?? '',
      port: proxyPort,
    };
  }
  if (short.has('z')) options.compress = true;
  return { options, longOptions, files, given: new Set(short.keys()) };
}

/** Per read/write limit, as the reference computes it: t × (r + 1). */
export function ioTimeoutMs(options: Pick<PerlClientOptions, 'timeoutSec' | 'retries'>): number {
  return options.timeoutSec * 1000 * (options.retries + 1);
}

export const CLIENT_HELP = `Usage: tentacle-client [options] [file] [file] ...

Tentacle client (compatible with tentacle_client 0.4.0).

Options:
\t-a address\tServer address (default 127.0.0.1).
\t-b address\tLocal address to bind.
\t-c\t\tEnable SSL without a client certificate.
\t-e cert\t\tOpenSSL certificate file. Enables SSL.
\t-f ca\t\tVerify that the peer certificate is signed by a ca.
\t-g\t\tGet files from the server.
\t-h\t\tShow help.
\t-k key\t\tOpenSSL private key file.
\t-p port\t\tServer port (default 41121).
\t-q\t\tQuiet. Do not print error messages.
\t-r number\tNumber of retries for network operations (default 3).
\t-t time\t\tTime-out for network operations in seconds (default 1s).
\t-v\t\tBe verbose.
\t-x pwd\t\tServer password.
\t-y proxy\tProxy server string (user:password@address:port).
\t-z\t\tCompress data.

Delivery with failover (extension; see docs/tentacle-client.md):
\t--config FILE\tRead server_*, secondary_*, xml_buffer, temporal… from a pandora_agent.conf.
\t--watch DIR\tShip every file that appears in DIR, delete it once delivered.
\t--once\t\tWith --watch: ship what is there, then exit.
\t--<key> value\tAny delivery key, e.g. --secondary-mode on_error --secondary-server-ip h.
`;
