/**
 * Samples counters on an interval during a run (e.g. committed packets, queue depth) and turns
 * them into per-second rates for charts: throughput is the slope of a cumulative counter.
 */

export interface TimeSeriesPoint {
  /** Seconds since the series started. */
  readonly t: number;
  readonly values: Readonly<Record<string, number>>;
}

export interface TimeSeries {
  add(values: Readonly<Record<string, number>>): void;
  points(): readonly TimeSeriesPoint[];
  /** `[t, value]` pairs for one field. */
  series(field: string): [number, number][];
  /** `[t, Δvalue/Δt]` pairs for a cumulative field, smoothed over `windowSec`. */
  rate(field: string, windowSec?: number): [number, number][];
}

export function createTimeSeries(startMs = performance.now()): TimeSeries {
  const points: TimeSeriesPoint[] = [];
  const valueOf = (point: TimeSeriesPoint, field: string): number => point.values[field] ?? 0;
  return {
    add(values) {
      points.push({ t: (performance.now() - startMs) / 1000, values: { ...values } });
    },
    points: () => points,
    series: (field) => points.map((p) => [p.t, valueOf(p, field)]),
    rate(field, windowSec = 1) {
      const out: [number, number][] = [];
      let from = 0;
      for (let i = 1; i < points.length; i++) {
        const current = points[i];
        if (!current) continue;
        while (from < i - 1 && current.t - (points[from]?.t ?? 0) > windowSec) from += 1;
        const base = points[from];
        if (!base || current.t <= base.t) continue;
        out.push([
          current.t,
          (valueOf(current, field) - valueOf(base, field)) / (current.t - base.t),
        ]);
      }
      return out;
    },
  };
}
