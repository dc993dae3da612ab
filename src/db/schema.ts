/**
 * The subset of the Pandora FMS schema (`pandoradb.sql`) that the dataserver reads and writes,
 * with Pandora's own table and column names and types, so a console pointed at the same
 * database sees exactly what the Perl server would have written. Written from the published
 * column list (spec dataserver.md §6.2); columns we never touch are kept where a console or a
 * peer server expects them (for example `tserver`, used by HA).
 *
 * Every statement is idempotent (`IF NOT EXISTS`, `INSERT IGNORE` with fixed ids).
 */
import { safeInput } from '../pandora/index.js';

/** Our only addition to a Pandora database: the processed-files ledger (see ledger.ts). */
export const LEDGER_TABLE = 'tingest_ledger';

export const LEDGER_DDL = `CREATE TABLE IF NOT EXISTS \`${LEDGER_TABLE}\` (
  \`seq\` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`file_sha256\` BINARY(32) NOT NULL,
  \`file_name\` VARCHAR(255) NOT NULL DEFAULT '',
  \`server_name\` VARCHAR(100) NOT NULL DEFAULT '',
  \`id_agente\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`utimestamp\` BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (\`seq\`),
  UNIQUE KEY \`file_sha256\` (\`file_sha256\`),
  KEY \`agent_seq\` (\`id_agente\`, \`seq\`),
  KEY \`utimestamp\` (\`utimestamp\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;

const TABLES: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS \`tagente\` (
  \`id_agente\` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`nombre\` VARCHAR(600) NOT NULL DEFAULT '',
  \`direccion\` VARCHAR(100) DEFAULT NULL,
  \`comentarios\` VARCHAR(255) DEFAULT '',
  \`id_grupo\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`ultimo_contacto\` DATETIME NOT NULL DEFAULT '1970-01-01 00:00:00',
  \`modo\` TINYINT NOT NULL DEFAULT 0,
  \`intervalo\` INT UNSIGNED NOT NULL DEFAULT 300,
  \`id_os\` INT UNSIGNED DEFAULT 0,
  \`os_version\` VARCHAR(100) DEFAULT '',
  \`agent_version\` VARCHAR(100) DEFAULT '',
  \`ultimo_contacto_remoto\` DATETIME DEFAULT '1970-01-01 00:00:00',
  \`disabled\` TINYINT NOT NULL DEFAULT 0,
  \`remote\` TINYINT NOT NULL DEFAULT 0,
  \`id_parent\` INT UNSIGNED DEFAULT 0,
  \`custom_id\` VARCHAR(255) DEFAULT '',
  \`server_name\` VARCHAR(100) DEFAULT '',
  \`cascade_protection\` TINYINT NOT NULL DEFAULT 0,
  \`cascade_protection_module\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`timezone_offset\` TINYINT NULL DEFAULT 0,
  \`icon_path\` VARCHAR(127) NULL DEFAULT NULL,
  \`update_gis_data\` TINYINT NOT NULL DEFAULT 1,
  \`url_address\` MEDIUMTEXT NULL,
  \`quiet\` TINYINT NOT NULL DEFAULT 0,
  \`normal_count\` BIGINT NOT NULL DEFAULT 0,
  \`warning_count\` BIGINT NOT NULL DEFAULT 0,
  \`critical_count\` BIGINT NOT NULL DEFAULT 0,
  \`unknown_count\` BIGINT NOT NULL DEFAULT 0,
  \`notinit_count\` BIGINT NOT NULL DEFAULT 0,
  \`total_count\` BIGINT NOT NULL DEFAULT 0,
  \`fired_count\` BIGINT NOT NULL DEFAULT 0,
  \`update_module_count\` TINYINT NOT NULL DEFAULT 0,
  \`update_alert_count\` TINYINT NOT NULL DEFAULT 0,
  \`update_secondary_groups\` TINYINT NOT NULL DEFAULT 0,
  \`alias\` VARCHAR(600) NOT NULL DEFAULT '',
  \`transactional_agent\` TINYINT NOT NULL DEFAULT 0,
  \`alias_as_name\` TINYINT NOT NULL DEFAULT 0,
  \`safe_mode_module\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`cps\` INT NOT NULL DEFAULT 0,
  \`satellite_server\` INT NOT NULL DEFAULT 0,
  \`fixed_ip\` TINYINT NOT NULL DEFAULT 0,
  PRIMARY KEY (\`id_agente\`),
  KEY \`nombre\` (\`nombre\`(255)),
  KEY \`direccion\` (\`direccion\`),
  KEY \`disabled\` (\`disabled\`),
  KEY \`id_grupo\` (\`id_grupo\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`tagente_modulo\` (
  \`id_agente_modulo\` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`id_agente\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`id_tipo_modulo\` SMALLINT NOT NULL DEFAULT 0,
  \`descripcion\` TEXT,
  \`extended_info\` TEXT,
  \`nombre\` TEXT,
  \`unit\` TEXT,
  \`id_policy_module\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`max\` BIGINT DEFAULT 0,
  \`min\` BIGINT DEFAULT 0,
  \`module_interval\` INT UNSIGNED DEFAULT 0,
  \`cron_interval\` VARCHAR(100) DEFAULT '',
  \`module_ff_interval\` INT UNSIGNED DEFAULT 0,
  \`id_module_group\` INT UNSIGNED DEFAULT 0,
  \`id_modulo\` INT UNSIGNED DEFAULT 0,
  \`disabled\` TINYINT UNSIGNED NOT NULL DEFAULT 0,
  \`id_export\` SMALLINT UNSIGNED DEFAULT 0,
  \`post_process\` DOUBLE DEFAULT 0,
  \`custom_id\` VARCHAR(255) DEFAULT '',
  \`history_data\` TINYINT UNSIGNED DEFAULT 1,
  \`min_warning\` DOUBLE DEFAULT 0,
  \`max_warning\` DOUBLE DEFAULT 0,
  \`str_warning\` TEXT,
  \`min_critical\` DOUBLE DEFAULT 0,
  \`max_critical\` DOUBLE DEFAULT 0,
  \`str_critical\` TEXT,
  \`min_ff_event\` INT UNSIGNED DEFAULT 0,
  \`delete_pending\` INT UNSIGNED DEFAULT 0,
  \`policy_linked\` TINYINT UNSIGNED NOT NULL DEFAULT 0,
  \`policy_adopted\` TINYINT UNSIGNED NOT NULL DEFAULT 0,
  \`critical_instructions\` TEXT,
  \`warning_instructions\` TEXT,
  \`unknown_instructions\` TEXT,
  \`quiet\` TINYINT NOT NULL DEFAULT 0,
  \`critical_inverse\` TINYINT UNSIGNED DEFAULT 0,
  \`warning_inverse\` TINYINT UNSIGNED DEFAULT 0,
  \`disabled_types_event\` TEXT,
  \`module_macros\` TEXT,
  \`min_ff_event_normal\` INT UNSIGNED DEFAULT 0,
  \`min_ff_event_warning\` INT UNSIGNED DEFAULT 0,
  \`min_ff_event_critical\` INT UNSIGNED DEFAULT 0,
  \`ff_type\` TINYINT UNSIGNED DEFAULT 0,
  \`each_ff\` TINYINT UNSIGNED DEFAULT 0,
  \`ff_timeout\` INT UNSIGNED DEFAULT 0,
  \`parent_module_id\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`percentage_critical\` TINYINT UNSIGNED DEFAULT 0,
  \`percentage_warning\` TINYINT UNSIGNED DEFAULT 0,
  \`warning_time\` INT UNSIGNED DEFAULT 0,
  \`last_compact\` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (\`id_agente_modulo\`),
  KEY \`main_idx\` (\`id_agente_modulo\`, \`id_agente\`),
  KEY \`tam_agente\` (\`id_agente\`),
  KEY \`id_tipo_modulo\` (\`id_tipo_modulo\`),
  KEY \`disabled\` (\`disabled\`),
  KEY \`module\` (\`id_modulo\`),
  KEY \`nombre\` (\`nombre\`(255)),
  KEY \`module_group\` (\`id_module_group\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`tagente_estado\` (
  \`id_agente_estado\` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`id_agente_modulo\` INT NOT NULL DEFAULT 0,
  \`datos\` MEDIUMTEXT,
  \`timestamp\` DATETIME NOT NULL DEFAULT '1970-01-01 00:00:00',
  \`estado\` INT NOT NULL DEFAULT 0,
  \`known_status\` TINYINT DEFAULT 0,
  \`id_agente\` INT NOT NULL DEFAULT 0,
  \`last_try\` DATETIME DEFAULT NULL,
  \`utimestamp\` BIGINT NOT NULL DEFAULT 0,
  \`current_interval\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`running_by\` SMALLINT UNSIGNED DEFAULT 0,
  \`last_execution_try\` BIGINT NOT NULL DEFAULT 0,
  \`status_changes\` TINYINT UNSIGNED DEFAULT 0,
  \`last_status\` TINYINT DEFAULT 0,
  \`last_known_status\` TINYINT DEFAULT 0,
  \`last_error\` INT NOT NULL DEFAULT 0,
  \`ff_start_utimestamp\` BIGINT DEFAULT 0,
  \`ff_normal\` INT UNSIGNED DEFAULT 0,
  \`ff_warning\` INT UNSIGNED DEFAULT 0,
  \`ff_critical\` INT UNSIGNED DEFAULT 0,
  \`last_dynamic_update\` BIGINT NOT NULL DEFAULT 0,
  \`last_unknown_update\` BIGINT NOT NULL DEFAULT 0,
  \`last_status_change\` BIGINT NOT NULL DEFAULT 0,
  \`warning_count\` INT UNSIGNED DEFAULT 0,
  PRIMARY KEY (\`id_agente_estado\`),
  KEY \`status_index_1\` (\`id_agente_modulo\`),
  KEY \`idx_agente\` (\`id_agente\`),
  KEY \`running_by\` (\`running_by\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`tagente_datos\` (
  \`id_agente_modulo\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`datos\` DOUBLE DEFAULT NULL,
  \`utimestamp\` BIGINT DEFAULT 0,
  KEY \`data_index1\` (\`id_agente_modulo\`, \`utimestamp\`),
  KEY \`idx_utimestamp\` (\`utimestamp\`) USING BTREE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`tagente_datos_string\` (
  \`id_agente_modulo\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`datos\` MEDIUMTEXT,
  \`utimestamp\` INT UNSIGNED NOT NULL DEFAULT 0,
  KEY \`data_string_index_1\` (\`id_agente_modulo\`, \`utimestamp\`),
  KEY \`idx_utimestamp\` (\`utimestamp\`) USING BTREE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`tagente_datos_inc\` (
  \`id_agente_modulo\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`datos\` DOUBLE DEFAULT NULL,
  \`utimestamp\` INT UNSIGNED DEFAULT 0,
  KEY \`data_inc_index_1\` (\`id_agente_modulo\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`tagente_datos_log4x\` (
  \`id_tagente_datos_log4x\` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`id_agente_modulo\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`severity\` TEXT,
  \`message\` TEXT,
  \`stacktrace\` TEXT,
  \`utimestamp\` INT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (\`id_tagente_datos_log4x\`),
  KEY \`data_log4x_index_1\` (\`id_agente_modulo\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`tevento\` (
  \`id_evento\` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`id_agente\` INT NOT NULL DEFAULT 0,
  \`id_usuario\` VARCHAR(255) NOT NULL DEFAULT '0',
  \`id_grupo\` MEDIUMINT NOT NULL DEFAULT 0,
  \`estado\` TINYINT UNSIGNED NOT NULL DEFAULT 0,
  \`timestamp\` DATETIME NOT NULL DEFAULT '1970-01-01 00:00:00',
  \`evento\` TEXT,
  \`utimestamp\` BIGINT NOT NULL DEFAULT 0,
  \`event_type\` ENUM('going_unknown','unknown','alert_fired','alert_recovered','alert_ceased',
    'alert_manual_validation','recon_host_detected','system','error','new_agent',
    'going_up_warning','going_up_critical','going_down_warning','going_down_normal',
    'going_down_critical','going_up_normal','configuration_change','ncm') DEFAULT 'unknown',
  \`id_agentmodule\` INT NOT NULL DEFAULT 0,
  \`id_alert_am\` INT NOT NULL DEFAULT 0,
  \`criticity\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`user_comment\` TEXT,
  \`tags\` TEXT,
  \`source\` TINYTEXT,
  \`id_extra\` TINYTEXT,
  \`critical_instructions\` TEXT,
  \`warning_instructions\` TEXT,
  \`unknown_instructions\` TEXT,
  \`owner_user\` VARCHAR(100) NOT NULL DEFAULT '',
  \`ack_utimestamp\` BIGINT NOT NULL DEFAULT 0,
  \`custom_data\` TEXT,
  \`data\` TINYTEXT,
  \`module_status\` INT NOT NULL DEFAULT 0,
  \`event_custom_id\` TEXT,
  PRIMARY KEY (\`id_evento\`),
  KEY \`idx_agente\` (\`id_agente\`),
  KEY \`idx_agentmodule\` (\`id_agentmodule\`),
  KEY \`idx_utimestamp\` (\`utimestamp\`) USING BTREE,
  KEY \`agente_modulo_estado\` (\`estado\`, \`id_agentmodule\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`tgrupo\` (
  \`id_grupo\` MEDIUMINT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`nombre\` VARCHAR(100) NOT NULL DEFAULT '',
  \`icon\` VARCHAR(50) DEFAULT 'world',
  \`parent\` MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
  \`propagate\` TINYINT UNSIGNED NOT NULL DEFAULT 0,
  \`disabled\` TINYINT UNSIGNED NOT NULL DEFAULT 0,
  \`custom_id\` VARCHAR(255) DEFAULT '',
  \`id_skin\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`description\` TEXT,
  \`contact\` TEXT,
  \`other\` TEXT,
  \`password\` VARCHAR(45) DEFAULT '',
  \`max_agents\` INT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (\`id_grupo\`),
  KEY \`parent_index\` (\`parent\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`tserver\` (
  \`id_server\` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`name\` VARCHAR(100) NOT NULL DEFAULT '',
  \`ip_address\` VARCHAR(100) NOT NULL DEFAULT '',
  \`status\` INT NOT NULL DEFAULT 0,
  \`laststart\` DATETIME NOT NULL DEFAULT '1970-01-01 00:00:00',
  \`keepalive\` DATETIME NOT NULL DEFAULT '1970-01-01 00:00:00',
  \`snmp_server\` TINYINT UNSIGNED NOT NULL DEFAULT 0,
  \`network_server\` TINYINT UNSIGNED NOT NULL DEFAULT 0,
  \`data_server\` TINYINT UNSIGNED NOT NULL DEFAULT 0,
  \`master\` TINYINT UNSIGNED NOT NULL DEFAULT 0,
  \`checksum\` TINYINT UNSIGNED NOT NULL DEFAULT 0,
  \`description\` VARCHAR(255) DEFAULT NULL,
  \`recon_server\` TINYINT UNSIGNED NOT NULL DEFAULT 0,
  \`version\` VARCHAR(25) NOT NULL DEFAULT '',
  \`plugin_server\` TINYINT UNSIGNED NOT NULL DEFAULT 0,
  \`prediction_server\` TINYINT UNSIGNED NOT NULL DEFAULT 0,
  \`wmi_server\` TINYINT UNSIGNED NOT NULL DEFAULT 0,
  \`export_server\` TINYINT UNSIGNED NOT NULL DEFAULT 0,
  \`server_type\` TINYINT UNSIGNED NOT NULL DEFAULT 0,
  \`queued_modules\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`threads\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`lag_time\` INT NOT NULL DEFAULT 0,
  \`lag_modules\` INT NOT NULL DEFAULT 0,
  \`total_modules_running\` INT NOT NULL DEFAULT 0,
  \`my_modules\` INT NOT NULL DEFAULT 0,
  \`server_keepalive\` INT NOT NULL DEFAULT 0,
  \`stat_utimestamp\` BIGINT NOT NULL DEFAULT 0,
  \`exec_proxy\` TINYINT UNSIGNED NOT NULL DEFAULT 0,
  \`port\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`server_keepalive_utimestamp\` BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (\`id_server\`),
  KEY \`name\` (\`name\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`ttipo_modulo\` (
  \`id_tipo\` SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`nombre\` VARCHAR(100) NOT NULL DEFAULT '',
  \`categoria\` INT NOT NULL DEFAULT 0,
  \`descripcion\` VARCHAR(100) NOT NULL DEFAULT '',
  \`icon\` VARCHAR(100) DEFAULT NULL,
  PRIMARY KEY (\`id_tipo\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`tconfig\` (
  \`id_config\` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`token\` VARCHAR(100) NOT NULL DEFAULT '',
  \`value\` TEXT,
  PRIMARY KEY (\`id_config\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`tconfig_os\` (
  \`id_os\` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`name\` VARCHAR(100) NOT NULL DEFAULT '',
  \`description\` VARCHAR(250) DEFAULT '',
  \`icon_name\` VARCHAR(100) DEFAULT '',
  \`previous_name\` TEXT NULL,
  PRIMARY KEY (\`id_os\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`tmodule_group\` (
  \`id_mg\` SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`name\` VARCHAR(150) NOT NULL DEFAULT '',
  PRIMARY KEY (\`id_mg\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`taddress\` (
  \`id_a\` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`ip\` VARCHAR(60) NOT NULL DEFAULT '',
  \`ip_pack\` INT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (\`id_a\`),
  KEY \`ip\` (\`ip\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`taddress_agent\` (
  \`id_ag\` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`id_a\` BIGINT UNSIGNED NOT NULL DEFAULT 0,
  \`id_agent\` MEDIUMINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (\`id_ag\`),
  KEY \`taddress_agent_agent\` (\`id_agent\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`tagent_custom_fields\` (
  \`id_field\` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`name\` VARCHAR(45) NOT NULL DEFAULT '',
  \`display_on_front\` TINYINT NOT NULL DEFAULT 0,
  \`is_password_type\` TINYINT NOT NULL DEFAULT 0,
  \`combo_values\` TEXT,
  \`is_link_enabled\` TINYINT NOT NULL DEFAULT 0,
  PRIMARY KEY (\`id_field\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`tagent_custom_data\` (
  \`id_field\` INT UNSIGNED NOT NULL,
  \`id_agent\` INT UNSIGNED NOT NULL,
  \`description\` TEXT,
  PRIMARY KEY (\`id_field\`, \`id_agent\`),
  FOREIGN KEY (\`id_field\`) REFERENCES \`tagent_custom_fields\`(\`id_field\`)
    ON UPDATE CASCADE ON DELETE CASCADE,
  FOREIGN KEY (\`id_agent\`) REFERENCES \`tagente\`(\`id_agente\`)
    ON UPDATE CASCADE ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`ttag\` (
  \`id_tag\` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`name\` TEXT,
  \`description\` TEXT,
  \`url\` MEDIUMTEXT,
  \`email\` TEXT,
  \`phone\` TEXT,
  \`previous_name\` TEXT,
  PRIMARY KEY (\`id_tag\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`ttag_module\` (
  \`id_tag\` INT NOT NULL,
  \`id_agente_modulo\` INT NOT NULL DEFAULT 0,
  \`id_policy_module\` INT NOT NULL DEFAULT 0,
  PRIMARY KEY (\`id_tag\`, \`id_agente_modulo\`),
  KEY \`idx_id_agente_modulo\` (\`id_agente_modulo\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
];

// ---- Alerts (spec alerts.md §1.2, §1.4) ------------------------------------------------------
// The alert tables the data server reads (definitions, counters) and writes (counters, the
// execution queue that Pandora's Alert Server drains). Kept in one block; see src/dataserver/alerts.

const ALERT_FIELDS = Array.from({ length: 20 }, (_, i) => `  \`field${String(i + 1)}\` TEXT,`).join(
  '\n',
);
const ALERT_RECOVERY_FIELDS = Array.from(
  { length: 20 },
  (_, i) => `  \`field${String(i + 1)}_recovery\` TEXT,`,
).join('\n');

