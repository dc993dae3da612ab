#!/usr/bin/env node
/**
 * `tentacle-server`: the Perl tentacle_server's command line (spec §9) on our server.
 *
 * Exit status: 0 after a graceful stop (SIGINT/SIGTERM); 1 for help or a usage error (as the
 * reference); 2 for an invalid configuration (bad value, missing or unwritable folder, invalid
 * filter, unreadable TLS or config file); 255 when no listener could be bound or the server
 * fails at runtime.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import {
  createLogger,
  createMetricsRegistry,
  type Logger,
  nearestKey,
  readConfFile,
} from '../core/index.js';
import {
  createTentacleServer,
  parseServerArgs,
  resolveTentacleSettings,
  type ServerArgs,
  SERVER_USAGE,
  serverOptionsFromSettings,
  ServerUsageError,
  TENTACLE_SETTINGS,
  type TentacleServer,
  type TentacleSettings,
} from '../tentacle/index.js';

/**
 * libuv threads for file I/O under `--sync always`: each transfer waits on an fsync, and more of
 * them in flight let the filesystem batch journal commits. Under `--sync none` libuv's default
 * (4) measured better on 2 cores: fewer threads to wake per operation.
 */
const FSYNC_THREADPOOL_SIZE = '16';
const EXIT_USAGE = 1;
const EXIT_CONFIG = 2;
const EXIT_RUNTIME = 255;

function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        version?: string;
      };
      return pkg.version ?? 'unknown';
    } catch {
      dir = dirname(dir);
    }
  }
  return 'unknown';
}

function levelFor(s: TentacleSettings): string {
  if (s.quiet) return 'fatal';
  if (s.verbose >= 2) return 'debug';
  if (s.verbose === 1) return 'info';
  return 'warn';
}

/** Ends startup with a message and an exit status (handled at the bottom of this file). */
class ExitError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function fail(status: number, message: string): never {
  throw new ExitError(status, message);
}

function exitWith(status: number, message: string): void {
  const text = `tentacle-server: ${message}\n`;
  // A daemon child has no stderr: its waiting parent prints the message.
  if (process.send) {
    process.send({ error: text }, () => process.exit(status));
    return;
  }
  process.stderr.write(text);
  process.exit(status);
}

/** `-w`: reads the key passphrase from the terminal without echoing it (or a line from a pipe). */
async function askPassphrase(): Promise<string> {
  process.stderr.write('Enter PEM pass phrase: ');
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const rl = createInterface({ input: stdin, terminal: false });
    try {
      const [line] = (await once(rl, 'line')) as [string];
      return line;
    } finally {
      rl.close();
    }
  }
  stdin.setRawMode(true);
  stdin.resume();
  let text = '';
  try {
    for await (const chunk of stdin as AsyncIterable<Buffer>) {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return text;
        if (ch === '\u0003') throw new ExitError(EXIT_USAGE, 'interrupted');
        text = ch === '\u007f' ? text.slice(0, -1) : text + ch;
      }
    }
    return text;
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write('\n');
  }
}

function passphraseFromParent(): Promise<string> {
  return new Promise((resolve) => {
    process.once('message', (message: { passphrase?: string }) => {
      resolve(message.passphrase ?? '');
    });
  });
}

/**
 * `-d`: runs this same command in a detached child with no stdio (logs go to -l, as with the
 * reference's daemon) and exits 0 once it listens, or with its status if it fails to start.
 */
function daemonize(argv: readonly string[], passphrase: string | undefined): Promise<never> {
  const script = process.argv[1] ?? '';
  const child = spawn(process.execPath, [...process.execArgv, script, ...argv, '--no-daemon'], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    env: { ...process.env, TENTACLE_SERVER_DAEMON_CHILD: '1' },
  });
  // The child has no terminal: it gets the passphrase asked here over the IPC channel.
  if (passphrase !== undefined) child.send({ passphrase });
  return new Promise<never>(() => {
    child.on('message', (message: { error?: string }) => {
      if (message.error !== undefined) {
        process.stderr.write(message.error);
        return;
      }
      child.disconnect();
      child.unref();
      process.exit(0);
    });
    child.once('exit', (code) => {
      process.exit(code ?? EXIT_RUNTIME);
    });
  });
}

/** The command line, with -h, -v and -S answered here (each exits). */
function readArgs(argv: string[]): ServerArgs {
  let args: ServerArgs;
  try {
    args = parseServerArgs(argv);
  } catch (err) {
    process.stdout.write(`${(err as Error).message}\n\n${SERVER_USAGE}`);
    process.exit(EXIT_USAGE);
  }
  if (args.help) {
    process.stdout.write(SERVER_USAGE);
    process.exit(EXIT_USAGE);
  }
  if (args.version) {
    process.stdout.write(
      `tentacle-server ${packageVersion()} (protocol of tentacle_server 0.6.2)\n`,
    );
    process.exit(0);
  }
  if (args.service !== undefined) fail(EXIT_USAGE, 'Windows services are only available on Win32.');
  return args;
}

