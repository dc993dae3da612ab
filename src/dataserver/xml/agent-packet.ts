/**
 * fast-xml-parser tree → AgentPacket: the XML::Simple-compatible reading rules of spec §1.2–§1.6
 * and the root normalisation of §3.1. The tree is `unknown` and narrowed by hand here.
 */
import { ErrorCode, PandoraError } from '../../core/errors.js';
import { formatLocalDateTime, isStorableEpoch, parseLocalDateTime } from '../logic/time.js';
import type {
  AgentPacket,
  ModuleCreationTags,
  ModuleStatusCode,
  PacketDatum,
  PacketEvent,
  PacketModule,
  PacketTime,
  ParseFileInfo,
  ParseOptions,
} from '../types.js';
import { safeInput } from '../../pandora/index.js';
import { MODULE_CREATION_ONLY_TAGS, MODULE_TAG_COLUMNS } from '../module-columns.js';
import { ATTRIBUTES_KEY, TEXT_KEY, type XmlElement } from './tree.js';

const DEFAULT_INTERVAL_SEC = 300;
const MIN_TZ_OFFSET_H = -12;
const MAX_TZ_OFFSET_H = 14;
const INTEGER = /^\s*[+-]?\d+\s*$/;
const UNSIGNED_INTEGER = /^\s*\d+\s*$/;
const EPOCH_DIGITS = /^\s*\d{1,12}\s*$/;
const CR_OR_LF = /[\r\n]/g;

/** Module tags copied into tagente_modulo at creation only (§4.3). */
const CREATION_TAGS: ReadonlySet<string> = new Set<keyof ModuleCreationTags>([
  ...MODULE_TAG_COLUMNS,
  ...MODULE_CREATION_ONLY_TAGS,
]);

/** Other tags the reference knows (not appended to extended_info). */
const OTHER_KNOWN_TAGS: ReadonlySet<string> = new Set([
  'name',
  'type',
  'data',
  'datalist',
  'description',
  'descripcion',
  'module_interval',
  'cron_interval',
  'status',
  'timestamp',
  'module_parent',
  'module_parent_unlink',
  'alert_template',
  'severity',
  'message',
  'stacktrace',
  ATTRIBUTES_KEY,
  TEXT_KEY,
]);

const FORCED_STATUS: Readonly<Record<string, ModuleStatusCode>> = {
  NORMAL: 0,
  CRITICAL: 1,
  WARNING: 2,
};

function isElement(node: unknown): node is XmlElement {
  return typeof node === 'object' && node !== null && !Array.isArray(node);
}

/** The elements of one child tag (the parser forces arrays); [] when absent. */
function children(parent: XmlElement, tag: string): readonly unknown[] {
  const value = parent[tag];
  return Array.isArray(value) ? (value as unknown[]) : [];
}

function nodeText(node: unknown): string {
  if (typeof node === 'string') return node;
  if (isElement(node)) {
    const text = node[TEXT_KEY];
    if (typeof text === 'string') return text;
  }
  return '';
}

/** First occurrence with a non-empty text wins (§1.2 rule 5); undefined = "no value". */
function firstText(nodes: readonly unknown[]): string | undefined {
  for (const node of nodes) {
    const text = nodeText(node);
    if (text !== '') return text;
  }
  return undefined;
}

/** Text of a tag when present ('' for an empty element), undefined when absent. */
function presentText(parent: XmlElement, tag: string): string | undefined {
  const nodes = children(parent, tag);
  return nodes.length === 0 ? undefined : (firstText(nodes) ?? '');
}

