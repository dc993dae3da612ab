import type { Pool } from 'mysql2/promise';

/**
 * Tables owned by HA (ha.md §2.9.2–2.9.3). `tserver` is the console's table and belongs to the
 * Pandora schema in `src/db`; these three are ours and never read by the console.
 *
 * - `tha_member`: one row per server name; `instance_id` changes at every process start so a
 *   second live process with the same name is detected, `candidate_since` dates the start of
 *   continuous candidacy (preemption waits on it).
 * - `tha_lease`: one row per role; `epoch` is the fencing token, +1 on every acquisition;
 *   `no_master_since` makes the "no master-eligible server" event one per installation.
 * - `tha_master_audit`: every committed fenced transaction with its epoch and DB-clock time
 *   range, so tests (and operators) can prove that no two masters ever acted at once.
 */
export const HA_DDL: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS tha_member (
    server_name VARCHAR(100) NOT NULL PRIMARY KEY,
    instance_id CHAR(36) NOT NULL,
    priority TINYINT UNSIGNED NOT NULL DEFAULT 0,
    candidate TINYINT NOT NULL DEFAULT 0,
    candidate_since DATETIME(3) NULL,
    state VARCHAR(16) NOT NULL DEFAULT 'running',
    last_seen DATETIME(3) NOT NULL,
    started_at DATETIME(3) NOT NULL,
    incoming_dir VARCHAR(1024) NOT NULL DEFAULT '',
    http_port INT UNSIGNED NOT NULL DEFAULT 0
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS tha_lease (
    role VARCHAR(32) NOT NULL PRIMARY KEY,
    holder_name VARCHAR(100) NOT NULL DEFAULT '',
    holder_instance CHAR(36) NOT NULL DEFAULT '',
    holder_priority TINYINT UNSIGNED NOT NULL DEFAULT 0,
    epoch BIGINT UNSIGNED NOT NULL DEFAULT 0,
    acquired_at DATETIME(3) NULL,
    expires_at DATETIME(3) NOT NULL DEFAULT '1970-01-02 00:00:00',
    no_master_since DATETIME(3) NULL
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `INSERT IGNORE INTO tha_lease (role) VALUES ('master')`,
  `CREATE TABLE IF NOT EXISTS tha_master_audit (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    server_name VARCHAR(100) NOT NULL,
    instance_id CHAR(36) NOT NULL,
    epoch BIGINT UNSIGNED NOT NULL,
    action VARCHAR(64) NOT NULL,
    began_at DATETIME(6) NOT NULL,
    ended_at DATETIME(6) NOT NULL,
    detail VARCHAR(255) NOT NULL DEFAULT '',
    KEY epoch_idx (epoch)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
];

/** Creates the HA tables when missing (idempotent; safe for several servers starting at once). */
export async function ensureHaSchema(pool: Pool): Promise<void> {
  for (const statement of HA_DDL) await pool.query(statement);
}
