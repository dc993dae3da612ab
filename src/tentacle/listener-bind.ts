import net from 'node:net';
import type { Logger } from '../core/index.js';

/**
 * Binds one listen address. `0` means every address: IPv6 dual-stack when the host has IPv6,
 * else IPv4. Connections arrive paused (`pauseOnConnect`): the server reads them only once it
 * gives them a slot.
 */
export async function bindAddress(
  address: string,
  port: number,
  onConnection: (socket: net.Socket) => void,
  log: Logger,
): Promise<net.Server> {
  const bindOne = (host: string): Promise<net.Server> => bindHost(host, port, onConnection, log);
  if (address !== '0') return bindOne(address);
  try {
    return await bindOne('::');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') throw err;
    return bindOne('0.0.0.0');
  }
}

function bindHost(
  host: string,
  port: number,
  onConnection: (socket: net.Socket) => void,
  log: Logger,
): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
    server.on('connection', onConnection);
    const onError = (err: Error): void => {
      server.close();
      reject(err);
    };
    server.once('error', onError);
    server.listen({ host, port, ipv6Only: false }, () => {
      server.off('error', onError);
      server.on('error', (err) => {
        log.error({ event: 'listener_error', err: err.message }, 'listener error');
      });
      resolve(server);
    });
  });
}