const ALERT_TABLES: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS \`talert_commands\` (
  \`id\` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`name\` VARCHAR(100) NOT NULL DEFAULT '',
  \`command\` TEXT,
  \`id_group\` MEDIUMINT UNSIGNED NULL DEFAULT 0,
  \`description\` TEXT,
  \`internal\` TINYINT DEFAULT 0,
  \`fields_descriptions\` TEXT,
  \`fields_values\` TEXT,
  \`fields_hidden\` TEXT,
  \`previous_name\` TEXT,
  PRIMARY KEY (\`id\`),
  UNIQUE (\`name\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`talert_actions\` (
  \`id\` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`name\` TEXT,
  \`id_alert_command\` INT UNSIGNED NULL DEFAULT 0,
${ALERT_FIELDS}
  \`id_group\` MEDIUMINT UNSIGNED NULL DEFAULT 0,
  \`action_threshold\` INT NOT NULL DEFAULT 0,
${ALERT_RECOVERY_FIELDS}
  \`previous_name\` TEXT,
  PRIMARY KEY (\`id\`),
  UNIQUE KEY \`name\` (\`name\`(255)),
  FOREIGN KEY (\`id_alert_command\`) REFERENCES \`talert_commands\`(\`id\`)
    ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`talert_templates\` (
  \`id\` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`name\` TEXT,
  \`description\` MEDIUMTEXT,
  \`id_alert_action\` INT UNSIGNED NULL,
${ALERT_FIELDS}
  \`type\` ENUM('regex','max_min','max','min','equal','not_equal','warning','critical',
    'onchange','unknown','always','not_normal','complex'),
  \`value\` VARCHAR(255) DEFAULT '',
  \`matches_value\` TINYINT DEFAULT 0,
  \`max_value\` DOUBLE DEFAULT NULL,
  \`min_value\` DOUBLE DEFAULT NULL,
  \`time_threshold\` INT NOT NULL DEFAULT 0,
  \`max_alerts\` INT UNSIGNED NOT NULL DEFAULT 1,
  \`min_alerts\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`time_from\` TIME DEFAULT '00:00:00',
  \`time_to\` TIME DEFAULT '00:00:00',
  \`monday\` TINYINT DEFAULT 1,
  \`tuesday\` TINYINT DEFAULT 1,
  \`wednesday\` TINYINT DEFAULT 1,
  \`thursday\` TINYINT DEFAULT 1,
  \`friday\` TINYINT DEFAULT 1,
  \`saturday\` TINYINT DEFAULT 1,
  \`sunday\` TINYINT DEFAULT 1,
  \`recovery_notify\` TINYINT DEFAULT 0,
${ALERT_RECOVERY_FIELDS}
  \`priority\` TINYINT DEFAULT 0,
  \`id_group\` MEDIUMINT UNSIGNED NULL DEFAULT 0,
  \`special_day\` TINYINT DEFAULT 0,
  \`wizard_level\` ENUM('basic','advanced','nowizard') DEFAULT 'nowizard',
  \`min_alerts_reset_counter\` TINYINT DEFAULT 0,
  \`disable_event\` TINYINT DEFAULT 0,
  \`previous_name\` TEXT,
  \`schedule\` TEXT,
  \`time_window\` ENUM('thirty_days','this_month','seven_days','this_week','one_day','today'),
  \`math_function\` ENUM('avg','min','max','sum'),
  \`condition\` ENUM('lower','greater','equal'),
  PRIMARY KEY (\`id\`),
  KEY \`idx_template_action\` (\`id_alert_action\`),
  FOREIGN KEY (\`id_alert_action\`) REFERENCES \`talert_actions\`(\`id\`)
    ON DELETE SET NULL ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`talert_template_modules\` (
  \`id\` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`id_agent_module\` INT UNSIGNED NOT NULL,
  \`id_alert_template\` INT UNSIGNED NOT NULL,
  \`id_policy_alerts\` INT UNSIGNED NOT NULL DEFAULT 0,
  \`internal_counter\` INT DEFAULT 0,
  \`last_fired\` BIGINT NOT NULL DEFAULT 0,
  \`last_reference\` BIGINT NOT NULL DEFAULT 0,
  \`times_fired\` INT NOT NULL DEFAULT 0,
  \`disabled\` TINYINT DEFAULT 0,
  \`standby\` TINYINT DEFAULT 0,
  \`priority\` TINYINT DEFAULT 0,
  \`force_execution\` TINYINT DEFAULT 0,
  \`disabled_by_downtime\` TINYINT NOT NULL DEFAULT 0,
  PRIMARY KEY (\`id\`),
  KEY \`idx_template_module\` (\`id_agent_module\`),
  FOREIGN KEY (\`id_agent_module\`) REFERENCES \`tagente_modulo\`(\`id_agente_modulo\`)
    ON DELETE CASCADE ON UPDATE CASCADE,
  FOREIGN KEY (\`id_alert_template\`) REFERENCES \`talert_templates\`(\`id\`)
    ON DELETE CASCADE ON UPDATE CASCADE,
  UNIQUE (\`id_agent_module\`, \`id_alert_template\`, \`id_policy_alerts\`),
  KEY \`force_execution\` (\`force_execution\`),
  KEY \`idx_disabled\` (\`disabled\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`talert_template_module_actions\` (
  \`id\` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`id_alert_template_module\` INT UNSIGNED NOT NULL,
  \`id_alert_action\` INT UNSIGNED NOT NULL,
  \`fires_min\` INT UNSIGNED DEFAULT 0,
  \`fires_max\` INT UNSIGNED DEFAULT 0,
  \`module_action_threshold\` INT NOT NULL DEFAULT 0,
  \`last_execution\` BIGINT NOT NULL DEFAULT 0,
  \`recovered\` TINYINT NOT NULL DEFAULT 0,
  PRIMARY KEY (\`id\`),
  FOREIGN KEY (\`id_alert_template_module\`) REFERENCES \`talert_template_modules\`(\`id\`)
    ON DELETE CASCADE ON UPDATE CASCADE,
  FOREIGN KEY (\`id_alert_action\`) REFERENCES \`talert_actions\`(\`id\`)
    ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`talert_calendar\` (
  \`id\` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`name\` VARCHAR(100) NOT NULL DEFAULT '',
  \`id_group\` INT NOT NULL DEFAULT 0,
  \`description\` TEXT,
  PRIMARY KEY (\`id\`),
  UNIQUE (\`name\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`talert_special_days\` (
  \`id\` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`id_calendar\` INT UNSIGNED NOT NULL DEFAULT 1,
  \`id_group\` INT NOT NULL DEFAULT 0,
  \`date\` DATE NOT NULL DEFAULT '1970-01-01',
  \`day_code\` TINYINT NOT NULL,
  \`description\` TEXT,
  PRIMARY KEY (\`id\`),
  FOREIGN KEY (\`id_calendar\`) REFERENCES \`talert_calendar\`(\`id\`)
    ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS \`talert_execution_queue\` (
  \`id\` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  \`data\` LONGTEXT,
  \`utimestamp\` BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (\`id\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
];

/** The seeded schedule "every day, all day" (templates 1 and 3), as the console stores it. */
const ALL_DAY_SCHEDULE = JSON.stringify(
  Object.fromEntries(
    ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'].map((d) => [
      d,
      [{ start: '00:00:00', end: '00:00:00' }],
    ]),
  ),
);

/** [id, name, command, internal]; names and commands stored entity-encoded, as the seed does. */
const ALERT_COMMANDS: readonly (readonly [number, string, string, number])[] = [
  [1, 'eMail', 'Internal type', 1],
  [2, 'Internal Audit', 'Internal type', 1],
  [3, 'Monitoring Event', 'Internal type', 1],
  [
    4,
    'Alertlog',
    'echo _timestamp_ pandora _agent_ _data_ _field1_ _field2_ >> /var/log/pandora/pandora_alert.log',
    0,
  ],
  [5, 'SNMP Trap', '/usr/bin/snmptrap -v 1 -c _field1_ _field2_ _field3_ _field4_ _field5_', 0],
  [6, 'Syslog', 'logger -p daemon.alert Pandora Alert _agent_ _data_ _field1_ _field2_', 0],
  [7, 'Sound Alert', '/usr/bin/play /usr/share/sounds/alarm.wav', 0],
  [8, 'Jabber Alert', 'echo _field3_ | sendxmpp -r _field1_ --chatroom _field2_', 0],
  [9, 'SMS', 'sendsms _field1_ _field2_', 0],
  [10, 'Validate Event', 'Internal type', 1],
  [
    12,
    'Remote agent control',
    '/usr/share/pandora_server/util/udp_client.pl _address_ 41122 "_field1_"',
    0,
  ],
  [13, 'Generate Notification', 'Internal type', 1],
  [14, 'Send report by e-mail', 'Internal type', 1],
  [15, 'Send report by e-mail (from template)', 'Internal type', 1],
];

/** Seeds of §1.4: commands, actions, the three templates and the Default calendar. */
function alertSeedStatements(
  encode: (text: string) => string,
): { sql: string; values: unknown[] }[] {
  const fields = (values: Record<string, string>): string[] =>
    Array.from({ length: 20 }, (_, i) => encode(values[`field${String(i + 1)}`] ?? ''));
  const recovery = (values: Record<string, string>): string[] =>
    Array.from({ length: 20 }, (_, i) => encode(values[`field${String(i + 1)}_recovery`] ?? ''));
  const fieldCols = Array.from({ length: 20 }, (_, i) => `\`field${String(i + 1)}\``).join(', ');
  const recCols = Array.from({ length: 20 }, (_, i) => `\`field${String(i + 1)}_recovery\``).join(
    ', ',
  );
  const actions: [number, string, number, Record<string, string>][] = [
    [
      1,
      'Mail to Admin',
      1,
      {
        field1: 'yourmail@domain.es',
        field2: '[PANDORA] Alert from agent _agent_ on module _module_',
      },
    ],
    [2, 'Restart agent', 12, { field1: 'REFRESH AGENT' }],
    [
      3,
      'Monitoring Event',
      3,
      {
        field1: '_agent_ _module_ generated an event alert (_data_)',
        field2: 'alert_fired',
        field3: 'pandora',
        field5: '4',
        field1_recovery: 'RECOVERED: _agent_ _module_ generated event alert (_data_)',
        field2_recovery: 'alert_ceased',
        field3_recovery: 'pandora',
        field5_recovery: '4',
      },
    ],
    [4, 'Send Report by e-mail', 14, {}],
    [5, 'Send Report by e-mail (from template)', 15, {}],
  ];
  // [id, name, type, action, priority, recovery_notify, time_threshold, matches, min, max, schedule]
  const templates: [
    number,
    string,
    string,
    number | null,
    number,
    number,
    number,
    number,
    number | null,
    number | null,
    string | null,
  ][] = [
    [1, 'Critical condition', 'critical', 1, 4, 1, 86400, 0, null, null, ALL_DAY_SCHEDULE],
    [2, 'Manual alert', 'max_min', null, 1, 0, 86400, 1, 1, 0, null],
    [3, 'Warning condition', 'warning', 1, 3, 1, 86400, 0, null, null, ALL_DAY_SCHEDULE],
  ];
  return [
    {
      sql: 'INSERT IGNORE INTO `talert_commands` (`id`, `name`, `command`, `internal`) VALUES ?',
      values: [
        ALERT_COMMANDS.map(([id, name, command, internal]) => [
          id,
          encode(name),
          encode(command),
          internal,
        ]),
      ],
    },
    {
      sql: `INSERT IGNORE INTO \`talert_actions\` (\`id\`, \`name\`, \`id_alert_command\`, ${fieldCols}, ${recCols}) VALUES ?`,
      values: [
        actions.map(([id, name, command, f]) => [
          id,
          encode(name),
          command,
          ...fields(f),
          ...recovery(f),
        ]),
      ],
    },
    {
      sql: `INSERT IGNORE INTO \`talert_templates\` (\`id\`, \`name\`, \`type\`, \`id_alert_action\`, \`priority\`, \`recovery_notify\`, \`time_threshold\`, \`matches_value\`, \`min_value\`, \`max_value\`, \`schedule\`, \`max_alerts\`, \`min_alerts\`, ${fieldCols}, ${recCols}) VALUES ?`,
      values: [
        templates.map((t) => [
          ...t.slice(0, 1),
          encode(t[1]),
          ...t.slice(2),
          1,
          0,
          ...fields({}),
          ...recovery({}),
        ]),
      ],
    },
    {
      sql: 'INSERT IGNORE INTO `talert_calendar` (`id`, `name`, `id_group`, `description`) VALUES ?',
      values: [[[1, 'Default', 0, 'Default calendar']]],
    },
  ];
}
// ---- end of alerts ---------------------------------------------------------------------------

