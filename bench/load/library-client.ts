/** The load driver's connection on top of the project's Tentacle client (`src/tentacle`). */
import { connect } from '../../src/tentacle/client.js';
import type { SenderConnection, SenderTarget } from './sender.js';

export async function openLibraryConnection(target: SenderTarget): Promise<SenderConnection> {
  const session = await connect({
    host: target.host,
    port: target.port,
    timeoutMs: target.timeoutMs,
    ...(target.password === undefined ? {} : { password: target.password }),
    // Agents with `server_ssl 1`: TLS, no client certificate, no server verification.
    ...(target.tls ? { tls: { rejectUnauthorized: false } } : {}),
  });
  return {
    send: (name, bytes) => (target.zip ? session.zsend(name, bytes) : session.send(name, bytes)),
    close: () => session.quit(),
    destroy: () => {
      session.destroy();
    },
  };
}
