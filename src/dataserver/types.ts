/**
 * The dataserver contract between the pure core (XML parsing + processing logic, no database)
 * and the pipeline (spool, worker pool, state cache, batch writer).
 *
 * Flow per file:
 *   1. `parseAgentXml(bytes, fileInfo, options)` (in a worker or inline) → `AgentPacket`, a plain
 *      structured-clone-safe object, or a `ParseFailure { code, message, disposition }`.
 *   2. On the main thread the pipeline looks up the agent's cached `AgentState` (by
 *      `agentLookupKey(packet.agentNameEncoded)`) and all of its `ModuleState`s (keyed by
 *      `moduleLookupKey(nameEncoded)`) and calls
 *      `processPacket(packet, agent, modules, ctx) → PacketOutcome`. No I/O happens in there.
 *   3. The batch writer turns the outcome into rows (Pandora table/column names are given in the
 *      field comments, so the mapping is 1:1), commits, then writes `outcome.agentState` and
 *      `outcome.moduleStates` through to its cache.
 *
 * Rows not yet in the database are referenced through shared `EntityRef` objects whose `id` is 0
 * until the writer INSERTs the row and assigns the auto-increment id. Every row, event and state
 * that points at that entity holds the *same* ref object, so a writer that inserts in dependency
 * order (tagente → tagente_modulo → tagente_estado → data/events) sees the filled id everywhere
 * without any name matching. Refs are mutable on purpose; nothing else in the outcome is.
 *
 * Epoch values are seconds. DATETIME columns are given as `YYYY-MM-DD HH:MM:SS` text in the
 * server process's local time zone (as the reference does; tests pin TZ=UTC).
 */

import type {
  MODULE_CREATION_ONLY_TAGS,
  ModuleColumn,
  ModuleColumnValue,
} from './module-columns.js';

// ---------------------------------------------------------------------------------------------
// Identity

/** Handle on a database row; `id` is 0 until the writer inserts the row and fills it in. */
export interface EntityRef {
  id: number;
}

/** Status codes of tagente_estado.estado and friends. */
export const ModuleStatusCode = {
  Normal: 0,
  Critical: 1,
  Warning: 2,
  Unknown: 3,
  NotInit: 4,
} as const;
export type ModuleStatusCode = (typeof ModuleStatusCode)[keyof typeof ModuleStatusCode];

// ---------------------------------------------------------------------------------------------
// Parser output (spec §1)

/** What the parser needs to know about the file besides its bytes. */
export interface ParseFileInfo {
  /** File modification time (epoch s): the data time when the XML has none (§2.3, D-2). */
  readonly mtimeSec: number;
  /** Server wall clock (epoch s) for `timestamp='AUTO'`. */
  readonly nowSec: number;
}

export interface ParseOptions {
  /** `max_xml_size`: bigger files are refused before parsing (D-11). Default 16 MiB. */
  readonly maxXmlSize: number;
  /** `use_xml_timestamp`: false → file mtime is the data time and the tz offset is 0. */
  readonly useXmlTimestamp: boolean;
  /** D-4 flag: honour a module-level `<timestamp>` of single-datum modules. Default false. */
  readonly useModuleTimestamp: boolean;
  /** Element nesting deeper than this is refused before parsing. */
  readonly maxDepth: number;
  /**
   * Structural limits checked by the validating scan as it reads (`max_modules_per_packet`,
   * `max_datalist_values`, `max_xml_elements`): a packet over one is refused with
   * ERR_XML_LIMIT before the rest of it is read, so what a packet costs in memory is bounded
   * by the limits and not only by its size (a 16 MB file of tiny modules is 158,000 modules).
   */
  readonly limits: XmlLimits;
  /**
   * Tree builder: 'builtin' (default, the validating single-pass scanner, ~10× faster) or
   * 'fast-xml-parser' (after the same validation pass). Both give identical packets.
   */
  readonly xmlParser?: 'builtin' | 'fast-xml-parser';
}

