/**
 * One datum of one module (spec §5.1): value processing, THE COMPACTION RULE, flip-flop,
 * status transitions and status events. Works on a per-packet mutable copy of the module's
 * status so a packet costs one status object per module, however many data it carries.
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
import { eventDataText, statusEvent, type MutableEventRow } from './events.js';
import type { TypeClass } from '../../pandora/index.js';
import { escalateWarning, statusOf } from './status.js';
import { formatLocalDateTime } from './time.js';
import { processData } from './values.js';

/** At least one history row per this many seconds, even for an unchanged value. */
export const HISTORY_REFRESH_SEC = 86_400;
const DEFAULT_INTERVAL_SEC = 300;
const TINYINT_UNSIGNED_MAX = 255;

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

/** min_ff_event for the target status (per status with each_ff). */
function flipFlopThreshold(config: ModuleConfig, status: number): number {
  if (!config.eachFf) return config.minFfEvent;
  if (status === 0) return config.minFfEventNormal;
  if (status === 1) return config.minFfEventCritical;
  if (status === 2) return config.minFfEventWarning;
  return config.minFfEvent;
}

/** The reference's extra gate before a status event (unknown_events, disabled_types_event). */
function statusEventAllowed(
  w: WorkingModule,
  ctx: DatumContext,
  newStatus: number,
  previous: number,
  known: number,
): boolean {
  if (ctx.eventsSuppressed || w.config.quiet) return false;
  if (!ctx.config.unknownEvents && (previous === 3 || newStatus === 3)) return false;
  if (previous === 3 && newStatus === known && goingUnknownDisabled(w.config.disabledTypesEvent)) {
    return false;
  }
  return true;
}

function goingUnknownDisabled(json: string): boolean {
  if (json === '' || !json.includes('going_unknown')) return false;
  try {
    const parsed: unknown = JSON.parse(json);
    if (typeof parsed !== 'object' || parsed === null) return false;
    const flag = (parsed as Record<string, unknown>)['going_unknown'];
    return flag !== undefined && flag !== null && flag !== 0 && flag !== '0' && flag !== false;
  } catch {
    return false;
  }
}

function emitStatusEvent(
  w: WorkingModule,
  ctx: DatumContext,
  sink: DatumSink,
  newStatus: number,
  previous: number,
  known: number,
  value: string,
): void {
  if (!statusEventAllowed(w, ctx, newStatus, previous, known)) return;
  const row = statusEvent(
    {
      agentRef: ctx.agentRef,
      groupId: ctx.agentGroupId,
      moduleRef: w.ref,
      nameEncoded: w.nameEncoded,
      tags: w.config.tags,
      criticalInstructions: w.config.criticalInstructions,
      warningInstructions: w.config.warningInstructions,
      unknownInstructions: w.config.unknownInstructions,
    },
    newStatus,
    known,
    eventDataText(value, w.type.isString, ctx.config.graphPrecision),
    ctx.config,
    ctx.nowSec,
  );
  if (row !== undefined) sink.event(row);
}

function storeHistory(w: WorkingModule, sink: DatumSink, value: string, epoch: number): void {
  if (w.type.isString) sink.stringHistory(w.ref, value, epoch);
  else sink.numericHistory(w.ref, value, epoch);
}

/**
 * The status-row fields one datum moves (flip-flop counters, transitions), worked on here and
 * written back to the status row only when the datum is not older than the last stored one.
 */
interface Transition {
  readonly w: WorkingModule;
  readonly ctx: DatumContext;
  readonly sink: DatumSink;
  readonly value: string;
  readonly epoch: number;
  /** The status the datum's value maps to (after warning escalation). */
  readonly newStatus: number;
  /** known_status before this datum. */
  readonly known: number;
  /** min_ff_event for `newStatus`. */
  readonly ff: number;
  status: number;
  changes: number;
  lastChange: number;
  ffStart: number;
  ffNormal: number;
  ffWarning: number;
  ffCritical: number;
  interval: number;
  /** update_module_count = 1 on the agent. */
  mark: boolean;
}

function startTransition(
  w: WorkingModule,
  ctx: DatumContext,
  sink: DatumSink,
  datum: { value: string; epoch: number; newStatus: number },
): Transition {
  const row = w.status;
  return {
    w,
    ctx,
    sink,
    value: datum.value,
    epoch: datum.epoch,
    newStatus: datum.newStatus,
    known: row.knownStatus,
    ff: flipFlopThreshold(w.config, datum.newStatus),
    status: row.estado,
    changes: row.statusChanges,
    lastChange: row.lastStatusChange,
    ffStart: row.ffStartUtimestamp,
    ffNormal: row.ffNormal,
    ffWarning: row.ffWarning,
    ffCritical: row.ffCritical,
    interval: intervalOf(w.config, ctx),
    mark: false,
  };
}

