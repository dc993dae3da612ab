import net from 'node:net';
import { ConfigError } from '../core/index.js';
import {
  couldBeProxyHeader,
  plainAddress,
  ProxyHeaderError,
  ProxyHeaderParser,
  type Endpoint,
} from './proxy-protocol.js';

/**
 * Who is on the other end of an accepted connection. Behind a balancer that sends the PROXY
 * protocol, every socket comes from the balancer; the header names the agent. This module reads
 * that header from the raw socket (before any TLS: the balancer writes it in clear ahead of the
 * client's bytes) and only from the balancer addresses the operator listed (`proxy_protocol_from`),
 * as HAProxy's own `accept-proxy` does. Anyone else is a direct client, and a PROXY header from
 * them is refused: otherwise any agent could claim another's address.
 */

/** The one place a connection's client address lives; limits and logs read it from here. */
export interface ClientAddress {
  /** The client's address (IPv4 without the `::ffff:` prefix). */
  readonly address: string;
  readonly port: number;
  /** The balancer's socket address, when a PROXY header named the client. */
  readonly via?: Endpoint | undefined;
}

export interface ProxyProtocolConfig {
  /** Sources allowed to send a PROXY header (and required to). */
  readonly trusted: net.BlockList;
  /** The `proxy_protocol_from` entries, as configured (for logs). */
  readonly from: readonly string[];
  /** How long the header (or, from others, the first bytes) may take to arrive. */
  readonly timeoutMs: number;
}

function socketEndpoint(socket: net.Socket): Endpoint {
  return { address: plainAddress(socket.remoteAddress ?? 'unknown'), port: socket.remotePort ?? 0 };
}

/** A connection without a PROXY header: the socket's own peer. */
export function directClient(socket: net.Socket): ClientAddress {
  return socketEndpoint(socket);
}

/** `proxy_protocol_from`: comma-separated addresses and CIDR blocks (`10.0.0.5,10.1.0.0/16,::1`). */
export function compileTrustedSources(list: string | readonly string[]): {
  trusted: net.BlockList;
  from: string[];
} {
  const items = typeof list === 'string' ? list.split(',') : [...list];
  const from = items.map((s) => s.trim()).filter((s) => s !== '');
  const trusted = new net.BlockList();
  for (const item of from) {
    const [address = '', prefix, extra] = item.split('/');
    const version = net.isIP(address);
    const family = version === 6 ? 'ipv6' : 'ipv4';
    const maxPrefix = version === 6 ? 128 : 32;
    if (version === 0 || extra !== undefined) {
      throw new ConfigError(`proxy_protocol_from: "${item}" is not an address or CIDR block`);
    }
    if (prefix === undefined) {
      trusted.addAddress(address, family);
      continue;
    }
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > maxPrefix) {
      throw new ConfigError(`proxy_protocol_from: "${item}" has an invalid prefix length`);
    }
    trusted.addSubnet(address, Number(prefix), family);
  }
  return { trusted, from };
}

/** Whether `address` is a balancer allowed (and required) to send a PROXY header. */
export function isTrustedSource(config: ProxyProtocolConfig, address: string): boolean {
  const version = net.isIP(address);
  return version !== 0 && config.trusted.check(address, version === 6 ? 'ipv6' : 'ipv4');
}

/**
 * Reads what decides the client address from a paused, unread socket: from a trusted balancer
 * its PROXY header (required), from anyone else the first bytes (which must not start one).
 * Resolves with the client address, the socket paused again and every byte after the header
 * put back, so the TLS handshake or the session reads the client's stream from its start.
 * Rejects with a ProxyHeaderError (malformed, missing, late, or from an address not allowed);
 * the caller closes the socket.
 */
export function acceptProxyHeader(
  socket: net.Socket,
  config: ProxyProtocolConfig,
): Promise<ClientAddress> {
  const peer = socketEndpoint(socket);
  const trusted = isTrustedSource(config, peer.address);
  const parser = trusted ? new ProxyHeaderParser() : undefined;
  let sniffed: Buffer = Buffer.alloc(0);
  return new Promise<ClientAddress>((resolve, reject) => {
    const finish = (outcome: ClientAddress | ProxyHeaderError, rest?: Buffer): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
      if (outcome instanceof ProxyHeaderError) {
        reject(outcome);
        return;
      }
      if (rest && rest.length > 0) socket.unshift(rest);
      resolve(outcome);
    };
    const onData = (chunk: Buffer): void => {
      if (parser) {
        let result;
        try {
          result = parser.push(chunk);
        } catch (err) {
          finish(err as ProxyHeaderError);
          return;
        }
        if (!result) return;
        const { header, rest } = result;
        finish(header.command === 'proxy' ? { ...header.source, via: peer } : peer, rest);
        return;
      }
      sniffed = sniffed.length === 0 ? chunk : Buffer.concat([sniffed, chunk]);
      const verdict = couldBeProxyHeader(sniffed);
      if (verdict === false) finish(peer, sniffed);
      else if (verdict) {
        finish(new ProxyHeaderError('PROXY header from an address not in proxy_protocol_from'));
      }
    };
    const onEnd = (): void => {
      finish(new ProxyHeaderError('connection closed before the PROXY header was complete'));
    };
    const timer = setTimeout(() => {
      finish(
        new ProxyHeaderError(
          trusted ? 'no complete PROXY header in time' : 'no first bytes in time',
        ),
      );
    }, config.timeoutMs);
    timer.unref();
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.resume();
  });
}