export interface XmlLimits {
  /** `<module>` elements directly under the root. */
  readonly maxModules: number;
  /** `<data>` items in one module's `<datalist>`s (all of them together). */
  readonly maxDatalistValues: number;
  /** Elements in the whole document, root included. */
  readonly maxElements: number;
}

/** How the pipeline must dispose of a file the parser refused. */
export type ParseDisposition =
  /** Rename to `<name>_BADXML` and raise the "Unable to process XML data file" event. */
  | 'badxml'
  /** Delete without an event (e.g. missing agent name, §3.1). */
  | 'drop'
  /** The file could not be read (vanished, EACCES…): not the file's fault; leave it, retry later. */
  | 'io';

/** A refused file, as it crosses the worker boundary (plain data). */
export interface ParseFailure {
  readonly code: string;
  readonly message: string;
  readonly disposition: ParseDisposition;
}

/** One datum of a module: the single `<data>` or one `<datalist>` item, in document order. */
export interface PacketDatum {
  /** Raw text value (no trimming); undefined when the element was empty/absent (→ REJECT, §4.6). */
  readonly value: string | undefined;
  /** Data time (epoch s, tz offset applied once, D-3); undefined = unparsable item timestamp. */
  readonly epoch: number | undefined;
}

/**
 * Module tags that are copied into tagente_modulo only when the module is auto-created (§4.3,
 * §4.4). Values are the raw element text ('' for an empty element); absent tags are undefined.
 * Property names are the XML tag names: the tagente_modulo column names (module-columns.ts)
 * and the three creation-only tags.
 */
export type ModuleCreationTags = {
  readonly [K in ModuleColumn<'tag'> | (typeof MODULE_CREATION_ONLY_TAGS)[number]]?: string;
};

/** One `<module>` of the packet (§1.4), fields already normalised by the parser. */
export interface PacketModule {
  /** `<name>` text with CR/LF removed, otherwise untouched (never empty: empty names are skipped). */
  readonly name: string;
  /** safe_input(name): the tagente_modulo.nombre lookup/insert value. */
  readonly nameEncoded: string;
  /** `<type>` text, 'generic_data' when missing/empty. Used only at creation (D-5). */
  readonly type: string;
  /** `<description>` text; undefined when missing or empty (an empty one keeps the stored text). */
  readonly description: string | undefined;
  /** Raw `<module_interval>` multiplier text ('' counts as 0); undefined when absent. */
  readonly moduleInterval: string | undefined;
  /** Raw `<cron_interval>` text; when present it replaces the computed module_interval. */
  readonly cronInterval: string | undefined;
  /** Unknown tags as `"<tag>: <value><br/>"`, document order (D-15); '' when none. */
  readonly extendedInfo: string;
  /** `<status>` NORMAL/WARNING/CRITICAL (case-insensitive) forcing the status of the data. */
  readonly forcedStatus: ModuleStatusCode | undefined;
  /** `<module_parent>` name (safe_input applied); undefined/'' when none. */
  readonly parentNameEncoded: string | undefined;
  /** `<module_parent_unlink>1</module_parent_unlink>`. */
  readonly parentUnlink: boolean;
  /** Settings adopted only when the module is created. */
  readonly creation: ModuleCreationTags;
  /** Data in document order; empty when the module has only an empty datalist. */
  readonly data: readonly PacketDatum[];
  /** `<alert_template>` names (raw text, document order), attached only at creation. */
  readonly alertTemplates?: readonly string[];
}

/** One item of `<events>` (§1.6): becomes a `system` tevento row. */
export interface PacketEvent {
  /** `data` of the JSON: the event text (raw, encoded when stored). */
  readonly text: string;
  /** `severity` of the JSON → tevento.criticity (0–6, else 0). */
  readonly severity: number;
}

