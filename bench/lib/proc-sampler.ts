/**
 * CPU and memory of another process read from /proc (Linux), sampled on an interval so the peak
 * RSS and the CPU time spent during a bench window can be reported for the server and mariadbd.
 */
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcSnapshot {
  /** User + system CPU time consumed so far, in seconds. */
  readonly cpuSeconds: number;
  readonly rssBytes: number;
  /** The kernel's own high-water mark (VmHWM) for the life of the process. */
  readonly peakRssBytes: number;
}

export interface ProcUsage {
  readonly pid: number;
  readonly cpuSeconds: number;
  /** CPU time divided by wall time, ×100: 200 % means two full cores. */
  readonly cpuPercent: number;
  readonly peakRssBytes: number;
  readonly lastRssBytes: number;
  readonly wallSeconds: number;
}

export interface ProcSampler {
  /** The latest usage since `start` (safe to call while running). */
  usage(): ProcUsage;
  /** Stops sampling and returns the usage over the sampled window. */
  stop(): ProcUsage;
}

// USER_HZ is 100 on every Linux ABI Node supports.
const CLOCK_TICKS_PER_SEC = 100;

export function readProcSnapshot(pid: number): ProcSnapshot | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces and parentheses: parse after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return {
      cpuSeconds: (utime + stime) / CLOCK_TICKS_PER_SEC,
      rssBytes: statusKb(status, 'VmRSS') * 1024,
      peakRssBytes: statusKb(status, 'VmHWM') * 1024,
    };
  } catch {
    return undefined; // the process is gone
  }
}

/** Samples `pid` every `intervalMs`; the CPU is measured from the first sample. */
export function startProcSampler(pid: number, intervalMs = 250): ProcSampler {
  const first = readProcSnapshot(pid);
  if (!first) throw new Error(`no such process: ${pid}`);
  const startMs = performance.now();
  let last = first;
  let peakRss = first.rssBytes;
  const sample = (): void => {
    const snap = readProcSnapshot(pid);
    if (!snap) return;
    last = snap;
    if (snap.rssBytes > peakRss) peakRss = snap.rssBytes;
  };
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  let stopped: ProcUsage | undefined;
  const usage = (): ProcUsage => {
    if (stopped) return stopped;
    sample();
    const wallSeconds = (performance.now() - startMs) / 1000;
    const cpuSeconds = last.cpuSeconds - first.cpuSeconds;
    return {
      pid,
      cpuSeconds,
      cpuPercent: wallSeconds > 0 ? (cpuSeconds / wallSeconds) * 100 : 0,
      // VmHWM catches spikes between samples; it covers the whole life of the process.
      peakRssBytes: Math.max(peakRss, last.peakRssBytes),
      lastRssBytes: last.rssBytes,
      wallSeconds,
    };
  };
  return {
    usage,
    stop() {
      const final = usage();
      clearInterval(timer);
      stopped = final;
      return final;
    },
  };
}

/** Pids whose /proc/<pid>/comm equals `name` (e.g. `mariadbd`), lowest first. */
export function findPidsByName(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids.sort((a, b) => a - b);
}

function statusKb(status: string, key: string): number {
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) : 0;
}
