import { performance } from 'node:perf_hooks';

/** Samples of monotonic totals kept for this long give the per-second rates. */
const WINDOW_MS = 10_000;
const SAMPLE_EVERY_MS = 1000;
/** Frequent /status polls must not grow the window without bound. */
const MIN_SAMPLE_GAP_MS = 200;

export interface RateMeter {
  /** Per-second rate of every total over the last window (0 until two samples exist). */
  rates(): Record<string, number>;
  close(): void;
}

/** Per-second rates from totals sampled on an unref'd timer (a sliding window, no histograms). */
export function createRateMeter(readTotals: () => Readonly<Record<string, number>>): RateMeter {
  const samples: { at: number; totals: Readonly<Record<string, number>> }[] = [];
  function sample(): void {
    const at = performance.now();
    const last = samples[samples.length - 1];
    if (last && at - last.at < MIN_SAMPLE_GAP_MS) return;
    samples.push({ at, totals: { ...readTotals() } });
    while (samples.length > 2 && (samples[0]?.at ?? at) < at - WINDOW_MS) samples.shift();
  }
  sample();
  const timer = setInterval(sample, SAMPLE_EVERY_MS);
  timer.unref();
  return {
    rates() {
      sample();
      const first = samples[0];
      const last = samples[samples.length - 1];
      const out: Record<string, number> = {};
      if (!first || !last) return out;
      const seconds = (last.at - first.at) / 1000;
      for (const [key, value] of Object.entries(last.totals)) {
        const before = first.totals[key] ?? 0;
        out[`${key}_per_sec`] = seconds > 0 ? Math.max(0, (value - before) / seconds) : 0;
      }
      return out;
    },
    close() {
      clearInterval(timer);
    },
  };
}
