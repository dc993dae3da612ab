import type { IgnoredKeys } from '../core/index.js';

/**
 * Keys of Pandora's shipped `pandora_server.conf` and `tentacle_server.conf` that `serve` reads
 * but does not act on, each with the reason an operator needs (spec conf-keys.md). A key that a
 * settings table honours is never reported here, even if it is still listed (conf-review.ts).
 */

const OTHER_SERVER =
  "another Pandora server's job (network, SNMP, plugins, discovery, ...): set it on the Perl server";
const ALERTS = 'alerts and their mail are not fired by this server: keep them on the Perl server';
const DB_TLS = 'database TLS is not available in this build: the database connection is plain';
const DB_HA =
  "Pandora's database replication HA (pandora_ha); this server's HA is master plus ha_* keys";
const SERVICE =
  'run it under systemd (the shipped unit restarts it and keeps it in the foreground)';
const SELF_REPORT = 'the Perl server reports on itself through an agent; this one through /metrics';
const MASTER_HOUSEKEEPING = "the Perl master's housekeeping: keep one Perl server for it";
const NOT_HERE = 'not done by this dataserver';
const REMOTE_CONFIG =
  "pushes agent configuration from the console side; agents fetch theirs from the listener's filter folders";

const OTHER_SERVER_KEYS = [
  'snmp_logfile',
  'snmpconsole',
  'snmpconsole_threads',
  'snmpconsole_lock',
  'snmpconsole_threshold',
  'translate_variable_bindings',
  'translate_enterprise_strings',
  'snmp_ignore_authfailure',
  'snmp_pdu_address',
  'snmp_trapd',
  'snmp_forward_trap',
  'snmp_forward_ip',
  'snmp_forward_version',
  'snmp_forward_engineid',
  'snmp_forward_community',
  'networkserver',
  'discoveryserver',
  'discovery_threads',
  'java',
  'sap_utils',
  'pluginserver',
  'plugin_exec',
  'predictionserver',
  'wmiserver',
  'network_timeout',
  'rcmd_timeout',
  'rcmd_timeout_bin',
  'ssh_launcher',
  'network_threads',
  'icmp_checks',
  'icmp_packets',
  'critical_on_error',
  'tcp_checks',
  'tcp_timeout',
  'snmp_checks',
  'snmp_timeout',
  'snmp_proc_deadresponse',
  'plugin_threads',
  'plugin_timeout',
  'wmi_timeout',
  'wmi_threads',
  'wmi_client',
  'recon_threads',
  'nmap',
  'fping',
  'nmap_timing_template',
  'recon_timing_template',
  'snmpget',
  'braa',
  'braa_retries',
  'fsnmp',
  'webserver',
  'web_threads',
  'web_timeout',
  'web_engine',
  'inventoryserver',
  'inventory_threads',
  'exportserver',
  'export_threads',
  'eventserver',
  'eventserver_threads',
  'event_window',
  'logserver',
  'logserver_threads',
  'log_window',
  'preload_windows',
  'event_server_cache_ttl',
  'elastic_query_size',
  'icmpserver',
  'icmp_threads',
  'snmpserver',
  'snmp_threads',
  'policy_manager',
  'snmp_storm_protection',
  'snmp_storm_timeout',
  'snmp_storm_silence_period',
  'claim_back_snmp_modules',
  'wuxserver',
  'wux_host',
  'wux_port',
  'wux_webagent_timeout',
  'clean_wux_sessions',
  'syslogserver',
  'syslog_file',
  'syslog_threads',
  'syslog_max',
  'syslog_blacklist',
  'syslog_whitelist',
  'syncserver',
  'sync_port',
  'sync_ca',
  'sync_cert',
  'sync_key',
  'sync_retries',
  'sync_timeout',
  'sync_address',
  'ncmserver',
  'ncmserver_threads',
  'ncm_ssh_utility',
  'netflowserver',
  'netflowserver_threads',
  'ssl_verify',
  'madeserver',
  'madeserver_path',
  'madeserver_threads',
  'madeserver_backend',
  'madeserver_interval',
  'madeserver_min_train',
  'madeserver_max_history',
  'madeserver_autofit',
  'madeserver_sensitivity',
  'console_api_url',
  'console_api_pass',
  'encryption_passphrase',
];