/** A status change: its event (when allowed), the new status and when it changed. */
function changeStatus(t: Transition, to: number, from: number): void {
  emitStatusEvent(t.w, t.ctx, t.sink, to, from, t.known, t.value);
  t.status = to;
  t.lastChange = t.epoch;
  t.mark = true;
}

function resetFlipFlopCounters(t: Transition): void {
  t.ffNormal = t.ffWarning = t.ffCritical = 0;
}

/** Counts a repeat of the last known status, or restarts the count on a new one. */
function countRepeats(t: Transition): void {
  const config = t.w.config;
  if (t.w.status.lastKnownStatus === t.newStatus) {
    if (config.ffType === 0 && t.changes > t.ff) t.changes = t.ff;
    t.changes += 1;
    if (
      t.w.type.isAsync &&
      t.ff !== 0 &&
      config.ffTimeout !== 0 &&
      t.epoch - t.ffStart > config.ffTimeout
    ) {
      if (config.ffType === 0) t.changes = 0;
      t.ffStart = t.epoch;
      resetFlipFlopCounters(t);
    }
  } else {
    if (config.ffType === 0) t.changes = 0;
    if (t.w.type.isAsync) t.ffStart = t.epoch;
  }
}

/** ff_type 0: the status changes after `ff` repeats of a new status. */
function applyCountedFlipFlop(t: Transition): void {
  const config = t.w.config;
  if (config.moduleFfInterval !== 0 && t.changes < t.ff) t.interval = config.moduleFfInterval;
  if (t.changes >= t.ff && t.known !== t.newStatus) changeStatus(t, t.newStatus, t.status);
}

/** ff_type 1: a counter per status; the status changes once its counter passes `ff`. */
function applyPerStatusFlipFlop(t: Transition): void {
  const { newStatus, ff } = t;
  if (newStatus === 0) t.ffNormal++;
  else if (newStatus === 1) t.ffCritical++;
  else if (newStatus === 2) t.ffWarning++;
  if (
    (newStatus !== t.status && newStatus === 0 && t.ffNormal > ff) ||
    (newStatus === 1 && t.ffCritical > ff) ||
    (newStatus === 2 && t.ffWarning > ff)
  ) {
    changeStatus(t, newStatus, t.status);
    resetFlipFlopCounters(t);
  } else {
    if (newStatus === 0 && t.ffNormal > ff) t.ffNormal = 0;
    const config = t.w.config;
    if (config.moduleFfInterval !== 0 && ff > 0 && t.w.status.lastKnownStatus !== t.status) {
      t.interval = config.moduleFfInterval;
    }
  }
}

/** Data for a NOT INIT or UNKNOWN module leaves that status whatever the flip-flop says. */
function leaveNotInitOrUnknown(t: Transition): void {
  if (t.status === 4) {
    // First datum of a NOT INIT module: NOT INIT → NORMAL, silent.
    changeStatus(t, 0, 4);
  } else if (t.status === 3) {
    // Data for an UNKNOWN module restores the known status.
    changeStatus(t, t.known, 3);
    resetFlipFlopCounters(t);
  }
}

/** The transition into the module's status row (tagente_estado), touched for the writer. */
function writeStatusRow(t: Transition, warningCount: number, save: boolean): void {
  const row = t.w.status;
  const text = formatLocalDateTime(t.epoch);
  row.datos = t.value;
  row.estado = t.status;
  row.knownStatus = t.status;
  row.lastStatus = t.newStatus;
  row.lastKnownStatus = t.newStatus;
  row.statusChanges = Math.min(t.changes, TINYINT_UNSIGNED_MAX);
  row.utimestamp = t.ctx.nowSec;
  row.timestamp = text;
  row.currentInterval = t.interval;
  row.runningBy = t.ctx.serverId;
  row.lastExecutionTry = t.epoch;
  if (save) {
    row.lastTry = text;
    row.lastTryEpoch = t.epoch;
  }
  row.ffStartUtimestamp = t.ffStart;
  row.ffNormal = t.ffNormal;
  row.ffWarning = t.ffWarning;
  row.ffCritical = t.ffCritical;
  row.lastStatusChange = t.lastChange;
  row.warningCount = warningCount;
  t.w.statusTouched = true;
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
  const t = startTransition(w, ctx, sink, { value, epoch, newStatus: escalated.status });
  countRepeats(t);
  if (config.ffType === 0) applyCountedFlipFlop(t);
  else applyPerStatusFlipFlop(t);
  leaveNotInitOrUnknown(t);
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
