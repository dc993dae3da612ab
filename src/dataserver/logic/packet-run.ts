/**
 * PacketRun: the collector one processPacket call fills while it walks the packet's modules
 * (history rows, events, new modules, config updates, parent links, counters). It implements
 * the DatumSink that processDatum writes to, and keeps working copies of the touched modules.
 */
import type {
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
import { initialStatus } from './module-config.js';
import type { DatumSink, WorkingModule } from './process-datum.js';

/** Collects rows while the packet's modules are processed. */
export class PacketRun implements DatumSink {
  readonly numeric: HistoryRow[] = [];
  readonly strings: HistoryRow[] = [];
  readonly events: MutableEventRow[] = [];
  readonly newModules: NewModuleRow[] = [];
  readonly configUpdates: ModuleConfigUpdate[] = [];
  readonly parentLinks: ModuleParentLink[] = [];
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

  constructor(
    ctx: ProcessingContext,
    modules: ReadonlyMap<string, ModuleState>,
    warnings: readonly string[],
  ) {
    this.ctx = ctx;
    this.modules = modules;
    this.warnings = [...warnings];
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
