import mysql from 'mysql2/promise';
import { describeError, ErrorCode, type Logger, PandoraError } from '../core/index.js';
import { LIVE_COLUMNS_SQL, columnLimitMismatches, type LiveColumn } from './column-limits.js';
import { LEDGER_DDL, PANDORA_TABLES, pandoraTablesDdl, seedStatements } from './schema.js';
import { connectionOptions, type DbConnectionConfig } from './pool.js';

export interface InitDbResult {
  /** True when the database did not exist and was created. */
  readonly createdDatabase: boolean;
  /** 'created' = empty database, full subset + seeds; 'existing' = a Pandora schema found, only our ledger added. */
  readonly schema: 'created' | 'existing';
  /**
   * Where the live columns differ from the limits the dataserver fits values to
   * (column-limits.ts): an older Pandora schema (utf8mb3, shorter columns). Logged at start.
   */
  readonly columnMismatches: readonly string[];
}

export interface InitDbOptions {
  /** Create the database when missing (embedded defaults and `init-db`). */
  readonly createDatabase: boolean;
}

function quoteIdent(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

/** One line a user can act on, for any failure to reach MariaDB. */
export function unreachableMessage(config: DbConnectionConfig, err: unknown): string {
  const { code, message } = describeError(err);
  return `cannot connect to the database at ${config.host}:${config.port} as ${config.user}: ${code ?? ''}${code ? ' ' : ''}${message}`.trim();
}

/**
 * Makes the database usable: creates it when asked and missing; on an empty database creates the
 * Pandora table subset and seeds; on an existing Pandora database (a `tagente` table exists)
 * touches nothing but adds our ledger table. Safe to run at every start.
 */
export async function initDatabase(
  config: DbConnectionConfig & { readonly database: string },
  options: InitDbOptions,
  deps: { logger: Logger },
): Promise<InitDbResult> {
  let admin: mysql.Connection;
  try {
    const { host, port, user, password, tls } = config;
    admin = await mysql.createConnection(connectionOptions({ host, port, user, password, tls }));
  } catch (err) {
    throw new PandoraError(ErrorCode.DbUnavailable, unreachableMessage(config, err), {
      cause: err,
    });
  }
  try {
    const [dbs] = await admin.query<mysql.RowDataPacket[]>(
      'SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
      [config.database],
    );
    let createdDatabase = false;
    if (dbs.length === 0) {
      if (!options.createDatabase) {
        throw new PandoraError(
          ErrorCode.DbUnavailable,
          `database ${config.database} does not exist on ${config.host}:${config.port} (run tentacle-ingest init-db)`,
        );
      }
      await admin.query(
        `CREATE DATABASE IF NOT EXISTS ${quoteIdent(config.database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
      );
      createdDatabase = true;
      deps.logger.info({ database: config.database }, 'database created');
    }
    await admin.query(`USE ${quoteIdent(config.database)}`);
    await admin.query(
      "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
    );
    const [tables] = await admin.query<mysql.RowDataPacket[]>(
      "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'tagente'",
      [config.database],
    );
    let schema: InitDbResult['schema'];
    if (tables.length === 0) {
      for (const ddl of pandoraTablesDdl()) await admin.query(ddl);
      for (const seed of seedStatements()) await admin.query(seed.sql, seed.values);
      schema = 'created';
      deps.logger.info(
        { tables: PANDORA_TABLES.length },
        'Pandora schema subset created and seeded',
      );
    } else {
      schema = 'existing';
      deps.logger.info('existing Pandora schema found; adding only the ingest ledger');
    }
    await admin.query(LEDGER_DDL);
    const [live] = await admin.query<mysql.RowDataPacket[]>(LIVE_COLUMNS_SQL, [config.database]);
    const columnMismatches = columnLimitMismatches(live as unknown as LiveColumn[]);
    if (columnMismatches.length > 0) {
      deps.logger.warn(
        { columns: columnMismatches },
        'the schema differs from the column limits values are fitted to: the database may refuse some values (files kept as _FAILED)',
      );
    }
    return { createdDatabase, schema, columnMismatches };
  } catch (err) {
    if (err instanceof PandoraError) throw err;
    const { code } = describeError(err);
    if (code === 'ECONNREFUSED' || code === 'PROTOCOL_CONNECTION_LOST' || code === 'ETIMEDOUT') {
      throw new PandoraError(ErrorCode.DbUnavailable, unreachableMessage(config, err), {
        cause: err,
      });
    }
    throw err;
  } finally {
    await admin.end().catch(() => undefined);
  }
}
