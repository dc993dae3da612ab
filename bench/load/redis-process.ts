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

export async function startRedisProcess(parentDir: string): Promise<RedisProcess> {
  const port = await freePort();
  // Absolute: redis-server changes into --dir before it opens the log file.
  const dir = resolve(mkdtempSync(join(parentDir, 'bench-redis-')));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--maxmemory-policy',
    'noeviction',
    '--logfile',
    join(dir, 'redis.log'),
  ];
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const pid = child.pid;
  const exited = once(child, 'exit');
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
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

async function waitForPong(port: number, timeoutMs: number): Promise<void> {
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
