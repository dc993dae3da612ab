import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type SettingsTable } from '../core/index.js';

/**
 * Database TLS as Pandora configures it (pandora_server.conf): `dbssl 1` encrypts the session,
 * `dbsslcafile` / `dbsslcapath` name the CA that signed the server's certificate, and
 * `verify_mysql_ssl_cert 1` (the shipped value) refuses a server whose certificate does not
 * chain to it (and, for a host name, does not name it). With verification off the session is
 * still encrypted but anyone on the path can pose as the server.
 */
export const DB_TLS_SETTINGS = {
  dbssl: { kind: 'bool', default: false, help: 'encrypt the database session (TLS)' },
  dbsslcafile: {
    kind: 'string',
    help: "CA file (PEM) that signed the database server's certificate",
  },
  dbsslcapath: {
    kind: 'string',
    help: 'folder of CA certificates (PEM), all loaded; beside or instead of dbsslcafile',
  },
  verify_mysql_ssl_cert: {
    kind: 'bool',
    default: true,
    help: 'with dbssl: refuse a database server whose certificate the CAs do not vouch for (0 = encrypt without checking; the system CAs are used when no CA is given)',
  },
} as const satisfies SettingsTable;

/** What mysql2's `ssl` option receives (checked once at start, shared by every connection). */
export interface DbTls {
  /** PEM certificates; undefined = Node's built-in CA list. */
  readonly ca?: readonly string[];
  readonly rejectUnauthorized: boolean;
  readonly verifyIdentity: boolean;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function certificatesIn(text: string): string[] {
  return text.match(PEM_CERTIFICATE) ?? [];
}

function readCaFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (err) {
    throw new ConfigError(`dbsslcafile ${path}: ${(err as Error).message}`, { cause: err });
  }
  const certs = certificatesIn(text);
  if (certs.length === 0) throw new ConfigError(`dbsslcafile ${path}: no PEM certificate in it`);
  return certs;
}

/**
 * Every PEM certificate of the folder's regular files (OpenSSL's hashed links and the `.pem`
 * or `.crt` files they point to alike; duplicates are harmless). Other files are skipped.
 */
function readCaPath(path: string): string[] {
  let names: string[];
  try {
    names = readdirSync(path).sort();
  } catch (err) {
    throw new ConfigError(`dbsslcapath ${path}: ${(err as Error).message}`, { cause: err });
  }
  const certs = new Set<string>();
  for (const name of names) {
    const file = join(path, name);
    try {
      if (!statSync(file).isFile()) continue;
      for (const cert of certificatesIn(readFileSync(file, 'latin1'))) certs.add(cert);
    } catch {
      // unreadable entry (a dangling link): not a CA
    }
  }
  if (certs.size === 0) throw new ConfigError(`dbsslcapath ${path}: no PEM certificate in it`);
  return [...certs];
}

/** The TLS options of the database keys, or undefined when `dbssl` is off. Throws ConfigError. */
export function dbTlsFromSettings(s: {
  readonly dbssl: boolean;
  readonly dbsslcafile?: string | undefined;
  readonly dbsslcapath?: string | undefined;
  readonly verify_mysql_ssl_cert: boolean;
}): DbTls | undefined {
  if (!s.dbssl) return undefined;
  const ca = [
    ...(s.dbsslcafile === undefined ? [] : readCaFile(s.dbsslcafile)),
    ...(s.dbsslcapath === undefined ? [] : readCaPath(s.dbsslcapath)),
  ];
  const verify = s.verify_mysql_ssl_cert;
  return {
    ...(ca.length > 0 ? { ca } : {}),
    rejectUnauthorized: verify,
    verifyIdentity: verify,
  };
}
