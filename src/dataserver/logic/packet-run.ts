/**
 * PacketRun: the collector one processPacket call fills while it walks the packet's modules
 * (history rows, events, new modules, config updates, parent links, counters). It implements
 * the DatumSink that processDatum writes to, and keeps working copies of the touched modules.
 */
import type {
  AgentPacket,
  AlertAttachment,
  AlertDatumInput,
  EntityRef,
  HistoryRow,
  ModuleConfigUpdate,
  ModuleParentLink,
  ModuleState,
  NewModuleRow,
  ProcessingContext,
} from '../types.js';
import { classifyModuleType } from '../../pandora/index.js';
import type { MutableEventRow } from './events.js';
import { copyStatus, initialStatus } from './module-config.js';
import type { AlertDatumFacts, DatumSink, WorkingModule } from './process-datum.js';
import { formatLocalDateTime } from './time.js';

/** Queue row `status` of a module whose XML forced one (alerts.md §5.2 #2). */
const FORCED_STATUS_NAMES: Readonly<Record<number, string>> = {
  0: 'NORMAL',
  1: 'CRITICAL',
  2: 'WARNING',
};

/** Collects rows while the packet's modules are processed. */
export class PacketRun implements DatumSink {
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
  /** Set once the agent is resolved (before any datum). */
  agentRef: EntityRef = { id: 0 };

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

  hasAlerts(w: WorkingModule): boolean {
    // The no-alert path: at most two lookups per datum, nothing allocated.
    return (this.ctx.alertModules?.has(w.ref.id) ?? false) || this.#attachedRefs.has(w.ref);
  }

  alertDatum(w: WorkingModule, d: AlertDatumFacts): void {
    if (!this.hasAlerts(w)) return;
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
      status:
        state.status !== undefined ? copyStatus(state.status) : initialStatus(state.config.typeId),
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