const ALERT_KEYS = [
  'mta_address',
  'mta_port',
  'mta_user',
  'mta_pass',
  'mta_auth',
  'mta_from',
  'mta_encryption',
  'mail_in_separate',
  'mail_subject_encoding',
  'event_inhibit_alerts',
  'global_alert_timeout',
  'alertserver',
  'alertserver_threads',
  'alertserver_warn',
  'alertserver_queue',
];

const DB_HA_KEYS = [
  'ha_interval',
  'ha_mode',
  'ha_hosts',
  'ha_dbuser',
  'ha_dbpass',
  'ha_sshuser',
  'ha_sshport',
  'ha_resync',
  'repl_dbuser',
  'repl_dbpass',
  'ha_connect_retries',
  'splitbrain_autofix',
  'ha_max_splitbrain_retries',
  'ha_max_resync_wait_retries',
  'ha_resync_sleep',
];

const GIS_KEYS = [
  'activate_gis',
  'location_error',
  'recon_reverse_geolocation_file',
  'recon_location_scatter_radius',
  'google_maps_description',
  'openstreetmaps_description',
];

const all = (keys: readonly string[], reason: string): [string, string][] =>
  keys.map((key) => [key, reason]);

/** pandora_server.conf keys `serve` knows and does not act on. */
export const SERVE_IGNORED_KEYS: IgnoredKeys = Object.freeze(
  Object.fromEntries([
    ...all(OTHER_SERVER_KEYS, OTHER_SERVER),
    ...all(ALERT_KEYS, ALERTS),
    ...all(['dbssl', 'dbsslcafile', 'dbsslcapath', 'verify_mysql_ssl_cert'], DB_TLS),
    ...all(DB_HA_KEYS, DB_HA),
    ...all(['daemon', 'restart', 'restart_delay', 'auto_restart'], SERVICE),
    ...all(
      ['self_monitoring', 'self_monitoring_interval', 'self_monitoring_agent_name'],
      SELF_REPORT,
    ),
    ...all(['event_expiry_time', 'event_expiry_window'], MASTER_HOUSEKEEPING),
    ...all(GIS_KEYS, `GIS positions: ${NOT_HERE}`),
    ...all(
      ['dynamic_updates', 'dynamic_warning', 'dynamic_constant'],
      `dynamic thresholds: ${NOT_HERE}`,
    ),
    ...all(['async_recovery', 'unknown_updates', 'event_file'], NOT_HERE),
    ...all(
      ['remote_config', 'remote_config_address', 'remote_config_port', 'remote_config_opts'],
      REMOTE_CONFIG,
    ),
    ['errorlog_file', 'errors go to log_file and to stderr (the journal under systemd)'],
    [
      'thread_log',
      'per-thread state files of the Perl server; see /status and /metrics (http_port)',
    ],
    ['dataserver_smart_queue', 'always on here: one file per agent in flight, in order'],
    [
      'block_size',
      "the Perl servers' task batch; the dataserver batches with dataserver_batch_files",
    ],
    ['unknown_interval', "the HA master's unknown detection runs every ha_unknown_check_ms"],
    ['unknown_block_size', "the HA master's unknown detection updates all due modules at once"],
    [
      'warmup_unknown_interval',
      "the HA master's unknown detection has no warm-up (ha_startup_grace_ms)",
    ],
    ['tentacle_service_watchdog', 'the built-in listener runs in this process (tentacle 1)'],
    ['multiprocess', 'Perl-only; the dataserver parses on worker threads (dataserver_threads)'],
    ['enc_dir', "Perl's character set tables; decoding is built in"],
  ]),
);

/**
 * Keys of the built-in listener's `tentacle_config` file that `serve` overrides or leaves out.
 * The rest of TENTACLE_SETTINGS applies as in tentacle-server.
 */
export const LISTENER_IGNORED_KEYS: IgnoredKeys = Object.freeze({
  directory: 'the listener stores into incomingdir (one spool for both halves)',
  daemon: SERVICE,
  log_file: "serve's log_file takes the listener's lines too",
  quiet: "serve's verbosity applies to the listener too",
  verbose: "serve's verbosity applies to the listener too",
  use_libwrap: 'TCP wrappers are not supported',
  proxy_ip: 'proxy mode is for tentacle-server; serve always stores',
  proxy_port: 'proxy mode is for tentacle-server; serve always stores',
  ssl_password: 'serve cannot ask for a passphrase: use a key without one',
});
