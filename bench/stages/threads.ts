/**
 * CPU time of each thread of a process from /proc/PID/task/TID/stat (user and system ticks).
 * Node names none of its threads (all are "node") but V8's CPU profiler names its sampling
 * threads (`v8:ProfEvntProc`, one per profiled thread); `groupThreadCpu` sorts the others by
 * behaviour:
 * the main thread is the one whose id is the pid; a thread that spent more time in the kernel
 * than in user space is one of libuv's pool threads (file writes, fsync, rename); of the rest,
 * the youngest are the worker threads (the parse workers start with the dataserver, seconds
 * after V8's helper threads, which start before any JavaScript runs) and the others V8's helper
 * threads (concurrent GC, compiling).
 */
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SEC = 100;
/** The name V8 gives the thread that samples a profiled isolate (`--cpu-prof`). */
const PROFILER_THREAD = 'v8:ProfEvntProc';

export interface ThreadCpu {
  readonly tid: number;
  readonly name: string;
  readonly userSeconds: number;
  readonly systemSeconds: number;
  /** When the thread started, in clock ticks after boot. */
  readonly startTicks: number;
}

/** Every live thread's CPU so far; empty when the process is gone. */
export function readThreadCpu(pid: number): ThreadCpu[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const threads: ThreadCpu[] = [];
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // Field 2 (comm) may hold spaces and parentheses: split after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      threads.push({
        tid: Number(tid),
        name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
        userSeconds: Number(fields[11]) / CLOCK_TICKS_PER_SEC,
        systemSeconds: Number(fields[12]) / CLOCK_TICKS_PER_SEC,
        startTicks: Number(fields[19]),
      });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return threads;
}

export interface ThreadGroups {
  /** The main thread (JavaScript, event loop, synchronous syscalls). */
  readonly mainSeconds: number;
  /** Threads that spent more time in the kernel than in user space: libuv's pool. */
  readonly kernelHeavySeconds: number;
  /** V8's profiler's sampling threads: the cost of `--cpu-prof` itself. */
  readonly profilerSeconds: number;
  /** The other threads: V8's helpers. */
  readonly otherSeconds: number;
  /** The `workerThreads` youngest threads that are neither main nor kernel-heavy. */
  readonly workerSeconds: number;
  readonly totalSeconds: number;
}

/**
 * CPU between two readings, by group. A thread born in between counts from zero; one that
 * ended in between is lost (none does in a pass: the pools are fixed).
 */
export function groupThreadCpu(
  pid: number,
  before: readonly ThreadCpu[],
  after: readonly ThreadCpu[],
  workerThreads = 0,
): ThreadGroups {
  const start = new Map(before.map((t) => [t.tid, t]));
  let mainSeconds = 0;
  let kernelHeavySeconds = 0;
  let profilerSeconds = 0;
  const userHeavy: { thread: ThreadCpu; seconds: number }[] = [];
  for (const thread of after) {
    const from = start.get(thread.tid);
    const user = thread.userSeconds - (from?.userSeconds ?? 0);
    const system = thread.systemSeconds - (from?.systemSeconds ?? 0);
    if (thread.tid === pid) mainSeconds += user + system;
    else if (thread.name === PROFILER_THREAD) profilerSeconds += user + system;
    else if (system > user) kernelHeavySeconds += user + system;
    else userHeavy.push({ thread, seconds: user + system });
  }
  // Youngest first: the worker threads.
  userHeavy.sort(
    (a, b) => b.thread.startTicks - a.thread.startTicks || b.thread.tid - a.thread.tid,
  );
  const sum = (list: typeof userHeavy) => list.reduce((total, t) => total + t.seconds, 0);
  const workerSeconds = sum(userHeavy.slice(0, workerThreads));
  const otherSeconds = sum(userHeavy.slice(workerThreads));
  return {
    mainSeconds,
    kernelHeavySeconds,
    profilerSeconds,
    otherSeconds,
    workerSeconds,
    totalSeconds: mainSeconds + kernelHeavySeconds + profilerSeconds + otherSeconds + workerSeconds,
  };
}
