/**
 * The per-stage cost table of one pass: µs of CPU per committed packet for each stage, from the
 * main thread's CPU profile, the parse workers' CPU (/proc) shared out by their profiles' samples,
 * and /proc's per-thread CPU for what no profile sees (V8's helper threads, libuv's pool). The
 * rows add up to the process's CPU: the last one is the main thread's CPU its samples miss.
 */
import { STAGES, type Stage } from './attribute.js';
import type { ThreadGroups } from './threads.js';

export interface PassMeasure {
  readonly committed: number;
  readonly threads: ThreadGroups;
  /** µs sampled per stage on the main thread in the pass's window. */
  readonly main: ReadonlyMap<Stage, number>;
  /** The same for each worker thread (the parse workers). */
  readonly workers: readonly ReadonlyMap<Stage, number>[];
}

export interface StageRow {
  readonly stage: string;
  readonly measuredBy: string;
  readonly usPerPacket: number;
}

export const MAIN_SOURCE = 'profile, main thread';
export const WORKER_SOURCE = 'parse worker: /proc CPU shared by its samples';
export const PROC_SOURCE = '/proc, per thread';
export const REST_STAGE = 'rest: main thread CPU not in its samples';
export const PROFILER_STAGE = "--cpu-prof's sampling threads (profiling only)";
export const TOTAL_STAGE = 'total: process CPU (user + sys)';
export const DURABLE_WRITE_STAGE: Stage = 'durable write';
export const POOL_STAGE = "libuv's pool (fsync, file I/O; mostly kernel)";

/** Stages whose main-thread samples are rows of their own (parse joins the worker's). */
const MAIN_ROWS: readonly Stage[] = STAGES.filter(
  (s) => s !== 'idle' && s !== 'parse' && s !== 'GC on the thread',
);

function busyUs(samples: ReadonlyMap<Stage, number>): number {
  let sum = 0;
  for (const [stage, us] of samples) if (stage !== 'idle') sum += us;
  return sum;
}

export function stageTable(m: PassMeasure): StageRow[] {
  const perPacket = (us: number): number => (m.committed > 0 ? us / m.committed : Number.NaN);
  const workerBusy = m.workers.reduce((sum, w) => sum + busyUs(w), 0);
  const workerGc = m.workers.reduce((sum, w) => sum + (w.get('GC on the thread') ?? 0), 0);
  // The workers' samples share out their threads' CPU; without /proc's figure, they count as is.
  const workerCpu = m.threads.workerSeconds > 0 ? m.threads.workerSeconds * 1e6 : workerBusy;
  const workerGcCpu = workerBusy > 0 ? (workerCpu * workerGc) / workerBusy : 0;
  const rows: StageRow[] = MAIN_ROWS.map((stage) => ({
    stage,
    measuredBy: MAIN_SOURCE,
    usPerPacket: perPacket(m.main.get(stage) ?? 0),
  }));
  rows.splice(MAIN_ROWS.indexOf('processing'), 0, {
    stage: 'parse',
    measuredBy: WORKER_SOURCE,
    usPerPacket: perPacket(workerCpu - workerGcCpu + (m.main.get('parse') ?? 0)),
  });
  rows.push(
    {
      stage: 'GC, main thread',
      measuredBy: MAIN_SOURCE,
      usPerPacket: perPacket(m.main.get('GC on the thread') ?? 0),
    },
    { stage: 'GC, parse worker', measuredBy: WORKER_SOURCE, usPerPacket: perPacket(workerGcCpu) },
    {
      stage: 'V8 helper threads (concurrent GC, compiling)',
      measuredBy: PROC_SOURCE,
      usPerPacket: perPacket(m.threads.otherSeconds * 1e6),
    },
    {
      stage: POOL_STAGE,
      measuredBy: PROC_SOURCE,
      usPerPacket: perPacket(m.threads.kernelHeavySeconds * 1e6),
    },
    {
      stage: PROFILER_STAGE,
      measuredBy: PROC_SOURCE,
      usPerPacket: perPacket(m.threads.profilerSeconds * 1e6),
    },
  );
  const total = perPacket(m.threads.totalSeconds * 1e6);
  const attributed = rows.reduce((sum, r) => sum + r.usPerPacket, 0);
  rows.push(
    { stage: REST_STAGE, measuredBy: `${PROC_SOURCE} − samples`, usPerPacket: total - attributed },
    { stage: TOTAL_STAGE, measuredBy: PROC_SOURCE, usPerPacket: total },
  );
  return rows;
}

/** The three costliest stages (the rest, the profiler and the total excluded), costliest first. */
export function topStages(rows: readonly StageRow[], count = 3): StageRow[] {
  return rows
    .filter((r) => r.stage !== REST_STAGE && r.stage !== TOTAL_STAGE && r.stage !== PROFILER_STAGE)
    .sort((a, b) => b.usPerPacket - a.usPerPacket)
    .slice(0, count);
}
