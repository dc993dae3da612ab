/**
 * The packet's modules (spec §3.4, §4.1, §4.3, §4.4): keep-alive feeding, module creation,
 * config rewrites in learning mode, each datum through processDatum, then parent links.
 */
import {
  lookupKey,
  type AgentPacket,
  type AgentState,
  type EntityRef,
  type PacketModule,
} from '../types.js';
import { classifyModuleType, KEEP_ALIVE_TYPE_ID, safeInput } from '../../pandora/index.js';
import { initialStatus, moduleIntervalOf, newModuleRow } from './module-config.js';
import type { PacketRun } from './packet-run.js';
import { processDatum, type DatumContext, type WorkingModule } from './process-datum.js';

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

export function processModules(
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
export function processKeepAlive(run: PacketRun, dctx: DatumContext) {
  for (const [key, state] of run.modules) {
    const c = state.config;
    if (c.typeId !== KEEP_ALIVE_TYPE_ID || c.deletePending || c.disabled) continue;
    const w = run.existing(key);
    if (w !== undefined) run.countResult(processDatum(w, '1', dctx.nowSec, undefined, dctx, run));
  }
}

/** §4.1: module_parent / module_parent_unlink, applied after all modules. */
export function linkParents(run: PacketRun, packet: AgentPacket) {
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
