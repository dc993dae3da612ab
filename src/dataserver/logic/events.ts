/**
 * tevento rows (spec §5.3): status events with the reference's texts and data formatting, the
 * new-agent event, and the error events of bad files and group-less agents.
 */
import type { EntityRef, EventRow, EventType, LogicConfig } from '../types.js';
import {
  COLUMN_LIMITS,
  EVENT_SOURCE,
  eventText,
  fitEncodedToColumn,
  fitToColumn,
} from '../../db/index.js';
import { safeInput, safeOutput } from '../../pandora/index.js';
import { formatLocalDateTime } from './time.js';
import { formatFixed } from './values.js';

/** Mutable while the packet is processed (later events of a module validate earlier ones). */
export interface MutableEventRow extends Omit<EventRow, 'estado' | 'ack_utimestamp'> {
  estado: number;
  ack_utimestamp: number;
}

export const DEFAULT_EVENT_TEXTS = {
  textGoingDownNormal: "Module '_module_' is going to NORMAL (_data_)",
  textGoingUpCritical: "Module '_module_' is going to CRITICAL (_data_)",
  textGoingUpWarning: "Module '_module_' is going to WARNING (_data_)",
  textGoingDownWarning: "Module '_module_' is going to WARNING (_data_)",
} as const;

const EVENT = COLUMN_LIMITS.tevento;
const MODULE_MACRO = /_module_/gi;
const DATA_MACRO = /_data_/gi;
const TRAILING_ZEROS = /\.?0+$/;

/**
 * Event data text: numeric values printf'd with graph_precision, then trailing zeros stripped
 * only after a decimal point (D-14: precision 0 must not turn "100" into "1").
 */
export function eventDataText(value: string, isString: boolean, graphPrecision: number): string {
  if (isString) return value;
  const fixed = formatFixed(Number(value), graphPrecision);
  return fixed.includes('.') ? fixed.replace(TRAILING_ZEROS, '') : fixed;
}

function eventRow(
  fields: Pick<MutableEventRow, 'agentRef' | 'moduleRef' | 'id_grupo' | 'event_type' | 'criticity'>,
  text: string,
  nowSec: number,
  extra: Partial<MutableEventRow> = {},
): MutableEventRow {
  return {
    autoValidate: false,
    ...fields,
    evento: eventText(text),
    estado: 0,
    timestamp: formatLocalDateTime(nowSec),
    utimestamp: nowSec,
    ack_utimestamp: 0,
    data: '',
    module_status: 0,
    tags: '',
    source: EVENT_SOURCE,
    critical_instructions: '',
    warning_instructions: '',
    unknown_instructions: '',
    ...extra,
  };
}

/** "Unable to process XML data file '<name>'." (spec §2.3), for the pipeline's _BADXML path. */
export function badXmlEvent(fileName: string, nowSec: number, reason?: string): EventRow {
  return eventRow(
    { agentRef: null, moduleRef: null, id_grupo: 0, event_type: 'error', criticity: 0 },
    reason === undefined
      ? `Unable to process XML data file '${fileName}'.`
      : `Unable to process XML data file '${fileName}': ${reason}.`,
    nowSec,
  );
}

/**
 * A file the process died on, again and again, set aside by the poison-file guard (an
 * extension: the reference keeps dying). Critical: an operator must look at it. `keptAs` says
 * where it went (FileStore.keptAs): `as '<name>_FAILED'` in the spool, the quarantine list in
 * queue mode.
 */
export function poisonFileEvent(
  fileName: string,
  deaths: number,
  keptAs: string,
  nowSec: number,
): EventRow {
  return eventRow(
    { agentRef: null, moduleRef: null, id_grupo: 0, event_type: 'error', criticity: 4 },
    `Unable to process XML data file '${fileName}': the server died ${String(deaths)} times while processing it (out of memory or a crash); set aside ${keptAs}.`,
    nowSec,
  );
}

