/**
 * The status side of one datum (spec §5.1): flip-flop counting, status changes and their
 * events, written back into the module's per-packet status row.
 */
import type { ModuleConfig } from '../types.js';
import { eventDataText, statusEvent } from './events.js';
import type { DatumContext, DatumSink, WorkingModule } from './process-datum.js';
import { formatLocalDateTime } from './time.js';

const TINYINT_UNSIGNED_MAX = 255;

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

/**
 * The status-row fields one datum moves (flip-flop counters, transitions), worked on here and
 * written back to the status row only when the datum is not older than the last stored one.
 */
export interface Transition {
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

export function startTransition(
  w: WorkingModule,
  ctx: DatumContext,
  sink: DatumSink,
  datum: { value: string; epoch: number; newStatus: number; interval: number },
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
    interval: datum.interval,
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

/**
 * What one datum does to the status: repeats counted, the flip-flop rule of the module's
 * ff_type applied, NOT INIT and UNKNOWN left.
 */
export function moveStatus(t: Transition): void {
  countRepeats(t);
  if (t.w.config.ffType === 0) applyCountedFlipFlop(t);
  else applyPerStatusFlipFlop(t);
  leaveNotInitOrUnknown(t);
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
export function writeStatusRow(t: Transition, warningCount: number, save: boolean): void {
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
