import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { testDbServer } from './db.js';

/**
 * `tentacle-ingest serve` as an operator runs it (a child process on the real composition root),
 * for the operations tests: signals, remote configuration. Its logs are read from stdout, or
 * from its `log_file` when it has one.
 */
export interface ServeChild {
  readonly child: ChildProcess;
  /** Every log line so far (stdout, or the log file(s) given). */
  logs(): string;
  stderr(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function startServeChild(options: {
  args: readonly string[];
  /** Log files to read instead of stdout (their contents joined, missing ones skipped). */
  logFiles?: readonly string[];
}): Promise<ServeChild> {
  const db = testDbServer();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/main.ts',
      'serve',
      '--dbhost',
      db.host,
      '--dbport',
      String(db.port),
      '--dbuser',
      db.user,
      '--dataserver_threads',
      '0',
      ...options.args,
    ],
    {
      env: { ...process.env, TZ: 'UTC', PANDORA_DBPASS: db.password },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-8000)));
  const logs = (): string =>
    options.logFiles === undefined
      ? out
      : options.logFiles.map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : '')).join('');
  const serve: ServeChild = {
    child,
    logs,
    stderr: () => err,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
  try {
    await waitUntil(
      () => {
        if (child.exitCode !== null) throw new Error(`serve exited: ${err}`);
        return logs().includes('tentacle-ingest serving');
      },
      90_000,
      'serve to start',
    );
  } catch (e) {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw e;
  }
  return serve;
}

/**
 * A Tentacle session written byte for byte, as the Perl client writes it (tentacle.md §3): each
 * step writes its bytes and waits until the replies so far end with what it expects.
 */
export class RawTentacle {
  readonly #socket: net.Socket;
  #received = Buffer.alloc(0);

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on('data', (c: Buffer) => {
      this.#received = Buffer.concat([this.#received, c]);
    });
  }

  static async connect(port: number): Promise<RawTentacle> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new RawTentacle(socket);
  }

  /** Everything the server sent so far. */
  get received(): Buffer {
    return this.#received;
  }

  /** Writes `bytes`, then waits until `expectedTotal` bytes have arrived in all. */
  async step(bytes: string | Buffer, expectedTotal: number): Promise<void> {
    this.#socket.write(bytes);
    await waitUntil(
      () => this.#received.length >= expectedTotal || this.#socket.destroyed,
      10_000,
      `reply to ${JSON.stringify(bytes.toString().slice(0, 40))}`,
    );
  }

  async quit(): Promise<void> {
    const closed = once(this.#socket, 'close');
    this.#socket.end('QUIT\n');
    await closed;
  }
}
