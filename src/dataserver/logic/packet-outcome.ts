/**
 * The PacketOutcome of a processed packet: the rows the writer must write, gathered from a
 * finished PacketRun, or the empty outcome of a dropped packet.
 */
import type {
  DropReason,
  EventRow,
  IncrementalWrite,
  ModuleState,
  PacketOutcome,
  StatusWrite,
} from '../types.js';
import type { PacketRun } from './packet-run.js';
import type { ResolvedAgent } from './resolve-agent.js';

export const EMPTY: readonly never[] = [];

export function droppedOutcome(
  reason: DropReason,
  events: readonly EventRow[] = EMPTY,
): PacketOutcome {
  return {
    dropped: reason,
    newAgent: undefined,
    agentUpdate: undefined,
    addresses: EMPTY,
    customData: EMPTY,
    newModules: EMPTY,
    moduleConfigUpdates: EMPTY,
    statusWrites: EMPTY,
    incrementalWrites: EMPTY,
    numericHistory: EMPTY,
    stringHistory: EMPTY,
    events,
    parentLinks: EMPTY,
    agentState: undefined,
    moduleStates: EMPTY,
    warnings: EMPTY,
    stats: { data: 0, rejected: 0, compacted: 0 },
  };
}

/** Everything the run collected, as the outcome the writer applies. */
export function outcomeOf(run: PacketRun, resolved: ResolvedAgent): PacketOutcome {
  const statusWrites: StatusWrite[] = [];
  const incrementalWrites: IncrementalWrite[] = [];
  const moduleStates: ModuleState[] = [];
  const agentRef = resolved.state.ref;
  for (const w of run.working.values()) {
    if (w.statusTouched) {
      statusWrites.push({
        insert: !w.statusExists,
        ref: w.ref,
        statusRef: w.statusRef,
        agentRef,
        status: w.status,
        stored: w.storedStatus,
      });
    }
    if (w.incTouched && w.inc !== undefined) {
      incrementalWrites.push({ insert: !w.incExists, ref: w.ref, sample: w.inc });
    }
    moduleStates.push({
      ref: w.ref,
      statusRef: w.statusRef,
      nameEncoded: w.nameEncoded,
      config: w.config,
      status: w.statusExists || w.statusTouched ? w.status : undefined,
      inc: w.inc,
    });
  }
  const update = resolved.update;
  return {
    dropped: undefined,
    newAgent: resolved.newAgent,
    agentUpdate:
      update !== undefined && run.agentMarked ? { ...update, update_module_count: 1 } : update,
    addresses: resolved.addresses,
    customData: resolved.customData,
    newModules: run.newModules,
    moduleConfigUpdates: run.configUpdates,
    statusWrites,
    incrementalWrites,
    numericHistory: run.numeric,
    stringHistory: run.strings,
    events: run.events,
    parentLinks: run.parentLinks,
    agentState: resolved.state,
    moduleStates,
    warnings: run.warnings,
    stats: { data: run.data, rejected: run.rejected, compacted: run.compacted },
    ...(run.alertData.length > 0 ? { alertData: run.alertData } : {}),
    ...(run.alertAttachments.length > 0 ? { alertAttachments: run.alertAttachments } : {}),
  };
}