/** The settings from the config file (-F) and the flags; what cannot run exits here. */
function loadSettings(args: ServerArgs): {
  settings: TentacleSettings;
  warnings: string[];
  unknownKeys: string[];
} {
  let loaded;
  try {
    const file = args.configFile !== undefined ? readConfFile(args.configFile) : undefined;
    const resolved = resolveTentacleSettings({ ...(file ? { file } : {}), flags: args.flags });
    loaded = {
      settings: resolved.values,
      warnings: resolved.warnings,
      unknownKeys: resolved.unknownFileKeys,
    };
  } catch (err) {
    fail(EXIT_CONFIG, (err as Error).message);
  }
  const { settings } = loaded;
  if (settings.directory === undefined && settings.proxy_ip === undefined) {
    process.stdout.write(`a storage directory (-s) is required\n\n${SERVER_USAGE}`);
    process.exit(EXIT_USAGE);
  }
  if (settings.use_libwrap) fail(EXIT_CONFIG, 'TCP wrappers (-T) are not supported.');
  return loaded;
}

/** Config warnings, unknown keys (with the nearest known one) and running as root. */
function logStartupNotes(logger: Logger, warnings: string[], unknownKeys: string[]): void {
  for (const w of warnings) logger.warn({ event: 'config_warning' }, w);
  const known = Object.keys(TENTACLE_SETTINGS);
  for (const key of unknownKeys) {
    const suggestion = nearestKey(key, known);
    const hint = suggestion === undefined ? '' : `; did you mean ${suggestion}?`;
    logger.warn(
      { event: 'config_unknown_key', key },
      `unknown configuration key ${key} ignored${hint}`,
    );
  }
  if (process.getuid?.() === 0) {
    logger.warn(
      { event: 'running_as_root' },
      'running as root: prefer an unprivileged user (the reference refuses root)',
    );
  }
}

/** Creates the server and listens; a configuration or bind failure exits. */
async function startServer(
  settings: TentacleSettings,
  passphrase: string | undefined,
  logger: Logger,
): Promise<TentacleServer> {
  let server: TentacleServer;
  try {
    server = createTentacleServer(
      serverOptionsFromSettings(settings, passphrase !== undefined ? { passphrase } : {}),
      {
        logger,
        registry: createMetricsRegistry({ defaultMetrics: false }),
        // As the reference's -v: connections and files are logged at the level -v turns on.
        connectionLogLevel: 'info',
      },
    );
  } catch (err) {
    logger.flush();
    fail(EXIT_CONFIG, (err as Error).message);
  }
  try {
    const addresses = await server.listen();
    logger.info(
      { event: 'started', addresses: addresses.map((a) => `${a.address}:${a.port}`) },
      'tentacle server started (press Ctrl-C to stop)',
    );
  } catch (err) {
    logger.flush();
    fail(EXIT_RUNTIME, (err as Error).message);
  }
  return server;
}

/** SIGINT/SIGTERM close the server (a second one exits at once); SIGHUP reopens the log. */
function handleSignals(server: TentacleServer, logger: Logger): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ event: 'forced_exit', signal }, 'second signal: exiting now');
      logger.flush();
      process.exit(1);
    }
    stopping = true;
    logger.info({ event: 'shutdown', signal }, 'server going down');
    server.close().then(
      () => {
        logger.flush();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ event: 'shutdown_failed', err: (err as Error).message }, 'close failed');
        logger.flush();
        process.exit(EXIT_RUNTIME);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', () => {
    // logrotate: reopen the log file.
    const stream = (logger as unknown as Record<symbol, { reopen?: () => void } | undefined>)[
      pino.symbols.streamSym
    ];
    stream?.reopen?.();
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = readArgs(argv);
  const { settings, warnings, unknownKeys } = loadSettings(args);

  // Before anything uses the libuv pool (the log file is opened just below).
  if (settings.sync === 'always') process.env['UV_THREADPOOL_SIZE'] ??= FSYNC_THREADPOOL_SIZE;

  const isDaemonChild = process.env['TENTACLE_SERVER_DAEMON_CHILD'] === '1';
  let passphrase: string | undefined;
  if (settings.ssl_password) {
    passphrase = isDaemonChild ? await passphraseFromParent() : await askPassphrase();
  }
  if (settings.daemon && !isDaemonChild) await daemonize(argv, passphrase);

  const logger: Logger = createLogger({
    level: levelFor(settings),
    ...(settings.log_file !== undefined ? { file: settings.log_file } : {}),
  });
  logStartupNotes(logger, warnings, unknownKeys);
  const server = await startServer(settings, passphrase, logger);
  if (isDaemonChild) {
    process.chdir('/');
    if (process.send) {
      process.send({ ready: true });
      process.disconnect();
    }
  }
  handleSignals(server, logger);
}

main().catch((err: unknown) => {
  if (err instanceof ExitError) exitWith(err.status, err.message);
  else if (err instanceof ServerUsageError) exitWith(EXIT_USAGE, err.message);
  else exitWith(EXIT_RUNTIME, (err as Error).stack ?? String(err));
});
