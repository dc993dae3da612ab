import { readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { describeError, ErrorCode } from '../core/index.js';
import { connect, type ClientSession } from './client.js';
import type { ConnectOptions } from './client-socket.js';
import { ioTimeoutMs, type PerlClientOptions } from './client-options.js';

/** Where the CLI writes: `[log]` lines to `out`, `[err]` lines to `err`, get mode into `cwd`. */
export interface ClientIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly cwd: string;
  /**
   * Called when the run becomes long-lived (the shipper): from then on a stop signal should
   * end it gracefully through the abort signal instead of killing the process at once.
   */
  readonly onLongRun?: () => void;
}

/** Prints as the reference does: `[log]` only with -v, `[err]` unless -q. */
export interface ClientReporter {
  log(message: string): void;
  error(message: string): void;
}

export function createReporter(options: PerlClientOptions, io: ClientIo): ClientReporter {
  return {
    log: (message) => {
      if (options.verbose) io.out(`[log] ${message}`);
    },
    error: (message) => {
      if (!options.quiet) io.err(`[err] ${message}`);
    },
  };
}

/** Connection settings from the reference's options (reads the certificate files). */
export function connectOptionsFrom(options: PerlClientOptions): ConnectOptions {
  return {
    host: options.address,
    port: options.port,
    timeoutMs: ioTimeoutMs(options),
    ...(options.bindAddress === undefined ? {} : { localAddress: options.bindAddress }),
    ...(options.password === undefined ? {} : { password: options.password }),
    ...(options.proxy === undefined ? {} : { httpProxy: options.proxy }),
    ...(options.ssl
      ? {
          tls: {
            ...(options.cert === undefined ? {} : { cert: readFileSync(options.cert) }),
            ...(options.key === undefined ? {} : { key: readFileSync(options.key) }),
            ...(options.ca === undefined ? {} : { ca: readFileSync(options.ca) }),
          },
        }
      : {}),
  };
}

function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * One run of the reference client: connect (TLS, PASS), then send every file in one session
 * under its base name — or, in get mode, fetch every name into the working folder. The first
 * failure ends the run with exit code 1; a rejected upload is followed by `QUIT` as in the
 * reference, a failed download is not.
 */
export async function runPerlClient(
  options: PerlClientOptions,
  files: readonly string[],
  io: ClientIo,
): Promise<number> {
  const report = createReporter(options, io);
  if (!options.getMode && files.length === 0) {
    report.error('No files to send.');
    return 1;
  }
  let session: ClientSession;
  try {
    session = await connect(connectOptionsFrom(options));
  } catch (err) {
    report.error(describeError(err).message);
    return 1;
  }
  report.log(`Connected to ${options.address} port ${options.port}`);
  try {
    if (options.getMode) await receiveAll(session, options, files, io, report);
    else await sendAll(session, options, files, io, report);
  } catch (err) {
    const { code, message } = describeError(err);
    report.error(message);
    const rejectedUpload =
      !options.getMode &&
      (code === ErrorCode.TentacleRejected || code === ErrorCode.TentacleProtocol);
    if (rejectedUpload) await session.quit();
    else session.destroy();
    return 1;
  }
  await session.quit();
  return 0;
}

async function sendAll(
  session: ClientSession,
  options: PerlClientOptions,
  files: readonly string[],
  io: ClientIo,
  report: ClientReporter,
): Promise<void> {
  const paths = files.map((file) => resolve(io.cwd, file));
  // The reference checks the files only once connected, and leaves without QUIT.
  paths.forEach((path, i) => {
    if (!isRegularFile(path)) throw new Error(`File '${files[i] ?? path}' does not exist.`);
  });
  for (const path of paths) {
    const name = basename(path);
    const data = readFileSync(path);
    const hooks = {
      onRequest: (size: number) => {
        const suffix = options.compress ? ' (compressed)' : '';
        report.log(`Request to send file '${name}' size ${size}b${suffix}`);
      },
      onAccepted: () => {
        report.log(`Server responded ${options.compress ? 'ZSEND' : 'SEND'} OK`);
      },
    };
    if (options.compress) await session.zsend(name, data, hooks);
    else await session.send(name, data, hooks);
    report.log('File sent');
  }
}

async function receiveAll(
  session: ClientSession,
  options: PerlClientOptions,
  names: readonly string[],
  io: ClientIo,
  report: ClientReporter,
): Promise<void> {
  for (const name of names) {
    const data = options.compress ? await session.zrecv(name) : await session.recv(name);
    try {
      await writeFile(resolve(io.cwd, name), data);
    } catch (err) {
      throw new Error(`Cannot open file '${name}' for writing.`, { cause: err });
    }
    report.log(`Received file '${name}'`);
  }
}
