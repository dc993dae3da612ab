/**
 * Trends of a soak: the least-squares slope of each sampled quantity against time, its standard
 * error and 95 % interval, and a verdict. Pure functions, so the rule the soak reports is tested.
 */

export interface SlopeFit {
  /** Samples used (non-finite values are skipped). */
  readonly n: number;
  /** Units per second. */
  readonly slope: number;
  readonly intercept: number;
  /** Standard error of the slope (units per second); NaN below three samples. */
  readonly standardError: number;
  /** Half-width of the slope's 95 % interval (Student t with n − 2 degrees of freedom). */
  readonly halfWidth95: number;
  /** Standard deviation of the residuals around the line: the run's sample-to-sample noise. */
  readonly residualSd: number;
  readonly mean: number;
}

/** Ordinary least squares of y on t, with the slope's spread. */
export function fitSlope(points: readonly (readonly [number, number])[]): SlopeFit {
  const finite = points.filter(([t, y]) => Number.isFinite(t) && Number.isFinite(y));
  const n = finite.length;
  if (n === 0) {
    return {
      n,
      slope: Number.NaN,
      intercept: Number.NaN,
      standardError: Number.NaN,
      halfWidth95: Number.NaN,
      residualSd: Number.NaN,
      mean: Number.NaN,
    };
  }
  let sumT = 0;
  let sumY = 0;
  for (const [t, y] of finite) {
    sumT += t;
    sumY += y;
  }
  const meanT = sumT / n;
  const meanY = sumY / n;
  let sxx = 0;
  let sxy = 0;
  for (const [t, y] of finite) {
    sxx += (t - meanT) ** 2;
    sxy += (t - meanT) * (y - meanY);
  }
  const slope = sxx > 0 ? sxy / sxx : Number.NaN;
  const intercept = meanY - (Number.isFinite(slope) ? slope : 0) * meanT;
  let ssr = 0;
  for (const [t, y] of finite) {
    ssr += (y - intercept - (Number.isFinite(slope) ? slope : 0) * t) ** 2;
  }
  const dof = n - 2;
  const standardError = dof > 0 && sxx > 0 ? Math.sqrt(ssr / dof / sxx) : Number.NaN;
  return {
    n,
    slope,
    intercept,
    standardError,
    halfWidth95: dof > 0 ? standardError * studentT975(dof) : Number.NaN,
    residualSd: dof > 0 ? Math.sqrt(ssr / dof) : Number.NaN,
    mean: meanY,
  };
}

/** Two-sided 95 % quantile of Student's t (exact table to 30, Cornish–Fisher beyond). */
export function studentT975(dof: number): number {
  const table = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16,
    2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052,
    2.048, 2.045, 2.042,
  ];
  if (dof < 1) return Number.NaN;
  const exact = table[Math.floor(dof) - 1];
  if (exact !== undefined) return exact;
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * dof) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * dof ** 2);
}

export type TrendVerdict = 'flat' | 'rising' | 'falling' | 'too few samples';

/**
 * Flat when the slope is within the run's noise: its 95 % interval holds zero, or the drift it
 * amounts to over the whole run (|slope| × duration) is smaller than the residual standard
 * deviation, i.e. than the scatter of single samples around the line. The second arm matters
 * because samples a few seconds apart are correlated, which makes the interval too narrow,
 * and a long run makes a trend of no consequence "significant".
 */
export function trendVerdict(fit: SlopeFit, durationSec: number): TrendVerdict {
  if (fit.n < 3 || !Number.isFinite(fit.slope)) return 'too few samples';
  const drift = Math.abs(fit.slope) * durationSec;
  // Equal samples (a count that stayed 0): no spread and no slope.
  if (drift === 0) return 'flat';
  if (Math.abs(fit.slope) <= fit.halfWidth95 || drift <= fit.residualSd) return 'flat';
  return fit.slope > 0 ? 'rising' : 'falling';
}

export interface Trend {
  readonly metric: string;
  readonly unit: string;
  readonly n: number;
  readonly mean: number;
  readonly slopePerHour: number;
  readonly standardErrorPerHour: number;
  readonly halfWidth95PerHour: number;
  /** What the slope adds up to over the trend window. */
  readonly driftOverRun: number;
  readonly residualSd: number;
  readonly verdict: TrendVerdict;
}

export function describeTrend(
  metric: string,
  unit: string,
  points: readonly (readonly [number, number])[],
  durationSec: number,
): Trend {
  const fit = fitSlope(points);
  return {
    metric,
    unit,
    n: fit.n,
    mean: fit.mean,
    slopePerHour: fit.slope * 3600,
    standardErrorPerHour: fit.standardError * 3600,
    halfWidth95PerHour: fit.halfWidth95 * 3600,
    driftOverRun: fit.slope * durationSec,
    residualSd: fit.residualSd,
    verdict: trendVerdict(fit, durationSec),
  };
}

/**
 * The soak's memory line. The live heaps decide a leak: the main thread's (`heap used`) and,
 * when sampled, the parse workers' (`parse workers heap used`), each a V8 heap of its own in
 * RSS. RSS follows V8's committed heaps, which grow and shrink as V8 settles under its limit
 * while the live data stays flat. Without heap samples (a server without /metrics) RSS is all
 * there is.
 */
export function memoryVerdict(trends: readonly Trend[]): string {
  const verdictOf = (metric: string): TrendVerdict | undefined =>
    trends.find((t) => t.metric === metric)?.verdict;
  const known = (v: TrendVerdict | undefined): v is Exclude<TrendVerdict, 'too few samples'> =>
    v !== undefined && v !== 'too few samples';
  const rss = verdictOf('server RSS') ?? 'too few samples';
  const used = verdictOf('heap used');
  if (!known(used)) {
    return `leak judged on RSS alone (no heap samples from /metrics): RSS **${rss}**`;
  }
  const committed = verdictOf('heap committed') ?? 'too few samples';
  const external = verdictOf('external');
  const workersUsed = verdictOf('parse workers heap used');
  const workersCommitted = verdictOf('parse workers heap committed');
  const others =
    `RSS **${rss}**, heap committed **${committed}**` +
    (known(external) ? `, external **${external}**` : '') +
    (known(workersCommitted) ? `, parse workers heap committed **${workersCommitted}**` : '');
  if (used === 'rising') {
    const workers = known(workersUsed) ? `, parse workers heap used **${workersUsed}**` : '';
    return `possible leak: live heap (heap used) **rising**${workers}; ${others}`;
  }
  if (workersUsed === 'rising') {
    return (
      `possible leak: live heap (heap used) **${used}**, parse workers heap used **rising**; ` +
      others
    );
  }
  const decides = known(workersUsed)
    ? `live heap (heap used) **${used}** and parse workers heap used **${workersUsed}**, which decide`
    : `live heap (heap used) **${used}**, which decides`;
  const committedRising = committed === 'rising' || workersCommitted === 'rising';
  const why =
    rss !== 'rising'
      ? ''
      : committedRising
        ? ' (RSS follows the committed heap as V8 settles, not the live data)'
        : ' (RSS grows outside the live heap)';
  return `no leak: ${decides}; ${others}${why}`;
}
