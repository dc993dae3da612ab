import type net from 'node:net';

/**
 * The client's address, as every per-address decision sees it (connection cap per address,
 * PASS delay, log lines): the socket's remote address with an IPv4-mapped IPv6 prefix removed,
 * so `::ffff:10.0.0.1` and `10.0.0.1` are one client. This is the single place the server reads
 * it from the socket; a front protocol that carries the agent's own address (PROXY) hands its
 * result to `TentacleServer` in place of this value.
 */
export function peerAddressOf(socket: net.Socket): string {
  return normalizePeerAddress(socket.remoteAddress ?? 'unknown');
}

/** `::ffff:a.b.c.d` → `a.b.c.d`; any other address unchanged. */
export function normalizePeerAddress(address: string): string {
  return address.replace(/^::ffff:(?=\d+\.)/i, '');
}
