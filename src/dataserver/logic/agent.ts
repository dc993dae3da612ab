/**
 * Agent decisions (spec §3.3, §3.4): auto-creation (OS mapping, group choice), and the columns
 * every packet updates, learning mode versus no-learn mode.
 */
import type {
  AgentPacket,
  AgentState,
  AgentUpdate,
  Catalog,
  LogicConfig,
  NewAgentRow,
} from '../types.js';
import { safeInput } from '../../pandora/index.js';
import { formatLocalDateTime } from './time.js';

const OTHER_OS_ID = 10;

/** Case-insensitive substring rules of §3.3, first hit wins. */
const OS_RULES: readonly (readonly [RegExp, number])[] = [
  [/windows/i, 9],
  [/cisco/i, 7],
  [/sunos|solaris/i, 2],
  [/aix/i, 3],
  [/hp-ux/i, 5],
  [/apple|darwin/i, 8],
  [/android/i, 15],
  [/linux/i, 1],
  [/enterasys|3com/i, 11],
  [/octopods/i, 13],
  [/embedded/i, 14],
  [/bsd/i, 4],
];

/** tagente.id_os for an `os_name` attribute. */
export function osIdOf(osName: string, catalog: Catalog): number {
  if (osName === '') return OTHER_OS_ID;
  for (const [pattern, id] of OS_RULES) if (pattern.test(osName)) return id;
  return catalog.osIdByName(osName) ?? OTHER_OS_ID;
}

/** §3.3 step 3: the first usable candidate group, undefined when none. */
export function groupIdOf(
  groupName: string | undefined,
  config: LogicConfig,
  catalog: Catalog,
): number | undefined {
  const auto =
    config.autocreateGroupName !== '' ? config.autocreateGroupName : config.autocreateGroup;
  const candidates = config.autocreateGroupForce ? [auto, groupName] : [groupName, auto];
  for (const candidate of candidates) {
    if (candidate === undefined) continue;
    if (typeof candidate === 'number') {
      if (candidate > 0 && catalog.groupExists(candidate)) return candidate;
      continue;
    }
    if (candidate === '') continue;
    const id = catalog.groupIdByName(safeInput(candidate));
    if (id !== undefined) return id;
  }
  return undefined;
}

/** Values the per-packet UPDATE writes (§3.4), after the learning/no-learn choice. */
export interface AgentPacketValues {
  readonly interval: number;
  readonly osVersion: string | undefined;
  readonly version: string | undefined;
  readonly timezoneOffset: number;
  readonly parentId: number;
  readonly satelliteId: number;
  /** New tagente.direccion, undefined = unchanged. */
  readonly address: string | undefined;
  /** Addresses to link in taddress/taddress_agent. */
  readonly addressesToLink: readonly string[];
}

function parentIdOf(packet: AgentPacket, catalog: Catalog): number {
  return packet.parentNameEncoded === undefined
    ? 0
    : (catalog.agentIdByName(packet.parentNameEncoded) ?? 0);
}

function satelliteIdOf(packet: AgentPacket, catalog: Catalog): number {
  return packet.satelliteServer === undefined
    ? 0
    : (catalog.satelliteIdByName(packet.satelliteServer) ?? 0);
}

/** §3.4 for an existing agent. */
export function agentPacketValues(
  packet: AgentPacket,
  agent: AgentState,
  config: LogicConfig,
  catalog: Catalog,
): AgentPacketValues {
  const satelliteId = satelliteIdOf(packet, catalog);
  if (agent.mode === 0) {
    return {
      interval: agent.interval,
      osVersion: agent.osVersion,
      version: agent.agentVersion,
      timezoneOffset: agent.timezoneOffset,
      parentId: agent.parentId,
      satelliteId,
      address: undefined,
      addressesToLink: [],
    };
  }
  const [main, ...extra] = packet.addresses;
  let address: string | undefined;
  const toLink: string[] = [];
  if (main !== undefined && main !== agent.address) {
    if (!agent.fixedIp) address = main;
    toLink.push(main);
  }
  toLink.push(...extra);
  const known = agent.linkedAddresses;
  const parentId = parentIdOf(packet, catalog);
  return {
    interval: packet.interval,
    osVersion: packet.osVersion,
    version: packet.version,
    timezoneOffset: packet.timezoneOffset,
    parentId: config.updateParent && parentId !== 0 ? parentId : agent.parentId,
    satelliteId,
    address,
    addressesToLink: known === undefined ? toLink : toLink.filter((a) => !known.includes(a)),
  };
}

export function agentUpdateOf(
  agent: AgentState,
  values: AgentPacketValues,
  packet: AgentPacket,
  nowSec: number,
  reenable: boolean,
): AgentUpdate {
  return {
    ref: agent.ref,
    disabled: reenable ? 0 : undefined,
    direccion: values.address,
    agent_version: values.version,
    intervalo: values.interval,
    ultimo_contacto_remoto: packet.time.text,
    ultimo_contacto: formatLocalDateTime(nowSec),
    os_version: values.osVersion,
    timezone_offset: values.timezoneOffset,
    id_parent: values.parentId,
    satellite_server: values.satelliteId,
    update_module_count: undefined,
  };
}

/** The cached state after the update. */
export function updatedAgentState(
  agent: AgentState,
  values: AgentPacketValues,
  reenable: boolean,
): AgentState {
  const linked = agent.linkedAddresses;
  return {
    ...agent,
    disabled: reenable ? false : agent.disabled,
    interval: values.interval,
    address: values.address ?? agent.address,
    osVersion: values.osVersion ?? agent.osVersion,
    agentVersion: values.version ?? agent.agentVersion,
    timezoneOffset: values.timezoneOffset,
    parentId: values.parentId,
    satelliteServer: values.satelliteId,
    ...(linked === undefined || values.addressesToLink.length === 0
      ? {}
      : { linkedAddresses: [...linked, ...values.addressesToLink] }),
  };
}

/** §3.3 step 4 (+ the same packet's §3.4 update folded in) for an unknown agent. */
export function newAgentOf(
  packet: AgentPacket,
  groupId: number,
  osId: number,
  serverName: string,
  catalog: Catalog,
  nowSec: number,
): { row: NewAgentRow; state: AgentState } {
  const ref = { id: 0 };
  const address = packet.addresses[0] ?? '';
  const satelliteId = satelliteIdOf(packet, catalog);
  const row: NewAgentRow = {
    ref,
    nombre: packet.agentNameEncoded,
    alias: packet.aliasEncoded,
    direccion: address,
    comentarios: packet.description,
    id_grupo: groupId,
    id_os: osId,
    server_name: serverName,
    intervalo: packet.interval,
    id_parent: parentIdOf(packet, catalog),
    modo: packet.agentMode,
    custom_id: packet.customId,
    url_address: packet.urlAddress,
    timezone_offset: packet.timezoneOffset,
    os_version: packet.osVersion ?? '',
    agent_version: packet.version ?? '',
    ultimo_contacto: formatLocalDateTime(nowSec),
    ultimo_contacto_remoto: packet.time.text,
    satellite_server: satelliteId,
    update_module_count: 1,
  };
  const state: AgentState = {
    ref,
    nameEncoded: row.nombre,
    aliasEncoded: row.alias,
    groupId,
    osId,
    mode: row.modo,
    disabled: false,
    interval: row.intervalo,
    address,
    fixedIp: false,
    parentId: row.id_parent,
    timezoneOffset: row.timezone_offset,
    osVersion: row.os_version,
    agentVersion: row.agent_version,
    quiet: false,
    satelliteServer: satelliteId,
    linkedAddresses: packet.addresses,
  };
  return { row, state };
}
