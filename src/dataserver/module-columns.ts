/**
 * The tagente_modulo columns the dataserver touches, listed once, each with what the dataserver
 * does with it. The XML reader, the auto-created module row (types.ts `NewModuleRow`), its INSERT,
 * the state loader and the settings signature all take their column lists from here.
 *
 * Uses: `tag` the same-named XML tag is copied into it at creation (§4.3); `insert` written when
 * the module is auto-created; `state` read into the cached module state; `settings` read, never
 * written by us, so a change means another writer (the console) edited the module. The order of
 * the `settings` columns is the order of the signature checksum.
 */

const XML_TAG = ['tag', 'insert', 'state', 'settings'] as const;
const WRITTEN = ['insert', 'state', 'settings'] as const;
const READ_ONLY = ['state', 'settings'] as const;

const MODULE_TABLE = {
  id_agente_modulo: { value: 'number', use: READ_ONLY },
  nombre: { value: 'text', use: WRITTEN },
  id_tipo_modulo: { value: 'number', use: WRITTEN },
  min: { value: 'number', use: XML_TAG },
  max: { value: 'number', use: XML_TAG },
  post_process: { value: 'number', use: XML_TAG },
  history_data: { value: 'number', use: READ_ONLY },
  min_warning: { value: 'number', use: XML_TAG },
  max_warning: { value: 'number', use: XML_TAG },
  min_critical: { value: 'number', use: XML_TAG },
  max_critical: { value: 'number', use: XML_TAG },
  // NULL (the column default) unless the packet has the tag, as the reference leaves them.
  str_warning: { value: 'text or null', use: XML_TAG },
  str_critical: { value: 'text or null', use: XML_TAG },
  warning_inverse: { value: 'number', use: XML_TAG },
  critical_inverse: { value: 'number', use: XML_TAG },
  percentage_warning: { value: 'number', use: READ_ONLY },
  percentage_critical: { value: 'number', use: READ_ONLY },
  warning_time: { value: 'number', use: READ_ONLY },
  min_ff_event: { value: 'number', use: XML_TAG },
  min_ff_event_normal: { value: 'number', use: XML_TAG },
  min_ff_event_warning: { value: 'number', use: XML_TAG },
  min_ff_event_critical: { value: 'number', use: XML_TAG },
  ff_timeout: { value: 'number', use: XML_TAG },
  ff_type: { value: 'number', use: XML_TAG },
  each_ff: { value: 'number', use: XML_TAG },
  disabled: { value: 'number', use: XML_TAG },
  delete_pending: { value: 'number', use: READ_ONLY },
  quiet: { value: 'number', use: XML_TAG },
  critical_instructions: { value: 'text', use: XML_TAG },
  warning_instructions: { value: 'text', use: XML_TAG },
  unknown_instructions: { value: 'text', use: XML_TAG },
  disabled_types_event: { value: 'text', use: WRITTEN },
  id_policy_module: { value: 'number', use: READ_ONLY },
  policy_linked: { value: 'number', use: READ_ONLY },
  policy_adopted: { value: 'number', use: READ_ONLY },
  module_ff_interval: { value: 'number', use: XML_TAG },
  cron_interval: { value: 'text', use: WRITTEN },
  // Not in the settings signature: written by us on update (descripcion, extended_info,
  // module_interval, parent_module_id), or never read back.
  id_agente: { value: 'number', use: ['insert', 'state'] },
  descripcion: { value: 'text', use: ['insert', 'state'] },
  extended_info: { value: 'text', use: ['insert', 'state'] },
  module_interval: { value: 'number', use: ['insert', 'state'] },
  /** 1 = agent module */
  id_modulo: { value: 'number', use: ['insert'] },
  id_module_group: { value: 'number', use: ['insert'] },
  // NULL (the column default) unless the packet has the tag, as the reference leaves it.
  unit: { value: 'text or null', use: ['tag', 'insert'] },
  custom_id: { value: 'text', use: ['tag', 'insert'] },
  module_macros: { value: 'text', use: ['insert'] },
  parent_module_id: { value: 'number', use: ['state'] },
} as const;

type ModuleTable = typeof MODULE_TABLE;
type ModuleColumnUse = ModuleTable[keyof ModuleTable]['use'][number];

/** The tagente_modulo columns with a given use. */
export type ModuleColumn<U extends ModuleColumnUse> = {
  [K in keyof ModuleTable]: U extends ModuleTable[K]['use'][number] ? K : never;
}[keyof ModuleTable];

/** The value the dataserver holds for a column. */
export type ModuleColumnValue<K extends keyof ModuleTable> = {
  number: number;
  text: string;
  'text or null': string | null;
}[ModuleTable[K]['value']];

function columnsFor<U extends ModuleColumnUse>(use: U): readonly ModuleColumn<U>[] {
  return (Object.keys(MODULE_TABLE) as (keyof ModuleTable)[]).filter((c) =>
    (MODULE_TABLE[c].use as readonly ModuleColumnUse[]).includes(use),
  ) as ModuleColumn<U>[];
}

/** Columns copied from the same-named XML tag when a module is auto-created (§4.3). */
export const MODULE_TAG_COLUMNS = columnsFor('tag');
/** Tags also read at creation that have no column of their own (§4.3). */
export const MODULE_CREATION_ONLY_TAGS = ['module_group', 'tags', 'crontab'] as const;
/** The INSERT of an auto-created module. */
export const MODULE_INSERT_COLUMNS = columnsFor('insert');
/** What the state loader reads of each module. */
export const MODULE_STATE_COLUMNS = columnsFor('state');
/** The settings signature of an agent's modules (in checksum order). */
export const MODULE_SETTINGS_COLUMNS = columnsFor('settings');
