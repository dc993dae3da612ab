import net from 'node:net';
import { RejectReason } from '../metrics.js';
import type { SessionCore } from './core.js';
import { SessionState } from './state.js';

/** Proxy mode: relays the rest of the session, byte for byte, to the upstream server (spec §8.1). */
export function startRelay(session: SessionCore): void {
  const proxy = session.config.proxy;
  if (!proxy) return;
  session.state = SessionState.Relay;
  const socket = session.socket;
  socket.pause();
  socket.off('data', session.onData);
  const early = session.parser.takeBuffered();
  session.parser.close();
  const upstream = net.connect({ host: proxy.host, port: proxy.port });
  session.relay = upstream;
  upstream.setNoDelay(true);
  upstream.on('error', (err) => {
    session.reject(RejectReason.Proxy, 'proxy upstream failed', { err: err.message });
  });
  upstream.on('close', () => {
    socket.destroy();
  });
  upstream.once('connect', () => {
    for (const b of early) upstream.write(b);
    upstream.on('data', session.touch);
    socket.on('data', session.touch);
    socket.pipe(upstream);
    upstream.pipe(socket);
    socket.resume();
  });
}
