/**
 * A `redis-server` of the bench's own for `--queue` runs: a free loopback port, a fresh folder
 * beside the spool (same disk, so the AOF's fsyncs cost what the spool's files cost), AOF with
 * `appendfsync always` as docs/scale-out.md recommends, `noeviction`. Its pid is sampled for CPU
 * like MariaDB's; the shared Redis on 6379 (no persistence, other users) would blur both.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { freePort } from './server-process.js';

export interface RedisProcess {
  readonly pid: number;
  readonly url: string;
  readonly dir: string;
  /** SIGTERM, wait for the exit, remove the folder. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 10_000;

export async function startRedisProcess(parentDir: string): Promise<RedisProcess> {
  const port = await freePort();
  // Absolute: redis-server changes into --dir before it opens the log file.
  const dir = resolve(mkdtempSync(join(parentDir, 'bench-redis-')));
  const args = redisServerArgs(port, dir);
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const pid = child.pid;
  const exited = once(child, 'exit');
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      // A wedged redis-server must not keep the bench (and its folder) alive.
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (pid === undefined) throw new Error('could not start redis-server (is it installed?)');
    await waitForPong(port, READY_TIMEOUT_MS);
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { pid, url: `redis://127.0.0.1:${String(port)}`, dir, stop };
}

export interface RedisServerOptions {
  /** AOF on (default) or off. */
  readonly appendonly?: boolean;
  readonly appendfsync?: 'always' | 'everysec' | 'no';
  readonly maxmemoryPolicy?: string;
}

/**
 * `redis-server` arguments for a private instance (the bench's, a test's): loopback only, no RDB
 * snapshots, AOF `appendfsync always` and `noeviction` unless told otherwise, its log in `dir`.
 */
export function redisServerArgs(
  port: number,
  dir: string,
  options: RedisServerOptions = {},
): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    (options.appendonly ?? true) ? 'yes' : 'no',
    '--appendfsync',
    options.appendfsync ?? 'always',
    '--maxmemory-policy',
    options.maxmemoryPolicy ?? 'noeviction',
    '--logfile',
    join(dir, 'redis.log'),
  ];
}

/** Resolves once 127.0.0.1:port answers PING with PONG; throws after `timeoutMs`. */
export async function waitForPong(port: number, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (await ping(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server on port ${String(port)} did not answer PING`);
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    socket.setTimeout(500, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (!reply.includes('\r\n')) return;
      socket.destroy();
      resolve(reply.startsWith('+PONG'));
    });
    socket.on('error', () => {
      resolve(false);
    });
  });
}
