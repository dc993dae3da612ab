import { performance } from 'node:perf_hooks';

/** Samples of monotonic totals kept for this long give the per-second rates. */
const WINDOW_MS = 10_000;
const SAMPLE_EVERY_MS = 1000;
/** Frequent /status polls must not grow the window without bound. */
const MIN_SAMPLE_GAP_MS = 200;

interface Sample {
  readonly at: number;
  readonly totals: Readonly<Record<string, number>>;
}

export interface RateMeter {
  /** Per-second rate of every current total over the last window (0 without history). */
  rates(): Promise<Record<string, number>>;
  close(): void;
}

/** Per-second rates from totals sampled on an unref'd timer (a sliding window). */
export function createRateMeter(
  readTotals: () => Promise<Readonly<Record<string, number>>>,
): RateMeter {
  const samples: Sample[] = [];

  async function sample(): Promise<Sample> {
    const current = { at: performance.now(), totals: { ...(await readTotals()) } };
    const last = samples[samples.length - 1];
    if (!last || current.at - last.at >= MIN_SAMPLE_GAP_MS) samples.push(current);
    while (samples.length > 2 && (samples[0]?.at ?? current.at) < current.at - WINDOW_MS) {
      samples.shift();
    }
    return current;
  }
  const sampleQuietly = (): void => {
    sample().catch(() => undefined);
  };
  sampleQuietly();
  const timer = setInterval(sampleQuietly, SAMPLE_EVERY_MS);
  timer.unref();

  return {
    async rates() {
      const current = await sample();
      const first = samples[0];
      const seconds = first ? (current.at - first.at) / 1000 : 0;
      const out: Record<string, number> = {};
      for (const [key, value] of Object.entries(current.totals)) {
        const before = first?.totals[key] ?? 0;
        out[`${key}_per_sec`] = seconds > 0 ? Math.max(0, (value - before) / seconds) : 0;
      }
      return out;
    },
    close() {
      clearInterval(timer);
    },
  };
}
