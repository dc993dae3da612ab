import { once } from 'node:events';
import net from 'node:net';

/**
 * A loopback TCP proxy a test controls, to make a database or a server go away and come back:
 * - `pass`: bytes flow both ways (the default);
 * - `cut()`: every open connection is reset and new ones are reset on accept (the peer is gone);
 * - `blackhole()`: a partition: connections are accepted but nothing flows either way; bytes wait
 *   in the kernel as they would for a partitioned TCP peer, and flow again after `restore()`;
 * - `partition()`: a black hole in which closes are lost too: a side that closes its socket
 *   leaves the other side's connection open for good (a database session that never learns its
 *   client is gone), until `close()`;
 * - `restore()`: back to `pass`.
 */
export type ProxyMode = 'pass' | 'cut' | 'blackhole' | 'partition';

export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  readonly mode: ProxyMode;
  /** Connections currently open through the proxy. */
  readonly openConnections: number;
  cut(): void;
  blackhole(): void;
  partition(): void;
  restore(): void;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket | undefined;
  /** One side closed during a partition: the other is left open and silent until close(). */
  severed?: boolean;
}

/** Modes in which nothing flows: new connections are held paused, open ones are silenced. */
function isSilent(mode: ProxyMode): boolean {
  return mode === 'blackhole' || mode === 'partition';
}

/**
 * Closes a socket with a TCP reset, as a vanished peer would, unless its FIN may still be
 * pending: Node 20 cannot reset a socket whose shutdown has not completed (`end()` called, e.g.
 * by pipe() when the other side ended); resetAndDestroy() then fails with EINVAL and leaves the
 * handle open for good, and the process spins at 100 % CPU when it exits (the test file then
 * ends as the runner's 300 s timeout). Such a socket is destroyed plainly.
 */
export function abortSocket(socket: net.Socket): void {
  if (socket.destroyed) return;
  if (socket.writableEnded) socket.destroy();
  else socket.resetAndDestroy();
}

export async function createTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass';
  const pairs = new Set<Pair>();

  function destroyPair(pair: Pair): void {
    pairs.delete(pair);
    abortSocket(pair.client);
    if (pair.upstream) abortSocket(pair.upstream);
  }

  /** One side of a pair went away: the other side hears of it, unless partitioned. */
  function sideGone(pair: Pair): void {
    if (mode === 'partition' || pair.severed) {
      pair.severed = true;
      return;
    }
    destroyPair(pair);
  }

  function silenceAll(next: 'blackhole' | 'partition'): void {
    mode = next;
    for (const pair of pairs) {
      // pipe() resumes a paused source on 'drain'; unpipe first so the partition holds.
      pair.client.unpipe();
      pair.upstream?.unpipe();
      pair.client.pause();
      pair.upstream?.pause();
    }
  }

  function connectUpstream(pair: Pair): void {
    const upstream = net.connect(target.port, target.host);
    pair.upstream = upstream;
    upstream.on('error', () => {
      sideGone(pair);
    });
    upstream.on('close', () => {
      sideGone(pair);
    });
    pair.client.pipe(upstream);
    upstream.pipe(pair.client);
    if (isSilent(mode)) {
      pair.client.pause();
      upstream.pause();
    }
  }

  const server = net.createServer((client) => {
    const pair: Pair = { client, upstream: undefined };
    client.on('error', () => {
      sideGone(pair);
    });
    client.on('close', () => {
      sideGone(pair);
    });
    if (mode === 'cut') {
      abortSocket(client);
      return;
    }
    pairs.add(pair);
    if (isSilent(mode)) client.pause();
    else connectUpstream(pair);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as net.AddressInfo;

  return {
    host: '127.0.0.1',
    port: address.port,
    get mode() {
      return mode;
    },
    get openConnections() {
      return pairs.size;
    },
    cut() {
      mode = 'cut';
      for (const pair of [...pairs]) destroyPair(pair);
    },
    blackhole() {
      silenceAll('blackhole');
    },
    partition() {
      silenceAll('partition');
    },
    restore() {
      const wasSilent = isSilent(mode);
      mode = 'pass';
      if (!wasSilent) return;
      for (const pair of pairs) {
        if (pair.severed) continue; // its far side stays open and silent, as after a real partition
        if (pair.upstream === undefined) {
          connectUpstream(pair);
        } else {
          pair.client.pipe(pair.upstream);
          pair.upstream.pipe(pair.client);
        }
        pair.client.resume();
        pair.upstream?.resume();
      }
    },
    async close() {
      for (const pair of [...pairs]) destroyPair(pair);
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}
