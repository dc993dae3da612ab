import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * Who may `POST /drain`. Draining takes a server out of service, so on an address reachable
 * from other hosts it needs `http_drain_token`; on loopback only local users reach it.
 */
export type DrainAuth =
  | { readonly kind: 'open' }
  | { readonly kind: 'token'; readonly digest: Buffer }
  | { readonly kind: 'refused' };

/** Outcome of one request: allowed, or the status code and message to refuse it with. */
export type DrainDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly code: 401 | 403; readonly error: string };

/** 127.0.0.0/8, ::1, ::ffff:127.x and `localhost`. 0.0.0.0 / :: listen everywhere: not loopback. */
export function isLoopbackAddress(address: string): boolean {
  const host = address.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host.startsWith('::ffff:127.');
  return false;
}

/** Hashing both sides first gives equal-length buffers, so the comparison is constant-time. */
function digestOf(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

export function drainAuthFor(httpAddress: string, token: string | undefined): DrainAuth {
  if (token !== undefined && token !== '') return { kind: 'token', digest: digestOf(token) };
  return isLoopbackAddress(httpAddress) ? { kind: 'open' } : { kind: 'refused' };
}

/** Reads `Authorization: Bearer <token>`. */
export function decideDrain(auth: DrainAuth, authorization: string | undefined): DrainDecision {
  if (auth.kind === 'open') return { allowed: true };
  if (auth.kind === 'refused') {
    return {
      allowed: false,
      code: 403,
      error: 'POST /drain is off on a non-loopback http_address without http_drain_token',
    };
  }
  const match = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
  if (match?.[1] !== undefined && timingSafeEqual(digestOf(match[1].trim()), auth.digest)) {
    return { allowed: true };
  }
  return {
    allowed: false,
    code: 401,
    error: 'POST /drain needs Authorization: Bearer <http_drain_token>',
  };
}
