/**
 * processPacket: one parsed agent file + the cached state of its agent → everything the writer
 * must do (spec §3, §4, §5). Pure and synchronous: no I/O, inputs are never mutated.
 */
import {
  lookupKey,
  type AlertAttachment,
  type AlertDatumInput,
  type AgentPacket,
  type AgentState,
  type AgentUpdate,
  type CustomDataWrite,
  type DropReason,
  type EntityRef,
  type EventRow,
  type HistoryRow,
  type IncrementalWrite,
  type ModuleConfigUpdate,
  type ModuleParentLink,
  type ModuleState,
  type NewAgentRow,
  type NewModuleRow,
  type PacketModule,
  type PacketOutcome,
  type ProcessingContext,
  type StatusWrite,
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
import {
  newAgentEvent,
  noValidGroupEvent,
  xmlSystemEvent,
  type MutableEventRow,
} from './events.js';
import { initialStatus, moduleIntervalOf, newModuleRow } from './module-config.js';
import { classifyModuleType, KEEP_ALIVE_TYPE_ID } from '../../pandora/index.js';
import {
  processDatum,
  type AlertDatumFacts,
  type DatumContext,
  type DatumSink,
  type WorkingModule,
} from './process-datum.js';
import { formatLocalDateTime } from './time.js';

/** Queue row `status` of a module whose XML forced one (alerts.md §5.2 #2). */
const FORCED_STATUS_NAMES: Readonly<Record<number, string>> = {
  0: 'NORMAL',
  1: 'CRITICAL',
  2: 'WARNING',
};

const EMPTY: readonly never[] = [];
const CUSTOM_DATA = COLUMN_LIMITS.tagent_custom_data;

function droppedOutcome(reason: DropReason, events: readonly EventRow[] = EMPTY): PacketOutcome {
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

/** Collects rows while the packet's modules are processed. */
class PacketRun implements DatumSink {
  readonly numeric: HistoryRow[] = [];
  readonly strings: HistoryRow[] = [];
  readonly events: MutableEventRow[] = [];
  readonly newModules: NewModuleRow[] = [];
  readonly configUpdates: ModuleConfigUpdate[] = [];
  readonly parentLinks: ModuleParentLink[] = [];
  readonly alertData: AlertDatumInput[] = [];
  readonly alertAttachments: AlertAttachment[] = [];
  /** Modules this packet creates with `<alert_template>`s: their first data are evaluated. */
  readonly #attachedRefs = new Set<EntityRef>();
  readonly warnings: string[];
  /** Working copies by lookup key, in first-touch order. */
  readonly working = new Map<string, WorkingModule>();
  /** Latest still-open (estado 0) event per module, for in-packet auto-validation. */
  readonly #openEvents = new Map<EntityRef, MutableEventRow>();
  agentMarked = false;
  data = 0;
  rejected = 0;
  compacted = 0;

  readonly ctx: ProcessingContext;
  readonly modules: ReadonlyMap<string, ModuleState>;
  readonly time: AgentPacket['time'];

  constructor(
    ctx: ProcessingContext,
    modules: ReadonlyMap<string, ModuleState>,
    packet: AgentPacket,
  ) {
    this.ctx = ctx;
    this.modules = modules;
    this.time = packet.time;
    this.warnings = [...packet.warnings];
  }

  attachAlerts(moduleRef: EntityRef, names: readonly string[]): void {
    this.alertAttachments.push({ moduleRef, names });
    this.#attachedRefs.add(moduleRef);
  }

  alertDatum(w: WorkingModule, d: AlertDatumFacts): void {
    // The no-alert path: one lookup per datum, nothing allocated.
    if (!(this.ctx.alertModules?.has(w.ref.id) ?? false) && !this.#attachedRefs.has(w.ref)) return;
    const agentText = d.epoch === this.time.epoch ? this.time.agentText : undefined;
    this.alertData.push({
      agentRef: this.agentRef,
      moduleRef: w.ref,
      value: d.value,
      status: d.status,
      epoch: d.epoch,
      previousValue: d.previousValue,
      lastStatusChange: d.lastStatusChange,
      timestampText: agentText ?? formatLocalDateTime(d.epoch),
      forcedStatus: d.forced === undefined ? null : (FORCED_STATUS_NAMES[d.forced] ?? null),
    });
  }

  /** Set once the agent is resolved (before any datum). */
  agentRef: EntityRef = { id: 0 };

  numericHistory(ref: EntityRef, datos: string, utimestamp: number): void {
    this.numeric.push({ ref, datos, utimestamp });
  }

  stringHistory(ref: EntityRef, datos: string, utimestamp: number): void {
    this.strings.push({ ref, datos, utimestamp });
  }

  event(row: MutableEventRow): void {
    const ref = row.moduleRef;
    if (ref !== null && row.autoValidate) {
      // The writer's auto-validation UPDATE would validate it anyway; do it here for rows
      // still in this outcome so the batch needs no ordering between them.
      const open = this.#openEvents.get(ref);
      if (open !== undefined) {
        open.estado = 1;
        open.ack_utimestamp = row.utimestamp;
      }
      if (row.estado === 0) this.#openEvents.set(ref, row);
      else this.#openEvents.delete(ref);
    }
    this.events.push(row);
  }

  markAgent(): void {
    this.agentMarked = true;
  }

  /** The working copy of an existing module, loaded on first touch. */
  existing(key: string): WorkingModule | undefined {
    const found = this.working.get(key);
    if (found !== undefined) return found;
    const state = this.modules.get(key);
    if (state === undefined) return undefined;
    const w: WorkingModule = {
      ref: state.ref,
      statusRef: state.statusRef,
      nameEncoded: state.nameEncoded,
      config: state.config,
      type: classifyModuleType(state.config.typeName),
      status: state.status !== undefined ? { ...state.status } : initialStatus(state.config.typeId),
      storedStatus: state.status,
      statusExists: state.status !== undefined,
      // D-7: a missing status row is recreated.
      statusTouched: state.status === undefined,
      inc: state.inc,
      incExists: state.inc !== undefined,
      incTouched: false,
    };
    this.working.set(key, w);
    return w;
  }

  countResult(result: 'stored' | 'compacted' | 'rejected'): void {
    this.data++;
    if (result === 'rejected') this.rejected++;
    else if (result === 'compacted') this.compacted++;
  }
}

function isPolicyLinked(w: WorkingModule): boolean {
  const c = w.config;
  return c.idPolicyModule !== 0 && (!c.policyAdopted || c.policyLinked);
}

/** §4.4: descripcion / extended_info / module_interval, rewritten when any differs. */
function updateModuleConfig(run: PacketRun, w: WorkingModule, pm: PacketModule, interval: number) {
  if (isPolicyLinked(w)) return;
  const c = w.config;
  const description = pm.description ?? c.description;
  const moduleInterval = moduleIntervalOf(pm, interval);
  if (
    description === c.description &&
    pm.extendedInfo === c.extendedInfo &&
    moduleInterval === c.moduleInterval
  ) {
    return;
  }
  w.config = { ...c, description, extendedInfo: pm.extendedInfo, moduleInterval };
  run.configUpdates.push({
    ref: w.ref,
    descripcion: description,
    extended_info: pm.extendedInfo,
    module_interval: moduleInterval,
  });
}

/** §4.3: creates the module, or returns undefined (no-learn mode, unknown type). */
function createModule(
  run: PacketRun,
  pm: PacketModule,
  key: string,
  agent: AgentState,
  canCreate: boolean,
): WorkingModule | undefined {
  if (!canCreate) return undefined;
  const typeRow = run.ctx.catalog.moduleTypeByName(safeInput(pm.type));
  if (typeRow === undefined) {
    run.warnings.push(`invalid module type '${pm.type}' for module '${pm.name}': not created`);
    return undefined;
  }
  const ref = { id: 0 };
  const { row, config } = newModuleRow(
    pm,
    typeRow.id,
    typeRow.name,
    ref,
    agent.ref,
    agent.interval,
    run.ctx.catalog,
  );
  run.newModules.push(row);
  run.markAgent();
  if (pm.alertTemplates !== undefined && pm.alertTemplates.length > 0) {
    run.attachAlerts(ref, pm.alertTemplates);
  }
  const w: WorkingModule = {
    ref,
    statusRef: { id: 0 },
    nameEncoded: pm.nameEncoded,
    config,
    type: classifyModuleType(typeRow.name),
    status: initialStatus(typeRow.id),
    statusExists: false,
    statusTouched: true,
    inc: undefined,
    incExists: false,
    incTouched: false,
  };
  run.working.set(key, w);
  return w;
}

function processModules(
  run: PacketRun,
  packet: AgentPacket,
  agent: AgentState,
  isNewAgent: boolean,
  dctx: DatumContext,
) {
  const learning = agent.mode === 1 || agent.mode === 2;
  for (const pm of packet.modules) {
    try {
      processModule(run, pm, agent, learning || isNewAgent, learning, dctx);
    } catch (err) {
      // §2.3 [NEW]: one failing module must not abort the rest of the file.
      const message = err instanceof Error ? err.message : String(err);
      run.warnings.push(`module '${pm.name}' skipped after an internal error: ${message}`);
    }
  }
}

function processModule(
  run: PacketRun,
  pm: PacketModule,
  agent: AgentState,
  canCreate: boolean,
  learning: boolean,
  dctx: DatumContext,
) {
  const key = lookupKey(pm.nameEncoded);
  let w = run.existing(key);
  if (w === undefined) {
    // An empty datalist processes nothing, so it creates nothing either.
    if (pm.data.length === 0) return;
    w = createModule(run, pm, key, agent, canCreate);
    if (w === undefined) return;
  } else if (learning) {
    updateModuleConfig(run, w, pm, agent.interval);
  }
  if (w.config.disabled) return;
  for (const datum of pm.data) {
    if (datum.epoch === undefined) continue; // invalid item timestamp, warned by the parser
    run.countResult(processDatum(w, datum.value, datum.epoch, pm.forcedStatus, dctx, run));
  }
}

/** §3.4 keep-alive: every packet feeds "1" at server time to type-100 modules. */
function processKeepAlive(run: PacketRun, dctx: DatumContext) {
  for (const [key, state] of run.modules) {
    const c = state.config;
    if (c.typeId !== KEEP_ALIVE_TYPE_ID || c.deletePending || c.disabled) continue;
    const w = run.existing(key);
    if (w !== undefined) run.countResult(processDatum(w, '1', dctx.nowSec, undefined, dctx, run));
  }
}

/** §4.1: module_parent / module_parent_unlink, applied after all modules. */
function linkParents(run: PacketRun, packet: AgentPacket) {
  for (const pm of packet.modules) {
    if (!pm.parentUnlink && (pm.parentNameEncoded ?? '') === '') continue;
    const w = run.working.get(lookupKey(pm.nameEncoded));
    if (w === undefined) continue;
    let parentRef: EntityRef | null = null;
    if (!pm.parentUnlink && pm.parentNameEncoded !== undefined) {
      const parentKey = lookupKey(pm.parentNameEncoded);
      const parent = run.working.get(parentKey) ?? run.modules.get(parentKey);
      if (parent === undefined || parent.config.deletePending) continue;
      parentRef = parent.ref;
    }
    const parentId = parentRef?.id ?? 0;
    if (parentId !== 0 && parentId === w.config.parentModuleId) continue;
    if (parentRef === null && w.config.parentModuleId === 0) continue;
    w.config = { ...w.config, parentModuleId: parentId };
    run.parentLinks.push({ ref: w.ref, parentRef });
  }
}

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

interface ResolvedAgent {
  readonly state: AgentState;
  readonly isNew: boolean;
  readonly newAgent: NewAgentRow | undefined;
  readonly update: AgentUpdate | undefined;
  readonly addresses: readonly string[];
  readonly customData: readonly CustomDataWrite[];
  readonly events: readonly MutableEventRow[];
}

/** §3.3/§3.4: the agent row to create or update, or why the packet is dropped. */
function resolveAgent(
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

function finish(run: PacketRun, resolved: ResolvedAgent): PacketOutcome {
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
  return finish(run, resolved);
}
