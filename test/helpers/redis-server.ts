import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { freePort } from './net.js';

export interface RedisServerOptions {
  /** AOF on (default) or off. */
  readonly appendonly?: boolean;
  readonly appendfsync?: 'always' | 'everysec' | 'no';
  readonly maxmemoryPolicy?: string;
}

/**
 * A `redis-server` of a test's own (the shared one on 6379 keeps nothing on disk): its own free
 * loopback port and temp folder, AOF `appendfsync always` unless told otherwise. It can be
 * killed (SIGKILL: a real crash) and started again on the same port and folder, and is killed
 * and its folder removed when the test ends.
 */
export class RedisServer {
  readonly port: number;
  readonly dir: string;
  readonly options: RedisServerOptions;
  #child: ChildProcess | undefined;

  private constructor(port: number, dir: string, options: RedisServerOptions) {
    this.port = port;
    this.dir = dir;
    this.options = options;
  }

  static async start(t: TestContext, options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(
      await freePort(),
      mkdtempSync(join(tmpdir(), 'ti-redis-')),
      options,
    );
    t.after(async () => {
      await server.kill();
      rmSync(server.dir, { recursive: true, force: true });
    });
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${String(this.port)}`;
  }

  get isRunning(): boolean {
    return this.#child !== undefined;
  }

  /** Starts the process (again) and waits until it answers PING. */
  async restart(): Promise<void> {
    if (this.#child) throw new Error('redis-server already running');
    const o = this.options;
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      (o.appendonly ?? true) ? 'yes' : 'no',
      '--appendfsync',
      o.appendfsync ?? 'always',
      '--maxmemory-policy',
      o.maxmemoryPolicy ?? 'noeviction',
      '--daemonize',
      'no',
      '--logfile',
      join(this.dir, 'redis.log'),
    ];
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.#child = child;
    child.once('exit', () => {
      if (this.#child === child) this.#child = undefined;
    });
    await waitForPing(this.port, 10_000);
  }

  /** Kills the process (SIGKILL by default: a crash, nothing flushed beyond what AOF has). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (!child) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
    this.#child = undefined;
  }
}

async function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    socket.setTimeout(500, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      reply += d.toString('latin1');
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.startsWith('+PONG'));
      }
    });
    socket.on('error', () => {
      resolve(false);
    });
  });
}

async function waitForPing(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await ping(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `redis-server on port ${String(port)} did not answer within ${String(timeoutMs)} ms`,
  );
}
