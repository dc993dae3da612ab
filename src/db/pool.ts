import mysql from 'mysql2/promise';
import type { Logger } from '../core/index.js';
import type { DbTls } from './tls.js';

export type DbPool = mysql.Pool;

export interface DbConnectionConfig {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Omitted for the admin connection that creates the database. */
  readonly database?: string;
  /** `dbssl` and friends (tls.ts); undefined = plain TCP. */
  readonly tls?: DbTls | undefined;
}

export interface DbPoolConfig extends DbConnectionConfig {
  readonly database: string;
  /** Concurrent connections (writer batches in flight + readers). */
  readonly connectionLimit: number;
  /** Callers waiting for a connection before `getConnection` fails; never unbounded. */
  readonly queueLimit: number;
  readonly connectTimeoutMs?: number;
}

/**
 * Every session runs in strict mode (the reference is deployed non-strict and silently coerces;
 * we coerce explicitly and want the database to refuse anything we got wrong) and in READ
 * COMMITTED, so a locking read after a peer's commit sees that commit and inserts into history
 * tables take no gap locks.
 */
const SESSION_SETUP =
  "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'; " +
  'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED';

export function connectionOptions(config: DbConnectionConfig): mysql.ConnectionOptions {
  return {
    host: config.host,
    port: config.port,
    user: config.user,
    password: config.password,
    ...(config.database === undefined ? {} : { database: config.database }),
    charset: 'utf8mb4_unicode_ci',
    // DATETIME values stay the strings we wrote; the reference formats them in local time.
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: false,
    // Batches send several statements in one round trip.
    multipleStatements: true,
    connectTimeout: 10_000,
    // A fresh object per call: mysql2 writes into the ssl object it is given.
    ...(config.tls === undefined
      ? {}
      : {
          ssl: {
            ...(config.tls.ca === undefined ? {} : { ca: [...config.tls.ca] }),
            rejectUnauthorized: config.tls.rejectUnauthorized,
            verifyIdentity: config.tls.verifyIdentity,
          },
        }),
  };
}

/** A mysql2 pool with explicit limits (mysql2's default queue is unbounded). */
export function createDbPool(config: DbPoolConfig, deps: { logger: Logger }): DbPool {
  const pool = mysql.createPool({
    ...connectionOptions(config),
    connectTimeout: config.connectTimeoutMs ?? 10_000,
    connectionLimit: config.connectionLimit,
    queueLimit: config.queueLimit,
    waitForConnections: true,
    enableKeepAlive: true,
    keepAliveInitialDelay: 10_000,
    idleTimeout: 60_000,
    maxIdle: config.connectionLimit,
  });
  pool.pool.on('connection', (conn: { query(sql: string, cb: (err: unknown) => void): void }) => {
    conn.query(SESSION_SETUP, (err) => {
      if (err) deps.logger.error({ err }, 'database session setup failed');
    });
  });
  return pool;
}

/** MySQL error codes that mean "the server is not reachable right now", not "bad SQL". */
const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_QUERY_INTERRUPTED',
  'ER_CONNECTION_KILLED',
  'ER_CLIENT_INTERACTION_TIMEOUT',
  'ECONNABORTED',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_LOCK_DEADLOCK',
]);

/** True for outages and lock conflicts worth retrying; false for SQL we got wrong. */
export function isTransientDbError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; fatal?: unknown; message?: unknown };
  if (typeof e.code === 'string' && CONNECTION_ERRORS.has(e.code)) return true;
  if (e.fatal === true) return true;
  return (
    typeof e.message === 'string' && /Pool is closed|connect ETIMEDOUT|Queue limit/i.test(e.message)
  );
}
