/**
 * Starts `tentacle-ingest serve` as a child process for the standard scenario (fresh database,
 * temporary spool, loopback ports) and stops it afterwards. The child is the node process
 * itself (no npx/shell in between), so its pid is the one the CPU/RSS sampler watches.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { SERVE_NODE_FLAGS } from '../../src/core/heap.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ServerProcessOptions {
  readonly incomingDir: string;
  readonly database: { host: string; port: number; user: string; password: string; name: string };
  readonly tentaclePort: number;
  /** `/metrics` port, once `serve` has one. */
  readonly httpPort?: number;
  readonly password?: string;
  /** Extra `serve` flags, passed through verbatim (`--server-arg=--dataserver-threads=2`). */
  readonly extraArgs: readonly string[];
  /** Node.js flags before the entry (`--cpu-prof`, `--max-old-space-size=…`). */
  readonly nodeArgs?: readonly string[];
  /** `src/main.ts` (run through tsx) or a compiled entry such as `dist/src/main.js`. */
  readonly entry: string;
  /** Where the server's stdout/stderr go (its JSON log). */
  readonly logPath: string;
  readonly startTimeoutMs: number;
  /**
   * false: a worker-only server (`--no-tentacle`, scale-out mode); it is ready when its HTTP
   * port (required then) accepts connections. Default true.
   */
  readonly listen?: boolean;
}

export interface ServerProcess {
  readonly pid: number;
  readonly args: readonly string[];
  /** Set once the process has exited (e.g. crashed mid-run). */
  exitStatus(): string | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code or signal. */
  stop(graceMs?: number): Promise<string>;
}

export function serveArgs(options: ServerProcessOptions): string[] {
  const db = options.database;
  return [
    'serve',
    '--incomingdir',
    options.incomingDir,
    '--dbhost',
    db.host,
    '--dbport',
    String(db.port),
    '--dbuser',
    db.user,
    ...(db.password === '' ? [] : ['--dbpass', db.password]),
    '--dbname',
    db.name,
    '--tentacle-port',
    String(options.tentaclePort),
    ...(options.httpPort === undefined ? [] : ['--http-port', String(options.httpPort)]),
    ...(options.password === undefined ? [] : ['--tentacle-password', options.password]),
    ...options.extraArgs,
    ...(options.listen === false ? ['--no-tentacle'] : []),
  ];
}

export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const args = serveArgs(options);
  const log = createWriteStream(options.logPath);
  const child = spawn(
    process.execPath,
    // The product's own launch flags (bounded heap), then any the bench user adds.
    [...SERVE_NODE_FLAGS, ...(options.nodeArgs ?? []), ...nodeArgsFor(options.entry), ...args],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start the server process');
  const exited = once(child, 'exit');
  const readyPort = options.listen === false ? options.httpPort : options.tentaclePort;
  try {
    if (readyPort === undefined) throw new Error('a worker-only server needs an HTTP port');
    await waitForPort(readyPort, options.startTimeoutMs, child);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`server did not start (log: ${options.logPath}): ${String(err)}`, {
      cause: err,
    });
  }
  return {
    pid,
    args,
    exitStatus: () =>
      child.exitCode !== null || child.signalCode !== null
        ? String(child.exitCode ?? child.signalCode)
        : undefined,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) {
        return String(child.exitCode ?? child.signalCode);
      }
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const [code, signal] = (await exited) as [number | null, string | null];
      clearTimeout(timer);
      log.end();
      return String(code ?? signal);
    },
  };
}

/** Polls until something accepts TCP connections on 127.0.0.1:port, or the child exits. */
async function waitForPort(port: number, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.end('QUIT\n');
        resolve(true);
      });
      socket.on('error', () => {
        resolve(false);
      });
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`port ${port} not open after ${timeoutMs} ms`);
}

/** A free loopback port: bind to 0, read it, close (STYLE §15). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Node arguments that run `entry`: TypeScript sources through tsx, JavaScript as is. */
export function nodeArgsFor(entry: string): string[] {
  return entry.endsWith('.ts') ? ['--import', 'tsx', entry] : [entry];
}

/** Whether this checkout's `serve` knows a flag (read from its `--help`), e.g. `http-port`. */
export function serveSupportsFlag(flag: string, entry: string): boolean {
  try {
    const help = execFileSync(process.execPath, [...nodeArgsFor(entry), '--help'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 30_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return help.includes(`--${flag} `) || help.includes(`--${flag}\n`);
  } catch {
    return false;
  }
}
