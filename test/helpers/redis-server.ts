import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import {
  redisServerArgs,
  waitForPong,
  type RedisServerOptions,
} from '../../bench/load/redis-process.js';
import { freePort } from './net.js';

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
    const args = redisServerArgs(this.port, this.dir, this.options);
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.#child = child;
    child.once('exit', () => {
      if (this.#child === child) this.#child = undefined;
    });
    await waitForPong(this.port, 10_000);
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