function attributesOf(element: XmlElement): Readonly<Record<string, string>> {
  const attrs = element[ATTRIBUTES_KEY];
  if (!isElement(attrs)) return {};
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

/** Integer timezone offset in [-12, 14] hours, anything else 0 (§3.1). */
function timezoneOffsetOf(text: string | undefined): number {
  if (text === undefined || !INTEGER.test(text)) return 0;
  const hours = Number(text);
  return hours >= MIN_TZ_OFFSET_H && hours <= MAX_TZ_OFFSET_H ? hours : 0;
}

function agentTime(
  attribute: string | undefined,
  tzHours: number,
  file: ParseFileInfo,
  options: ParseOptions,
  warnings: string[],
): PacketTime {
  // A clock or a touch far off can put an mtime past year 9999: no DATETIME holds it.
  const mtimeSec = isStorableEpoch(file.mtimeSec) ? file.mtimeSec : file.nowSec;
  const fromMtime = (): PacketTime => ({
    epoch: mtimeSec,
    text: formatLocalDateTime(mtimeSec),
    source: 'mtime',
  });
  if (!options.useXmlTimestamp || attribute === undefined) return fromMtime();
  if (attribute.includes('AUTO')) {
    return { epoch: file.nowSec, text: formatLocalDateTime(file.nowSec), source: 'auto' };
  }
  const parsed = parseLocalDateTime(attribute);
  if (parsed === undefined) {
    // D-2: the reference stores the bad text and skips every module; we use the file mtime.
    warnings.push(`invalid agent timestamp '${attribute}', using the file mtime`);
    return fromMtime();
  }
  const epoch = parsed + tzHours * 3600;
  if (!isStorableEpoch(epoch)) {
    warnings.push(
      `agent timestamp '${attribute}' is past the DATETIME range, using the file mtime`,
    );
    return fromMtime();
  }
  const time: PacketTime = { epoch, text: formatLocalDateTime(epoch), source: 'xml' };
  return tzHours === 0 ? { ...time, agentText: attribute } : time;
}

function parseInterval(text: string | undefined): number {
  return text !== undefined && UNSIGNED_INTEGER.test(text) ? Number(text) : DEFAULT_INTERVAL_SEC;
}

function parseAgentMode(text: string | undefined): number {
  const mode = text?.trim();
  return mode === '0' || mode === '2' ? Number(mode) : 1;
}

interface DatumTimes {
  readonly agentEpoch: number;
  readonly tzHours: number;
  readonly options: ParseOptions;
  readonly warnings: string[];
}

function datalistItemEpoch(
  item: XmlElement,
  times: DatumTimes,
  moduleName: string,
): number | undefined {
  const text = firstText(children(item, 'timestamp'));
  if (text === undefined || !times.options.useXmlTimestamp) return times.agentEpoch;
  const parsed = parseLocalDateTime(text);
  const epoch = parsed === undefined ? undefined : parsed + times.tzHours * 3600;
  if (epoch === undefined || !isStorableEpoch(epoch)) {
    times.warnings.push(
      `module '${moduleName}': invalid datalist timestamp '${text}', item skipped`,
    );
    return undefined;
  }
  return epoch;
}

/** D-4: a module-level `<timestamp>` (date text or epoch digits), honoured only on request. */
function moduleEpoch(module: XmlElement, times: DatumTimes, moduleName: string): number {
  if (!times.options.useModuleTimestamp || !times.options.useXmlTimestamp) return times.agentEpoch;
  const text = firstText(children(module, 'timestamp'));
  if (text === undefined) return times.agentEpoch;
  let epoch: number | undefined;
  if (EPOCH_DIGITS.test(text)) epoch = Number(text);
  else {
    const parsed = parseLocalDateTime(text);
    epoch = parsed === undefined ? undefined : parsed + times.tzHours * 3600;
  }
  if (epoch === undefined || !isStorableEpoch(epoch)) {
    times.warnings.push(`module '${moduleName}': invalid module timestamp '${text}', ignored`);
    return times.agentEpoch;
  }
  return epoch;
}

function moduleData(module: XmlElement, times: DatumTimes, moduleName: string): PacketDatum[] {
  const datalists = children(module, 'datalist');
  if (datalists.length === 0) {
    return [
      { value: firstText(children(module, 'data')), epoch: moduleEpoch(module, times, moduleName) },
    ];
  }
  // §1.2 rule 6: a datalist wins over <data>; every datalist is processed (§1.5).
  const data: PacketDatum[] = [];
  for (const datalist of datalists) {
    if (!isElement(datalist)) continue;
    for (const item of children(datalist, 'data')) {
      if (!isElement(item)) continue;
      const values = children(item, 'value');
      if (values.length === 0) continue;
      data.push({ value: firstText(values), epoch: datalistItemEpoch(item, times, moduleName) });
    }
  }
  return data;
}

function readModule(module: unknown, times: DatumTimes): PacketModule | undefined {
  if (!isElement(module)) return undefined;
  const rawName = firstText(children(module, 'name'));
  const name = rawName?.replace(CR_OR_LF, '') ?? '';
  if (name === '') {
    times.warnings.push('module without a name skipped');
    return undefined;
  }
  const creation: Record<string, string> = {};
  let extendedInfo = '';
  for (const tag of Object.keys(module)) {
    if (CREATION_TAGS.has(tag)) {
      creation[tag] = firstText(children(module, tag)) ?? '';
    } else if (!OTHER_KNOWN_TAGS.has(tag) && !tag.endsWith('_forced')) {
      // D-15: unknown tags in document order.
      extendedInfo += `${tag}: ${firstText(children(module, tag)) ?? ''}<br/>`;
    }
  }
  const description = firstText(children(module, 'description'));
  const status = firstText(children(module, 'status'))?.trim().toUpperCase();
  const parentName = firstText(children(module, 'module_parent'));
  return {
    name,
    nameEncoded: safeInput(name),
    type: firstText(children(module, 'type')) ?? 'generic_data',
    description,
    moduleInterval: presentText(module, 'module_interval'),
    cronInterval: presentText(module, 'cron_interval'),
    extendedInfo,
    forcedStatus: status === undefined ? undefined : FORCED_STATUS[status],
    parentNameEncoded: parentName === undefined ? undefined : safeInput(parentName),
    parentUnlink: firstText(children(module, 'module_parent_unlink'))?.trim() === '1',
    creation,
    data: moduleData(module, times, name),
    ...alertTemplatesOf(module),
  };
}

/** `<alert_template>` texts, non-empty ones in document order (absent: no property). */
function alertTemplatesOf(module: XmlElement): { alertTemplates?: string[] } {
  const nodes = children(module, 'alert_template');
  if (nodes.length === 0) return {};
  const names = nodes.map(nodeText).filter((n) => n !== '');
  return names.length === 0 ? {} : { alertTemplates: names };
}

function readCustomFields(root: XmlElement): { name: string; value: string }[] {
  const fields: { name: string; value: string }[] = [];
  for (const block of children(root, 'custom_fields')) {
    if (!isElement(block)) continue;
    for (const field of children(block, 'field')) {
      if (!isElement(field)) continue;
      const name = firstText(children(field, 'name'));
      if (name !== undefined)
        fields.push({ name, value: firstText(children(field, 'value')) ?? '' });
    }
  }
  return fields;
}

const MAX_SEVERITY = 6;

/** `<events>`: base64 JSON items; undecodable ones are skipped with a warning. */
function readEvents(root: XmlElement, warnings: string[]): PacketEvent[] {
  const events: PacketEvent[] = [];
  for (const block of children(root, 'events')) {
    if (!isElement(block)) continue;
    for (const item of children(block, 'event')) {
      const encoded = nodeText(item).trim();
      if (encoded === '') continue;
      try {
        const parsed: unknown = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'));
        const record = isElement(parsed) ? parsed : {};
        const data = record['data'];
        const severity = Number(record['severity']);
        if (typeof data !== 'string' && typeof data !== 'number') throw new Error('no data');
        events.push({
          text: String(data),
          severity:
            Number.isInteger(severity) && severity >= 0 && severity <= MAX_SEVERITY ? severity : 0,
        });
      } catch {
        warnings.push('undecodable <event> item skipped');
      }
    }
  }
  return events;
}

function findRoot(tree: XmlElement): { name: string; element: XmlElement } {
  for (const [name, value] of Object.entries(tree)) {
    if (name === TEXT_KEY || !Array.isArray(value)) continue;
    const first: unknown = value[0];
    return { name, element: isElement(first) ? first : {} };
  }
  throw new PandoraError(ErrorCode.XmlInvalid, 'no root element');
}

/** Builds the packet from a parsed tree; throws ERR_XML_* for files that are not agent data. */
export function buildAgentPacket(
  tree: XmlElement,
  file: ParseFileInfo,
  options: ParseOptions,
): AgentPacket {
  const root = findRoot(tree);
  const attrs = attributesOf(root.element);
  if (attrs['server_name'] !== undefined) {
    throw new PandoraError(
      ErrorCode.XmlUnsupported,
      'satellite server status file (not supported)',
    );
  }
  if (attrs['connection_source'] !== undefined || attrs['ipam_source'] !== undefined) {
    throw new PandoraError(ErrorCode.XmlUnsupported, 'Enterprise-only data file (not supported)');
  }
  if (root.name !== 'agent_data') {
    throw new PandoraError(ErrorCode.XmlInvalid, `root element <${root.name}> is not <agent_data>`);
  }
  const agentName = attrs['agent_name'];
  if (agentName === undefined || agentName === '') {
    throw new PandoraError(ErrorCode.XmlNoAgentName, 'agent_data without an agent_name attribute');
  }

  const warnings: string[] = [];
  const tzHours = options.useXmlTimestamp ? timezoneOffsetOf(attrs['timezone_offset']) : 0;
  const time = agentTime(attrs['timestamp'], tzHours, file, options, warnings);
  const times: DatumTimes = { agentEpoch: time.epoch, tzHours, options, warnings };
  const modules: PacketModule[] = [];
  for (const node of children(root.element, 'module')) {
    const module = readModule(node, times);
    if (module !== undefined) modules.push(module);
  }
  const alias = attrs['agent_alias'];
  const osVersion = attrs['os_version'];
  const parentName = attrs['parent_agent_name'];
  return {
    agentName,
    agentNameEncoded: safeInput(agentName),
    aliasEncoded: safeInput(alias === undefined || alias === '' ? agentName : alias),
    time,
    interval: parseInterval(attrs['interval']),
    timezoneOffset: tzHours,
    version: attrs['version'],
    osName: attrs['os_name'] ?? '',
    osVersion: osVersion === '' ? undefined : osVersion,
    groupName: attrs['group'],
    description: attrs['description'] ?? '',
    addresses: (attrs['address'] ?? '')
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== ''),
    parentNameEncoded:
      parentName === undefined || parentName === '' ? undefined : safeInput(parentName),
    customId: attrs['custom_id'],
    urlAddress: attrs['url_address'],
    agentMode: parseAgentMode(attrs['agent_mode']),
    satelliteServer: attrs['satellite_server'],
    customFields: readCustomFields(root.element),
    modules,
    events: readEvents(root.element, warnings),
    warnings,
  };
}