/** Data time of the packet after §3.1 normalisation. */
export interface PacketTime {
  /** Epoch s with the tz offset applied once. */
  readonly epoch: number;
  /** Same instant as DATETIME text: `tagente.ultimo_contacto_remoto`. */
  readonly text: string;
  /** Where it came from: the XML attribute, the file mtime (missing/invalid/disabled), or AUTO. */
  readonly source: 'xml' | 'mtime' | 'auto';
  /**
   * The attribute text as the agent sent it, when it is the data time unchanged (no timezone
   * offset): the alert queue row carries it as the reference does (alerts.md §5.2 #5).
   */
  readonly agentText?: string;
}

/** A parsed `<agent_data>` file (§1.3, §3.1). Plain data: survives structured clone. */
export interface AgentPacket {
  /** `agent_name` attribute as decoded from XML, never empty. */
  readonly agentName: string;
  /** safe_input(agent_name): the tagente.nombre lookup/insert value. */
  readonly agentNameEncoded: string;
  /** safe_input(agent_alias or agent_name) → tagente.alias at creation. */
  readonly aliasEncoded: string;
  readonly time: PacketTime;
  /** `interval` attribute; missing/empty/non-numeric → 300. */
  readonly interval: number;
  /** `timezone_offset` in [-12, 14] hours, else 0; 0 when use_xml_timestamp is off. */
  readonly timezoneOffset: number;
  /** `version` → tagente.agent_version; undefined when absent. */
  readonly version: string | undefined;
  /** `os_name` (creation only, mapped to id_os); '' when absent. */
  readonly osName: string;
  /** `os_version`; undefined when absent or empty ("leave as is"). */
  readonly osVersion: string | undefined;
  /** `group` name for auto-creation; undefined when absent. */
  readonly groupName: string | undefined;
  /** `description` → tagente.comentarios at creation ('' when absent). */
  readonly description: string;
  /** `address` split on ',' and trimmed, empty items removed; [0] is the main address. */
  readonly addresses: readonly string[];
  /** safe_input(parent_agent_name); undefined when absent or empty. */
  readonly parentNameEncoded: string | undefined;
  /** `custom_id` raw (creation only); undefined when absent. */
  readonly customId: string | undefined;
  /** `url_address` raw (creation only); undefined when absent. */
  readonly urlAddress: string | undefined;
  /** `agent_mode` (0 no-learn, 1 learning, 2 autodisable); default 1. */
  readonly agentMode: number;
  /** `satellite_server` name; undefined when absent. */
  readonly satelliteServer: string | undefined;
  /** `<custom_fields>`: raw names and values in document order. */
  readonly customFields: readonly { readonly name: string; readonly value: string }[];
  readonly modules: readonly PacketModule[];
  /** `<events><event>base64(JSON {data, severity})</event>` items, decoded (§1.6). */
  readonly events?: readonly PacketEvent[];
  /** Non-fatal oddities found while parsing (e.g. invalid timestamp replaced by mtime, D-2). */
  readonly warnings: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Cached state (what the hot path reads instead of the database)

/** The tagente columns the logic reads. */
export interface AgentState {
  /** tagente.id_agente */
  readonly ref: EntityRef;
  /** tagente.nombre (encoded) */
  readonly nameEncoded: string;
  /** tagente.alias (encoded) */
  readonly aliasEncoded: string;
  /** tagente.id_grupo */
  readonly groupId: number;
  /** tagente.id_os */
  readonly osId: number;
  /** tagente.modo: 0 no-learn, 1 learning, 2 autodisable */
  readonly mode: number;
  /** tagente.disabled = 1 */
  readonly disabled: boolean;
  /** tagente.intervalo */
  readonly interval: number;
  /** tagente.direccion ('' when NULL) */
  readonly address: string;
  /** tagente.fixed_ip = 1 */
  readonly fixedIp: boolean;
  /** tagente.id_parent */
  readonly parentId: number;
  /** tagente.timezone_offset */
  readonly timezoneOffset: number;
  /** tagente.os_version */
  readonly osVersion: string;
  /** tagente.agent_version */
  readonly agentVersion: string;
  /** tagente.quiet = 1 (no events) */
  readonly quiet: boolean;
  /** tagente.satellite_server */
  readonly satelliteServer: number;
  /**
   * Addresses already linked in taddress_agent, when the cache knows them: lets the logic skip
   * re-linking them on every packet. Undefined = unknown (every address is listed; the writer
   * dedupes).
   */
  readonly linkedAddresses?: readonly string[];
}

/** The tagente_modulo columns the logic reads (settings as stored, adopted at creation). */
export interface ModuleConfig {
  /** tagente_modulo.id_tipo_modulo */
  readonly typeId: number;
  /** ttipo_modulo.nombre of typeId (decoded), drives processing (D-5). */
  readonly typeName: string;
  /** descripcion */
  readonly description: string;
  /** extended_info */
  readonly extendedInfo: string;
  /** module_interval (s) */
  readonly moduleInterval: number;
  /** cron_interval ('' = none) */
  readonly cronInterval: string;
  /** module_ff_interval */
  readonly moduleFfInterval: number;
  /** min, max (accepted data range, §4.6) */
  readonly min: number;
  readonly max: number;
  /** post_process (0 = none) */
  readonly postProcess: number;
  /** history_data = 1 */
  readonly historyData: boolean;
  readonly minWarning: number;
  readonly maxWarning: number;
  readonly minCritical: number;
  readonly maxCritical: number;
  /** str_warning / str_critical (raw, entity-decoded before use) */
  readonly strWarning: string;
  readonly strCritical: string;
  readonly warningInverse: boolean;
  readonly criticalInverse: boolean;
  readonly percentageWarning: boolean;
  readonly percentageCritical: boolean;
  /** warning_time (warning escalation, §4.7) */
  readonly warningTime: number;
  readonly minFfEvent: number;
  readonly minFfEventNormal: number;
  readonly minFfEventWarning: number;
  readonly minFfEventCritical: number;
  /** ff_timeout (s) */
  readonly ffTimeout: number;
  /** ff_type 0 (status_changes counter) or 1 (per-status counters) */
  readonly ffType: number;
  readonly eachFf: boolean;
  readonly disabled: boolean;
  /** delete_pending ≠ 0 */
  readonly deletePending: boolean;
  readonly quiet: boolean;
  readonly criticalInstructions: string;
  readonly warningInstructions: string;
  readonly unknownInstructions: string;
  /** disabled_types_event (JSON text) */
  readonly disabledTypesEvent: string;
  readonly idPolicyModule: number;
  readonly policyLinked: boolean;
  readonly policyAdopted: boolean;
  readonly parentModuleId: number;
  /** Tag names joined by ',' (ttag_module ⋈ ttag): copied into tevento.tags. */
  readonly tags: string;
}

/** The tagente_estado columns (one row per module). */
export interface ModuleStatus {
  /** datos: last value in stored form ('%.5f' numeric or raw string); '' before the first datum */
  readonly datos: string;
  /** estado */
  readonly estado: number;
  /** known_status */
  readonly knownStatus: number;
  /** last_status */
  readonly lastStatus: number;
  /** last_known_status */
  readonly lastKnownStatus: number;
  /** status_changes (TINYINT UNSIGNED, clamped to 255) */
  readonly statusChanges: number;
  /** timestamp: data time of the last processed datum (DATETIME text) */
  readonly timestamp: string;
  /** last_try: time of the last STORED history row (DATETIME text; NULL → '1970-01-01 00:00:00') */
  readonly lastTry: string;
  /** last_try as epoch s (what the compaction rule compares) */
  readonly lastTryEpoch: number;
  /** utimestamp: server time of the last processing */
  readonly utimestamp: number;
  /** current_interval */
  readonly currentInterval: number;
  /** running_by (tserver.id_server) */
  readonly runningBy: number;
  /** last_execution_try (data epoch; now on a rejected datum) */
  readonly lastExecutionTry: number;
  /** last_error (carried through) */
  readonly lastError: number;
  readonly ffStartUtimestamp: number;
  readonly ffNormal: number;
  readonly ffWarning: number;
  readonly ffCritical: number;
  /** last_status_change (epoch s) */
  readonly lastStatusChange: number;
  readonly warningCount: number;
}

/** tagente_datos_inc: previous sample of an incremental module. */
export interface IncrementalSample {
  /** datos */
  readonly datos: number;
  /** utimestamp */
  readonly utimestamp: number;
}

/** Everything the hot path needs about one module. */
export interface ModuleState {
  /** tagente_modulo.id_agente_modulo */
  readonly ref: EntityRef;
  /** tagente_estado.id_agente_estado (0 until inserted) */
  readonly statusRef: EntityRef;
  /** tagente_modulo.nombre (encoded) */
  readonly nameEncoded: string;
  readonly config: ModuleConfig;
  /** undefined when the tagente_estado row is missing (D-7: recreated on the next datum). */
  readonly status: ModuleStatus | undefined;
  /** undefined when there is no tagente_datos_inc row. */
  readonly inc: IncrementalSample | undefined;
}

// ---------------------------------------------------------------------------------------------
// Processing context (spec §7 keys + reference tables held in memory)

/** A ttipo_modulo row. */
export interface ModuleTypeRow {
  readonly id: number;
  /** ttipo_modulo.nombre decoded (e.g. 'generic_data'). */
  readonly name: string;
}

/**
 * Small reference tables, loaded once by the pipeline and held in memory (lookups are
 * case-insensitive, like the SQL collation). The pipeline builds it in state/catalog.ts.
 */
export interface Catalog {
  /** tgrupo.id_grupo by nombre (encoded); undefined when missing. */
  groupIdByName(nameEncoded: string): number | undefined;
  /** Whether a tgrupo row with this id exists. */
  groupExists(id: number): boolean;
  /** tconfig_os fallback: first id_os whose name contains osName (case-insensitive). */
  osIdByName(osName: string): number | undefined;
  /** ttipo_modulo by nombre (encoded). */
  moduleTypeByName(nameEncoded: string): ModuleTypeRow | undefined;
  /** ttipo_modulo by id_tipo. */
  moduleTypeById(id: number): ModuleTypeRow | undefined;
  /** tmodule_group.id_mg by name (encoded, case-insensitive). */
  moduleGroupIdByName(nameEncoded: string): number | undefined;
  /** ttag.id_tag by name (encoded). */
  tagIdByName(nameEncoded: string): number | undefined;
  /** tagent_custom_fields.id_field by name (encoded). */
  customFieldIdByName(nameEncoded: string): number | undefined;
  /** tagente.id_agente by nombre (encoded), for parent_agent_name; undefined when unknown. */
  agentIdByName(nameEncoded: string): number | undefined;
  /** tserver.id_server of a satellite server (type 13) by name; undefined when unknown. */
  satelliteIdByName(name: string): number | undefined;
}

/** The §7 configuration keys the logic obeys (file keys in comments). */
export interface LogicConfig {
  /** autocreate */
  readonly autocreate: boolean;
  /** autocreate_group (id; ≤ 0 = none) */
  readonly autocreateGroup: number;
  /** autocreate_group_name ('' = unset) */
  readonly autocreateGroupName: string;
  /** autocreate_group_force */
  readonly autocreateGroupForce: boolean;
  /** update_parent */
  readonly updateParent: boolean;
  /** dataserver_lifo (enables the stale-data branch of §5.1) */
  readonly dataserverLifo: boolean;
  /** event_auto_validation */
  readonly eventAutoValidation: boolean;
  /** unknown_events */
  readonly unknownEvents: boolean;
  /** warmup_event_interval (s after server start without status events) */
  readonly warmupEventInterval: number;
  /** event_storm_protection (tconfig): no status events at all */
  readonly eventStormProtection: boolean;
  /** graph_precision (event data formatting) */
  readonly graphPrecision: number;
  /** text_going_down_normal, text_going_up_critical, text_going_up_warning, text_going_down_warning */
  readonly textGoingDownNormal: string;
  readonly textGoingUpCritical: string;
  readonly textGoingUpWarning: string;
  readonly textGoingDownWarning: string;
}

export interface ProcessingContext {
  readonly config: LogicConfig;
  readonly catalog: Catalog;
  /** Server wall clock, epoch s. */
  readonly nowSec: number;
  /** Server start time, epoch s (warmup_event_interval). */
  readonly startedAtSec: number;
  /** tserver.id_server → tagente_estado.running_by */
  readonly serverId: number;
  /** servername → tagente.server_name, new_agent event text */
  readonly serverName: string;
  /** Modules (by id) with enabled alerts: their accepted data are listed in `alertData`. */
  readonly alertModules?: { has(moduleId: number): boolean } | undefined;
}

// ---------------------------------------------------------------------------------------------
// Outcome (what the writer must do for one packet)

/** A tagente row to INSERT (all columns the reference writes at creation + this packet's update). */
export interface NewAgentRow {
  /** Filled by the writer after the INSERT; the same object as `agentState.ref`. */
  readonly ref: EntityRef;
  /** nombre (encoded) */
  readonly nombre: string;
  /** alias (encoded) */
  readonly alias: string;
  /** direccion (raw; '' when none) */
  readonly direccion: string;
  /** comentarios (raw, ≤ 255 chars) */
  readonly comentarios: string;
  readonly id_grupo: number;
  readonly id_os: number;
  readonly server_name: string;
  readonly intervalo: number;
  readonly id_parent: number;
  readonly modo: number;
  /** custom_id / url_address: undefined = leave the column default */
  readonly custom_id: string | undefined;
  readonly url_address: string | undefined;
  readonly timezone_offset: number;
  readonly os_version: string;
  readonly agent_version: string;
  /** DATETIME text */
  readonly ultimo_contacto: string;
  readonly ultimo_contacto_remoto: string;
  readonly satellite_server: number;
  readonly update_module_count: 1;
}

/**
 * Per-packet UPDATE of an existing tagente row (§3.4). Undefined fields are not written.
 * `id_agente` = `ref.id`.
 */
export interface AgentUpdate {
  readonly ref: EntityRef;
  /** disabled = 0 (autodisable agent comes back) */
  readonly disabled: 0 | undefined;
  readonly direccion: string | undefined;
  readonly agent_version: string | undefined;
  readonly intervalo: number;
  readonly ultimo_contacto_remoto: string;
  readonly ultimo_contacto: string;
  readonly os_version: string | undefined;
  readonly timezone_offset: number;
  readonly id_parent: number;
  readonly satellite_server: number;
  /** update_module_count = 1 when a module was created or changed status */
  readonly update_module_count: 1 | undefined;
}

/** A tagente_modulo row to INSERT (§4.3) — every column value, already coerced (strict mode). */
export type NewModuleRow = {
  /** id_agente_modulo, filled after INSERT; same object as the new ModuleState.ref */
  readonly ref: EntityRef;
  /** id_agente */
  readonly agentRef: EntityRef;
  /** ttag_module(id_tag, id_agente_modulo) rows to add after the insert */
  readonly tagIds: readonly number[];
} & { readonly [K in Exclude<ModuleColumn<'insert'>, 'id_agente'>]: ModuleColumnValue<K> };

/** UPDATE tagente_modulo SET descripcion, extended_info, module_interval (§4.4). */
export interface ModuleConfigUpdate {
  readonly ref: EntityRef;
  readonly descripcion: string;
  readonly extended_info: string;
  readonly module_interval: number;
}

/** UPDATE tagente_modulo SET parent_module_id (§4.1 links). `parentRef` null → 0. */
export interface ModuleParentLink {
  readonly ref: EntityRef;
  readonly parentRef: EntityRef | null;
}

/**
 * The final tagente_estado values of one module after this packet (at most one per module per
 * outcome). `insert` = the row does not exist yet (new module, or D-7): INSERT it (then fill
 * `statusRef.id`); otherwise UPDATE the row `statusRef.id` (= WHERE id_agente_modulo = ref.id).
 */
export interface StatusWrite {
  readonly insert: boolean;
  /** id_agente_modulo */
  readonly ref: EntityRef;
  /** id_agente_estado */
  readonly statusRef: EntityRef;
  /** id_agente */
  readonly agentRef: EntityRef;
  readonly status: ModuleStatus;
  /** The row as stored before this packet (the cache's verified copy); undefined when unknown. */
  readonly stored?: ModuleStatus | undefined;
}

/** tagente_datos_inc row after this packet: INSERT when `insert`, else UPDATE by module. */
export interface IncrementalWrite {
  readonly insert: boolean;
  /** id_agente_modulo */
  readonly ref: EntityRef;
  readonly sample: IncrementalSample;
}

/** One tagente_datos / tagente_datos_string row kept by the compaction rule (§5). */
export interface HistoryRow {
  /** id_agente_modulo */
  readonly ref: EntityRef;
  /** datos: '%.5f' text for tagente_datos (DOUBLE), raw text for tagente_datos_string */
  readonly datos: string;
  /** utimestamp (data epoch) */
  readonly utimestamp: number;
}

/** tevento.event_type values this core produces. */
export type EventType =
  | 'new_agent'
  | 'error'
  | 'system'
  | 'going_up_critical'
  | 'going_up_warning'
  | 'going_down_warning'
  | 'going_down_normal';

/** A tevento row to INSERT (§5.3). Columns not listed take '' / 0 (id_alert_am, custom_data, …). */
export interface EventRow {
  /**
   * event_auto_validation: before inserting this row, run
   * `UPDATE tevento SET estado = 1, ack_utimestamp = <utimestamp> WHERE estado = 0 AND
   * id_agentmodule = <moduleRef.id>` (it must also catch events of this module inserted
   * earlier in the same batch). Earlier events of the same module in this outcome already
   * carry estado 1.
   */
  readonly autoValidate: boolean;
  /** id_agente (null → 0) */
  readonly agentRef: EntityRef | null;
  /** id_agentmodule (null → 0) */
  readonly moduleRef: EntityRef | null;
  /** id_grupo */
  readonly id_grupo: number;
  /** evento (safe_input applied) */
  readonly evento: string;
  readonly event_type: EventType;
  readonly criticity: number;
  /** estado: 0 new, 1 validated */
  readonly estado: number;
  /** timestamp (DATETIME text, now) and utimestamp (now) */
  readonly timestamp: string;
  readonly utimestamp: number;
  readonly ack_utimestamp: number;
  /** data (safe_input applied, ≤ 255 bytes) */
  readonly data: string;
  /** module_status (-1 → column default for non-module events) */
  readonly module_status: number;
  readonly tags: string;
  /** source ('monitoring_server') */
  readonly source: string;
  readonly critical_instructions: string;
  readonly warning_instructions: string;
  readonly unknown_instructions: string;
}

/** tagent_custom_data(id_field, id_agent, description) upsert. */
export interface CustomDataWrite {
  readonly agentRef: EntityRef;
  readonly id_field: number;
  /** description (safe_input applied) */
  readonly description: string;
}

/** Why a packet wrote nothing (the file is deleted, not renamed). */
export type DropReason =
  | 'autocreate-off' // unknown agent, autocreate 0 (no event)
  | 'no-valid-group' // unknown agent, no usable group (error event in `events`)
  | 'agent-disabled'; // disabled agent not in autodisable mode

export interface PacketOutcome {
  /** Set when nothing but `events` must be written. */
  readonly dropped: DropReason | undefined;
  /** INSERT tagente (new agent) — first. */
  readonly newAgent: NewAgentRow | undefined;
  /** UPDATE tagente (existing agent). */
  readonly agentUpdate: AgentUpdate | undefined;
  /** taddress / taddress_agent: addresses to link to the agent (writer dedupes, §3.5). */
  readonly addresses: readonly string[];
  readonly customData: readonly CustomDataWrite[];
  /** INSERT tagente_modulo (+ ttag_module), in document order. */
  readonly newModules: readonly NewModuleRow[];
  readonly moduleConfigUpdates: readonly ModuleConfigUpdate[];
  readonly statusWrites: readonly StatusWrite[];
  readonly incrementalWrites: readonly IncrementalWrite[];
  /** INSERT tagente_datos */
  readonly numericHistory: readonly HistoryRow[];
  /** INSERT tagente_datos_string */
  readonly stringHistory: readonly HistoryRow[];
  /** INSERT tevento, in order */
  readonly events: readonly EventRow[];
  readonly parentLinks: readonly ModuleParentLink[];
  /** New cached state, to write through after commit (undefined when dropped). */
  readonly agentState: AgentState | undefined;
  /** New states of every module touched by the packet (created or processed). */
  readonly moduleStates: readonly ModuleState[];
  /** Log lines (warn level) about skipped modules/data: invalid type, invalid timestamp, … */
  readonly warnings: readonly string[];
  /** Counters for metrics. */
  readonly stats: PacketStats;
  /** Accepted data of modules with alerts, in processing order (alerts.md §2.1 step 6). */
  readonly alertData?: readonly AlertDatumInput[];
  /** `<alert_template>` names of modules this packet creates (alerts.md §2.3). */
  readonly alertAttachments?: readonly AlertAttachment[];
}

/** One accepted datum whose status row was updated (D-A5), as the alert engine needs it. */
export interface AlertDatumInput {
  readonly agentRef: EntityRef;
  readonly moduleRef: EntityRef;
  /** Stored form: '%.5f' text (numeric) or the raw string. */
  readonly value: string;
  /** The module's new estado (after flip-flop, NOT-INIT and UNKNOWN handling). */
  readonly status: number;
  /** Data epoch. */
  readonly epoch: number;
  /** tagente_estado.datos before this datum ('' for a new module). */
  readonly previousValue: string;
  /** tagente_estado.last_status_change before this datum. */
  readonly lastStatusChange: number;
  /** The data time as text (the agent's own text when unchanged). */
  readonly timestampText: string;
  /** The XML `<status>` (NORMAL, WARNING, CRITICAL) or null. */
  readonly forcedStatus: string | null;
}

export interface AlertAttachment {
  readonly moduleRef: EntityRef;
  readonly names: readonly string[];
}

export interface PacketStats {
  /** Data processed (accepted or rejected). */
  readonly data: number;
  /** Data rejected by §4.6 (invalid, out of range, first inc sample…). */
  readonly rejected: number;
  /** Values compacted away (accepted but not stored). */
  readonly compacted: number;
}

/** The pure entry point; implemented in logic/process-packet.ts. */
export type ProcessPacket = (
  packet: AgentPacket,
  agent: AgentState | undefined,
  modules: ReadonlyMap<string, ModuleState>,
  ctx: ProcessingContext,
) => PacketOutcome;

// ---------------------------------------------------------------------------------------------
// Cache keys and the worker protocol

/**
 * Cache key of an agent or module name: the encoded name lower-cased, because the reference
 * looks names up through a case-insensitive SQL collation (§6.1). Key `AgentState`s by
 * `lookupKey(nameEncoded)` and the `modules` map of `processPacket` by `lookupKey(nameEncoded)`.
 */
export function lookupKey(nameEncoded: string): string {
  return nameEncoded.toLowerCase();
}

/** Message to the parse worker (parse-worker.ts). */
export interface ParseRequest {
  readonly id: number;
  /** The file's bytes (read once by the pipeline; copied to a worker, kept for a retry). */
  readonly bytes: Uint8Array;
  readonly info: ParseFileInfo;
  readonly options: ParseOptions;
}

/** Reply of the parse worker: exactly one of `packet` / `error`. */
export type ParseResponse =
  | { readonly id: number; readonly packet: AgentPacket }
  | { readonly id: number; readonly error: ParseFailure };

/**
 * What a parse worker posts for one request: a ParseResponse, or the packet as JSON text
 * (`decodeParseReply` in parse-worker.ts turns it back into a ParseResponse).
 */
export type ParseReply = ParseResponse | { readonly id: number; readonly packetJson: string };
