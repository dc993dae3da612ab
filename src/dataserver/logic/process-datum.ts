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
  const newStatus = escalated.status;
  const known = row.knownStatus;
  let status = row.estado;
  let changes = row.statusChanges;
  let lastChange = row.lastStatusChange;
  let ffStart = row.ffStartUtimestamp;
  let ffNormal = row.ffNormal;
  let ffWarning = row.ffWarning;
  let ffCritical = row.ffCritical;
  let mark = false;
  const ff = flipFlopThreshold(config, newStatus);
  let interval = intervalOf(config, ctx);

  if (row.lastKnownStatus === newStatus) {
    if (config.ffType === 0 && changes > ff) changes = ff;
    changes += 1;
    if (
      w.type.isAsync &&
      ff !== 0 &&
      config.ffTimeout !== 0 &&
      epoch - ffStart > config.ffTimeout
    ) {
      if (config.ffType === 0) changes = 0;
      ffStart = epoch;
      ffNormal = ffWarning = ffCritical = 0;
    }
  } else {
    if (config.ffType === 0) changes = 0;
    if (w.type.isAsync) ffStart = epoch;
  }

  if (config.ffType === 0) {
    if (config.moduleFfInterval !== 0 && changes < ff) interval = config.moduleFfInterval;
    if (changes >= ff && known !== newStatus) {
      emitStatusEvent(w, ctx, sink, newStatus, status, known, value);
      status = newStatus;
      lastChange = epoch;
      mark = true;
    }
  } else {
    if (newStatus === 0) ffNormal++;
    else if (newStatus === 1) ffCritical++;
    else if (newStatus === 2) ffWarning++;
    if (
      (newStatus !== status && newStatus === 0 && ffNormal > ff) ||
      (newStatus === 1 && ffCritical > ff) ||
      (newStatus === 2 && ffWarning > ff)
    ) {
      emitStatusEvent(w, ctx, sink, newStatus, status, known, value);
      status = newStatus;
      lastChange = epoch;
      mark = true;
      ffNormal = ffWarning = ffCritical = 0;
    } else {
      if (newStatus === 0 && ffNormal > ff) ffNormal = 0;
      if (config.moduleFfInterval !== 0 && ff > 0 && row.lastKnownStatus !== status) {
        interval = config.moduleFfInterval;
      }
    }
  }

  if (status === 4) {
    // First datum of a NOT INIT module: NOT INIT → NORMAL, silent.
    emitStatusEvent(w, ctx, sink, 0, 4, known, value);
    status = 0;
    lastChange = epoch;
    mark = true;
  } else if (status === 3) {
    // Data for an UNKNOWN module restores the known status.
    emitStatusEvent(w, ctx, sink, known, 3, known, value);
    status = known;
    lastChange = epoch;
    ffNormal = ffWarning = ffCritical = 0;
    mark = true;
  }

  if (epoch >= lastTryEpoch) {
    // Never move the status row backwards (older than the last stored row). Alerts see only
    // data that update it (D-A5), with the value and status-change time from before.
    sink.alertDatum(w, {
      value,
      status,
      epoch,
      previousValue: row.datos,
      lastStatusChange: row.lastStatusChange,
      forced,
    });
    const text = formatLocalDateTime(epoch);
    row.datos = value;
    row.estado = status;
    row.knownStatus = status;
    row.lastStatus = newStatus;
    row.lastKnownStatus = newStatus;
    row.statusChanges = Math.min(changes, TINYINT_UNSIGNED_MAX);
    row.utimestamp = ctx.nowSec;
    row.timestamp = text;
    row.currentInterval = interval;
    row.runningBy = ctx.serverId;
    row.lastExecutionTry = epoch;
    if (save) {
      row.lastTry = text;
      row.lastTryEpoch = epoch;
    }
    row.ffStartUtimestamp = ffStart;
    row.ffNormal = ffNormal;
    row.ffWarning = ffWarning;
    row.ffCritical = ffCritical;
    row.lastStatusChange = lastChange;
    row.warningCount = escalated.warningCount;
    w.statusTouched = true;
  }

  if (mark) sink.markAgent();
  if (alwaysStored || save) {
    storeHistory(w, sink, value, epoch);
    return 'stored';
  }
  return 'compacted';
}