/** "More than N XML files queued for agent <key>" (spec §2.1, D-13: system, criticity 3). */
export function backlogEvent(agentKey: string, limit: number, nowSec: number): EventRow {
  return eventRow(
    { agentRef: null, moduleRef: null, id_grupo: 0, event_type: 'system', criticity: 3 },
    `More than ${String(limit)} XML files queued for agent ${agentKey}`,
    nowSec,
  );
}

export function noValidGroupEvent(agentName: string, nowSec: number): MutableEventRow {
  return eventRow(
    { agentRef: null, moduleRef: null, id_grupo: 0, event_type: 'error', criticity: 0 },
    `Unable to create agent '${agentName}': No valid group found.`,
    nowSec,
  );
}

export function newAgentEvent(
  agentRef: EntityRef,
  groupId: number,
  aliasEncoded: string,
  serverName: string,
  nowSec: number,
): MutableEventRow {
  return eventRow(
    { agentRef, moduleRef: null, id_grupo: groupId, event_type: 'new_agent', criticity: 2 },
    `Agent [${safeOutput(aliasEncoded)}] created by ${serverName}`,
    nowSec,
  );
}

/** An `<events>` item of the XML (§1.6): a `system` event of the agent. */
export function xmlSystemEvent(
  agentRef: EntityRef,
  groupId: number,
  text: string,
  severity: number,
  nowSec: number,
): MutableEventRow {
  return eventRow(
    { agentRef, moduleRef: null, id_grupo: groupId, event_type: 'system', criticity: severity },
    text,
    nowSec,
  );
}

/** What a status event needs to know about its module. */
export interface StatusEventModule {
  readonly agentRef: EntityRef;
  readonly groupId: number;
  readonly moduleRef: EntityRef;
  readonly nameEncoded: string;
  readonly tags: string;
  readonly criticalInstructions: string;
  readonly warningInstructions: string;
  readonly unknownInstructions: string;
}

function pickStatusEvent(
  newStatus: number,
  knownStatus: number,
  config: LogicConfig,
): { type: EventType; criticity: number; template: string } | undefined {
  switch (newStatus) {
    case 0:
      // NOT INIT → NORMAL is silent.
      return knownStatus === 4
        ? undefined
        : { type: 'going_down_normal', criticity: 2, template: config.textGoingDownNormal };
    case 1:
      return { type: 'going_up_critical', criticity: 4, template: config.textGoingUpCritical };
    case 2:
      return knownStatus === 1
        ? { type: 'going_down_warning', criticity: 3, template: config.textGoingDownWarning }
        : { type: 'going_up_warning', criticity: 3, template: config.textGoingUpWarning };
    default:
      return undefined;
  }
}

/** The tevento row of a status change, or undefined when the reference emits none. */
export function statusEvent(
  module: StatusEventModule,
  newStatus: number,
  knownStatus: number,
  dataText: string,
  config: LogicConfig,
  nowSec: number,
): MutableEventRow | undefined {
  const picked = pickStatusEvent(newStatus, knownStatus, config);
  if (picked === undefined) return undefined;
  const text = picked.template
    .replace(MODULE_MACRO, () => safeOutput(module.nameEncoded))
    .replace(DATA_MACRO, () => dataText);
  const normal = newStatus === 0;
  return eventRow(
    {
      agentRef: module.agentRef,
      moduleRef: module.moduleRef,
      id_grupo: module.groupId,
      event_type: picked.type,
      criticity: picked.criticity,
    },
    text,
    nowSec,
    {
      autoValidate: config.eventAutoValidation,
      estado: normal ? 1 : 0,
      ack_utimestamp: normal ? nowSec : 0,
      data: fitEncodedToColumn(safeInput(dataText), EVENT.data),
      module_status: newStatus,
      tags: fitToColumn(module.tags, EVENT.tags),
      critical_instructions: module.criticalInstructions,
      warning_instructions: module.warningInstructions,
      unknown_instructions: module.unknownInstructions,
    },
  );
}
