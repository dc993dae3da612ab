import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { ConfigError } from '../core/index.js';
import type { TentacleTlsConfig, TentacleTlsOptions } from './options.js';

/** The TLS side of the configuration: Perl's SSL_version syntax and a context checked at startup. */

const TLS_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;

function tlsVersionToken(token: string): readonly tls.SecureVersion[] | undefined {
  const t = token.toLowerCase().replace(/[._]/g, '');
  switch (t) {
    case 'sslv23':
    case 'tls':
    case 'all':
      return TLS_VERSIONS;
    case 'sslv2':
    case 'sslv3':
      return [];
    case 'tlsv1':
    case 'tlsv10':
      return ['TLSv1'];
    case 'tlsv11':
      return ['TLSv1.1'];
    case 'tlsv12':
      return ['TLSv1.2'];
    case 'tlsv13':
      return ['TLSv1.3'];
    default:
      return undefined;
  }
}

/** Maps Perl's SSL_version (`-z`) to Node's minVersion/maxVersion. */
function tlsVersionRange(
  spec: string | undefined,
): { minVersion: tls.SecureVersion; maxVersion: tls.SecureVersion } | undefined {
  if (spec === undefined || spec.trim() === '') return undefined;
  const allowed = new Set<tls.SecureVersion>();
  const denied = new Set<tls.SecureVersion>();
  let anyPositive = false;
  for (const raw of spec.split(':')) {
    const token = raw.trim();
    if (token === '') continue;
    const negative = token.startsWith('!');
    const versions = tlsVersionToken(negative ? token.slice(1) : token);
    if (!versions) throw new ConfigError(`ssl_version: unknown SSL/TLS version "${token}"`);
    for (const v of versions) (negative ? denied : allowed).add(v);
    if (!negative) anyPositive = true;
  }
  const base = anyPositive ? allowed : new Set(TLS_VERSIONS);
  const usable = TLS_VERSIONS.filter((v) => base.has(v) && !denied.has(v));
  const minVersion = usable[0];
  const maxVersion = usable[usable.length - 1];
  if (minVersion === undefined || maxVersion === undefined) {
    throw new ConfigError(`ssl_version "${spec}" leaves no usable TLS version`);
  }
  return { minVersion, maxVersion };
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export function buildTls(options: TentacleTlsOptions): TentacleTlsConfig {
  const cert = readPem(options.cert, 'ssl_cert');
  // Without -k the key must sit in the certificate's PEM, as with the reference.
  const key = options.key !== undefined ? readPem(options.key, 'ssl_key') : cert;
  const ca = options.ca !== undefined ? readPem(options.ca, 'ssl_ca') : undefined;
  const range = tlsVersionRange(options.version);
  const contextOptions: tls.SecureContextOptions = {
    cert,
    key,
    ...(ca ? { ca } : {}),
    ...(range ?? {}),
    ...(options.ciphers !== undefined && options.ciphers !== ''
      ? { ciphers: options.ciphers }
      : {}),
    ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
  };
  try {
    // Fail fast on a missing key, a wrong passphrase or an unknown cipher list.
    tls.createSecureContext(contextOptions);
    return { contextOptions, requireClientCert: ca !== undefined };
  } catch (err) {
    throw new ConfigError(`TLS setup failed: ${(err as Error).message}`, { cause: err });
  }
}
