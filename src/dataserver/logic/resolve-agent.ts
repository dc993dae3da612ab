/**
 * Spec §3.3/§3.4: the agent of a packet, either created (autocreate) or updated from the
 * packet's values, with its addresses, custom fields and first events; or why the packet is
 * dropped (autocreate off, no valid group, agent disabled).
 */
import type {
  AgentPacket,
  AgentState,
  AgentUpdate,
  CustomDataWrite,
  EntityRef,
  NewAgentRow,
  PacketOutcome,
  ProcessingContext,
} from '../types.js';
import { COLUMN_LIMITS, fitEncodedToColumn } from '../../db/index.js';
import { safeInput } from '../../pandora/index.js';
import {
  agentPacketValues,
  agentUpdateOf,
  groupIdOf,
  newAgentOf,
  osIdOf,
  updatedAgentState,
} from './agent.js';
import { newAgentEvent, noValidGroupEvent, type MutableEventRow } from './events.js';
import { droppedOutcome, EMPTY } from './packet-outcome.js';

const CUSTOM_DATA = COLUMN_LIMITS.tagent_custom_data;

function customDataOf(packet: AgentPacket, agentRef: EntityRef, ctx: ProcessingContext) {
  const out: CustomDataWrite[] = [];
  for (const field of packet.customFields) {
    const id = ctx.catalog.customFieldIdByName(safeInput(field.name));
    if (id === undefined) continue;
    const description = fitEncodedToColumn(safeInput(field.value), CUSTOM_DATA.description);
    out.push({ agentRef, id_field: id, description });
  }
  return out;
}

export interface ResolvedAgent {
  readonly state: AgentState;
  readonly isNew: boolean;
  readonly newAgent: NewAgentRow | undefined;
  readonly update: AgentUpdate | undefined;
  readonly addresses: readonly string[];
  readonly customData: readonly CustomDataWrite[];
  readonly events: readonly MutableEventRow[];
}

/** §3.3/§3.4: the agent row to create or update, or why the packet is dropped. */
export function resolveAgent(
  packet: AgentPacket,
  agent: AgentState | undefined,
  ctx: ProcessingContext,
): ResolvedAgent | PacketOutcome {
  const { config, catalog, nowSec } = ctx;
  if (agent === undefined) {
    if (!config.autocreate) return droppedOutcome('autocreate-off');
    const groupId = groupIdOf(packet.groupName, config, catalog);
    if (groupId === undefined) {
      return droppedOutcome('no-valid-group', [noValidGroupEvent(packet.agentName, nowSec)]);
    }
    const osId = osIdOf(packet.osName, catalog);
    const created = newAgentOf(packet, groupId, osId, ctx.serverName, catalog, nowSec);
    return {
      state: created.state,
      isNew: true,
      newAgent: created.row,
      update: undefined,
      addresses: packet.addresses,
      customData: customDataOf(packet, created.row.ref, ctx),
      events: [
        newAgentEvent(created.row.ref, groupId, packet.aliasEncoded, ctx.serverName, nowSec),
      ],
    };
  }
  if (agent.disabled && agent.mode !== 2) return droppedOutcome('agent-disabled');
  const reenable = agent.disabled;
  const values = agentPacketValues(packet, agent, config, catalog);
  return {
    state: updatedAgentState(agent, values, reenable),
    isNew: false,
    newAgent: undefined,
    update: agentUpdateOf(agent, values, packet, nowSec, reenable),
    addresses: values.addressesToLink,
    customData: agent.mode === 0 ? EMPTY : customDataOf(packet, agent.ref, ctx),
    events: EMPTY,
  };
}