/** Table names created by {@link TABLES}, in creation order. */
export const PANDORA_TABLES: readonly string[] = [...TABLES, ...ALERT_TABLES].map(
  (ddl) => /^CREATE TABLE IF NOT EXISTS `([a-z0-9_]+)`/.exec(ddl)?.[1] ?? '',
);

export function pandoraTablesDdl(): readonly string[] {
  return [...TABLES, ...ALERT_TABLES];
}

/** Module types (spec §4.5): id, name, category, description. Names are looked up by value. */
const MODULE_TYPES: readonly (readonly [number, string, number, string])[] = [
  [1, 'generic_data', 0, 'Generic numeric'],
  [2, 'generic_proc', 1, 'Generic boolean'],
  [3, 'generic_data_string', 2, 'Generic string'],
  [4, 'generic_data_inc', 0, 'Generic numeric incremental'],
  [5, 'generic_data_inc_abs', 0, 'Generic numeric incremental (absolute)'],
  [6, 'remote_icmp_proc', 3, 'Remote ICMP network agent, boolean data'],
  [7, 'remote_icmp', 3, 'Remote ICMP network agent (latency)'],
  [8, 'remote_tcp', 4, 'Remote TCP network agent, numeric data'],
  [9, 'remote_tcp_proc', 4, 'Remote TCP network agent, boolean data'],
  [10, 'remote_tcp_string', 4, 'Remote TCP network agent, alphanumeric data'],
  [11, 'remote_tcp_inc', 4, 'Remote TCP network agent, incremental data'],
  [15, 'remote_snmp', 5, 'Remote SNMP network agent, numeric data'],
  [16, 'remote_snmp_inc', 5, 'Remote SNMP network agent, incremental data'],
  [17, 'remote_snmp_string', 5, 'Remote SNMP network agent, alphanumeric data'],
  [18, 'remote_snmp_proc', 5, 'Remote SNMP network agent, boolean data'],
  [21, 'async_proc', 7, 'Asynchronous proc data'],
  [22, 'async_data', 6, 'Asynchronous numeric data'],
  [23, 'async_string', 8, 'Asynchronous string data'],
  [25, 'web_analysis', 8, 'Web analysis data'],
  [30, 'web_data', 9, 'Remote HTTP module to check latency'],
  [31, 'web_proc', 9, 'Remote HTTP module to check server response'],
  [32, 'web_content_data', 9, 'Remote HTTP module to retrieve numeric data'],
  [33, 'web_content_string', 9, 'Remote HTTP module to retrieve string data'],
  [34, 'remote_cmd', 10, 'Remote execution, numeric data'],
  [35, 'remote_cmd_proc', 10, 'Remote execution, boolean data'],
  [36, 'remote_cmd_string', 10, 'Remote execution, alphanumeric data'],
  [37, 'remote_cmd_inc', 10, 'Remote execution, incremental data'],
  [38, 'web_server_status_code_string', 9, 'Remote HTTP module to check server status code'],
  [100, 'keep_alive', -1, 'KeepAlive'],
];

