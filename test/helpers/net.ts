import { once } from 'node:events';
import net from 'node:net';

/**
 * A port free right now on loopback (listen on 0, close). For child processes that must be told
 * their port up front; the small race with another binder is acceptable in tests.
 */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}
