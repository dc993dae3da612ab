/**
 * processPacket: one parsed agent file + the cached state of its agent → everything the writer
 * must do (spec §3, §4, §5). Pure and synchronous: no I/O, inputs are never mutated.
 */
import type {
  AgentPacket,
  AgentState,
  ModuleState,
  PacketOutcome,
  ProcessingContext,
} from '../types.js';
import { xmlSystemEvent } from './events.js';
import { EMPTY, outcomeOf } from './packet-outcome.js';
import { PacketRun } from './packet-run.js';
import type { DatumContext } from './process-datum.js';
import { linkParents, processKeepAlive, processModules } from './process-modules.js';
import { resolveAgent } from './resolve-agent.js';

/** The pure core of the dataserver: see types.ts for the contract. */
export function processPacket(
  packet: AgentPacket,
  agent: AgentState | undefined,
  modules: ReadonlyMap<string, ModuleState>,
  ctx: ProcessingContext,
): PacketOutcome {
  const resolved = resolveAgent(packet, agent, ctx);
  if (!('state' in resolved)) return resolved;
  const run = new PacketRun(ctx, modules, packet);
  for (const event of resolved.events) run.event(event);
  const state = resolved.state;
  run.agentRef = state.ref;
  const dctx: DatumContext = {
    config: ctx.config,
    nowSec: ctx.nowSec,
    serverId: ctx.serverId,
    agentRef: state.ref,
    agentGroupId: state.groupId,
    agentInterval: state.interval,
    eventsSuppressed:
      state.quiet ||
      ctx.config.eventStormProtection ||
      ctx.nowSec < ctx.startedAtSec + ctx.config.warmupEventInterval,
  };
  processKeepAlive(run, dctx);
  processModules(run, packet, state, resolved.isNew, dctx);
  linkParents(run, packet);
  if (!state.quiet) {
    // §1.6: group 0 unless this file created the agent.
    const groupId = resolved.isNew ? state.groupId : 0;
    for (const e of packet.events ?? EMPTY) {
      run.event(xmlSystemEvent(state.ref, groupId, e.text, e.severity, ctx.nowSec));
    }
  }
  return outcomeOf(run, resolved);
}
