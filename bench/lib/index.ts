/**
 * Shared reporting for every bench (`bench:e2e`, `bench:tentacle`, `bench:dataserver`, …).
 * Stable surface: import from `bench/lib/index.js` only.
 */
export { collectEnv, describeEnv, MIN_QUIET_CORES, type BenchEnv } from './env.js';
export { formatBytes, formatMs, formatNumber, parseDurationMs, round } from './format.js';
export { createProgressBar, type ProgressBar, type ProgressOptions } from './progress.js';
export {
  findPidsByName,
  readProcSnapshot,
  startProcSampler,
  type ProcSampler,
  type ProcSnapshot,
  type ProcUsage,
} from './proc-sampler.js';
export {
  createReport,
  DEFAULT_RESULTS_DIR,
  resultStem,
  writeArtifact,
  writeReport,
  type BenchReport,
} from './report.js';
export { upsertMarkdownSection, writeMarkdownSection } from './markdown-file.js';
export { median, percentile, percentileOfSorted, summarize, type Summary } from './stats.js';
export {
  barChartSvg,
  lineChartSvg,
  niceScale,
  type BarChartOptions,
  type BarGroup,
  type LineChartOptions,
  type LineSeries,
  type Marker,
} from './svg-chart.js';
export { formatMarkdownTable, formatTable, type Cell, type Row } from './table.js';
export { createTimeSeries, type TimeSeries, type TimeSeriesPoint } from './time-series.js';
export { readBenchFlags } from './flags.js';
