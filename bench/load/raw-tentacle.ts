/**
 * A minimal Tentacle uploader over `net`/`tls` (spec tentacle.md §2, §3.1): optional
 * `PASS md5hex(md5(pwd))`, then `SEND <name> SIZE n` → `SEND OK`, body, `SEND OK`, and `QUIT`.
 * The bench uses it when the project's client library is not wanted (`--client raw`): it keeps
 * the load generator's own cost as low as possible and depends on nothing but Node.
 */
import { createHash } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { SenderConnection, SenderTarget } from './sender.js';

const MAX_REPLY_BYTES = 1024;

export async function openRawConnection(target: SenderTarget): Promise<SenderConnection> {
  if (target.zip) throw new Error('the raw client has no ZSEND: use --client library');
  const socket = await openSocket(target);
  const lines = new LineReader(socket, target.timeoutMs);
  if (target.password !== undefined && target.password !== '') {
    const inner = createHash('md5').update(target.password).digest();
    socket.write(`PASS ${createHash('md5').update(inner).digest('hex')}\n`);
    await lines.expect('PASS OK');
  }
  return {
    async send(name, bytes) {
      socket.write(`SEND <${name}> SIZE ${bytes.length}\n`);
      await lines.expect('SEND OK');
      socket.write(bytes);
      await lines.expect('SEND OK');
    },
    async close() {
      if (!socket.destroyed) {
        await new Promise<void>((resolve) => socket.end('QUIT\n', resolve));
      }
      socket.destroy();
    },
    destroy() {
      socket.destroy();
    },
  };
}

function openSocket(target: SenderTarget): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = target.tls
      ? tlsConnect({ host: target.host, port: target.port, rejectUnauthorized: false })
      : netConnect({ host: target.host, port: target.port });
    const timer = setTimeout(() => {
      socket.destroy(new Error(`connect to ${target.host}:${target.port} timed out`));
    }, target.timeoutMs);
    socket.once(target.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Waits for one `\n`-terminated reply at a time; the protocol is strictly lock step. */
class LineReader {
  readonly #socket: Socket;
  readonly #timeoutMs: number;
  #buffered = '';
  #waiter: ((err: Error | undefined) => void) | undefined;
  #failure: Error | undefined;

  constructor(socket: Socket, timeoutMs: number) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.#buffered += chunk;
      if (this.#buffered.length > MAX_REPLY_BYTES) this.#fail(new Error('reply too long'));
      this.#wake(undefined);
    });
    socket.on('error', (err) => {
      this.#fail(err);
    });
    socket.on('close', () => {
      this.#fail(new Error('connection closed by the server'));
    });
  }

  async expect(reply: string): Promise<void> {
    const line = await this.#readLine();
    if (line !== reply) throw new Error(`expected "${reply}", got "${line}"`);
  }

  async #readLine(): Promise<string> {
    const deadline = performance.now() + this.#timeoutMs;
    for (;;) {
      const end = this.#buffered.indexOf('\n');
      if (end >= 0) {
        const line = this.#buffered.slice(0, end).replace(/\r$/, '');
        this.#buffered = this.#buffered.slice(end + 1);
        return line;
      }
      if (this.#failure) throw this.#failure;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error('timed out waiting for the server');
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#waiter = undefined;
          reject(new Error('timed out waiting for the server'));
        }, left);
        this.#waiter = (err) => {
          clearTimeout(timer);
          this.#waiter = undefined;
          if (err) reject(err);
          else resolve();
        };
      });
    }
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    this.#wake(err);
    this.#socket.destroy();
  }

  #wake(err: Error | undefined): void {
    this.#waiter?.(err);
  }
}