const GROUPS: readonly (readonly [number, string, string])[] = [
  [2, 'Servers', 'server_database'],
  [4, 'Firewalls', 'firewall'],
  [8, 'Databases', 'database_gear'],
  [9, 'Network', 'transmit'],
  [10, 'Unknown', 'world'],
  [11, 'Workstations', 'computer'],
  [12, 'Applications', 'applications'],
  [13, 'Web', 'world'],
];

/** OS ids the data server's name mapping uses (spec §3.3), plus their neighbours. */
const OPERATING_SYSTEMS: readonly (readonly [number, string])[] = [
  [1, 'Linux'],
  [2, 'Solaris'],
  [3, 'AIX'],
  [4, 'BSD'],
  [5, 'HP-UX'],
  [7, 'Cisco'],
  [8, 'MacOS'],
  [9, 'Windows'],
  [10, 'Other'],
  [11, 'Network'],
  [13, 'Octopods'],
  [14, 'Embedded'],
  [15, 'Android'],
];

const MODULE_GROUPS: readonly (readonly [number, string])[] = [
  [1, 'General'],
  [2, 'Networking'],
  [3, 'Application'],
  [4, 'System'],
  [5, 'Miscellaneous'],
  [6, 'Performance'],
  [7, 'Database'],
  [8, 'Enviromental'],
  [9, 'Users'],
];

/** Seed statements for a freshly created schema (never run against an existing Pandora DB). */
export function seedStatements(): { sql: string; values: unknown[] }[] {
  return [
    {
      sql: 'INSERT IGNORE INTO `ttipo_modulo` (`id_tipo`, `nombre`, `categoria`, `descripcion`) VALUES ?',
      values: [MODULE_TYPES.map((t) => [...t])],
    },
    {
      sql: 'INSERT IGNORE INTO `tgrupo` (`id_grupo`, `nombre`, `icon`) VALUES ?',
      values: [GROUPS.map((g) => [...g])],
    },
    {
      sql: 'INSERT IGNORE INTO `tconfig_os` (`id_os`, `name`) VALUES ?',
      values: [OPERATING_SYSTEMS.map((o) => [...o])],
    },
    {
      sql: 'INSERT IGNORE INTO `tmodule_group` (`id_mg`, `name`) VALUES ?',
      values: [MODULE_GROUPS.map((g) => [...g])],
    },
    ...alertSeedStatements(safeInput),
  ];
}
