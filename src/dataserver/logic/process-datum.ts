/**
 * One datum of one module (spec §5.1): value processing, THE COMPACTION RULE, and the status
 * transition (status-transition.ts: flip-flop, status changes and their events). Works on a
 * per-packet mutable copy of the module's status so a packet costs one status object per
 * module, however many data it carries.
 */
import type {
  EntityRef,
  IncrementalSample,
  LogicConfig,
  ModuleConfig,
  ModuleStatus,
  ModuleStatusCode,
} from '../types.js';
import { secondsToNextCronSlot } from './cron.js';
import type { MutableEventRow } from './events.js';
import type { TypeClass } from '../../pandora/index.js';
import { escalateWarning, statusOf } from './status.js';
import { moveStatus, startTransition, writeStatusRow } from './status-transition.js';
import { processData } from './values.js';

/** At least one history row per this many seconds, even for an unchanged value. */
export const HISTORY_REFRESH_SEC = 86_400;
const DEFAULT_INTERVAL_SEC = 300;

export type MutableStatus = { -readonly [K in keyof ModuleStatus]: ModuleStatus[K] };

/** A module while its packet is processed. */
export interface WorkingModule {
  readonly ref: EntityRef;
  readonly statusRef: EntityRef;
  readonly nameEncoded: string;
  config: ModuleConfig;
  readonly type: TypeClass;
  readonly status: MutableStatus;
  /** The tagente_estado row as stored before this packet (undefined: none or not known). */
  readonly storedStatus?: ModuleStatus | undefined;
  /** The tagente_estado row exists in the database (else INSERT). */
  readonly statusExists: boolean;
  /** The status row must be written. */
  statusTouched: boolean;
  inc: IncrementalSample | undefined;
  readonly incExists: boolean;
  incTouched: boolean;
}

/** Per-packet facts a datum needs besides its module. */
export interface DatumContext {
  readonly config: LogicConfig;
  readonly nowSec: number;
  readonly serverId: number;
  readonly agentRef: EntityRef;
  readonly agentGroupId: number;
  readonly agentInterval: number;
  /** tagente.quiet or a suppressed period (storm protection, warm-up): no status events. */
  readonly eventsSuppressed: boolean;
}

/** Where a datum's rows go. */
export interface DatumSink {
  numericHistory(ref: EntityRef, datos: string, utimestamp: number): void;
  stringHistory(ref: EntityRef, datos: string, utimestamp: number): void;
  event(row: MutableEventRow): void;
  /** update_module_count = 1 on the agent. */
  markAgent(): void;
  /** Whether the module has alerts to evaluate (asked first: most modules have none). */
  hasAlerts(w: WorkingModule): boolean;
  /** An accepted datum updated the status row: its module's alerts may need it (alerts.md §2.1). */
  alertDatum(w: WorkingModule, datum: AlertDatumFacts): void;
}

/** What alert evaluation needs of a datum besides its module (alerts.md §2.1 step 6). */
export interface AlertDatumFacts {
  readonly value: string;
  readonly status: number;
  readonly epoch: number;
  readonly previousValue: string;
  readonly lastStatusChange: number;
  readonly forced: ModuleStatusCode | undefined;
}

export type DatumResult = 'stored' | 'compacted' | 'rejected';

function cronSlot(config: ModuleConfig, ctx: DatumContext): number | undefined {
  return config.cronInterval === ''
    ? undefined
    : secondsToNextCronSlot(config.cronInterval, ctx.nowSec);
}

/** current_interval of an accepted datum: next cron slot, module_interval, or the agent's. */
function intervalOf(config: ModuleConfig, ctx: DatumContext): number {
  return (
    cronSlot(config, ctx) ??
    (config.moduleInterval !== 0 ? config.moduleInterval : ctx.agentInterval)
  );
}

/** error_update of §4.6: a rejected datum only refreshes the try time and interval. */
function rejectDatum(w: WorkingModule, ctx: DatumContext): DatumResult {
  w.status.lastExecutionTry = ctx.nowSec;
  w.status.currentInterval =
    cronSlot(w.config, ctx) ??
    (w.config.moduleInterval !== 0 ? w.config.moduleInterval : DEFAULT_INTERVAL_SEC);
  w.statusTouched = true;
  return 'rejected';
}

function storeHistory(w: WorkingModule, sink: DatumSink, value: string, epoch: number): void {
  if (w.type.isString) sink.stringHistory(w.ref, value, epoch);
  else sink.numericHistory(w.ref, value, epoch);
}

/** pandora_process_module of §5.1 for one datum at data time `epoch`. */
export function processDatum(
  w: WorkingModule,
  raw: string | undefined,
  epoch: number,
  forced: ModuleStatusCode | undefined,
  ctx: DatumContext,
  sink: DatumSink,
): DatumResult {
  const data = processData(raw, w.config, w.type, epoch, w.inc);
  if (data.inc !== w.inc) {
    w.inc = data.inc;
    w.incTouched = true;
  }
  if (data.counterReset) w.status.utimestamp = ctx.nowSec;
  const value = data.value;
  if (value === undefined) return rejectDatum(w, ctx);

  const row = w.status;
  const config = w.config;
  const lastTryEpoch = row.lastTryEpoch;

  // ---- THE COMPACTION RULE (§5.1, §5.2) ----------------------------------------------------
  const save =
    config.historyData && (row.datos !== value || lastTryEpoch < epoch - HISTORY_REFRESH_SEC);
  // -------------------------------------------------------------------------------------------
  const alwaysStored = w.type.isAsync || w.type.isLog4x;

  if (ctx.config.dataserverLifo && epoch <= row.utimestamp) {
    // Stale data (LIFO only): history without compaction, status row untouched.
    if (config.historyData) storeHistory(w, sink, value, epoch);
    return config.historyData ? 'stored' : 'compacted';
  }

  const escalated = escalateWarning(
    statusOf(value, config, w.type, forced, row.datos),
    row.knownStatus,
    row.warningCount,
    config.warningTime,
  );
  const t = startTransition(w, ctx, sink, {
    value,
    epoch,
    newStatus: escalated.status,
    interval: intervalOf(config, ctx),
  });
  moveStatus(t);
  if (epoch >= lastTryEpoch) {
    // Never move the status row backwards (older than the last stored row). Alerts see only
    // data that update it (D-A5), with the value and status-change time from before.
    if (sink.hasAlerts(w)) {
      sink.alertDatum(w, {
        value,
        status: t.status,
        epoch,
        previousValue: row.datos,
        lastStatusChange: row.lastStatusChange,
        forced,
      });
    }
    writeStatusRow(t, escalated.warningCount, save);
  }

  if (t.mark) sink.markAgent();
  if (alwaysStored || save) {
    storeHistory(w, sink, value, epoch);
    return 'stored';
  }
  return 'compacted';
}
