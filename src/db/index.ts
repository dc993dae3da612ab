export { createDbPool, isTransientDbError, connectionOptions } from './pool.js';
export type { DbPool, DbPoolConfig, DbConnectionConfig } from './pool.js';
export { initDatabase, unreachableMessage } from './init.js';
export type { InitDbResult, InitDbOptions } from './init.js';
export {
  LEDGER_TABLE,
  LEDGER_DDL,
  PANDORA_TABLES,
  pandoraTablesDdl,
  seedStatements,
} from './schema.js';
export * from './column-limits.js';
export * from './event-row.js';
export { DB_TLS_SETTINGS, dbTlsFromSettings, type DbTls } from './tls.js';
