import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export { Registry } from 'prom-client';

/**
 * One registry per server process, handed to every module that records metrics, so tests can
 * build isolated servers side by side. Names follow `pandora_<subsystem>_<name>_<unit>`.
 */
export function createMetricsRegistry(
  options: { defaultMetrics?: boolean; version?: string } = {},
): Registry {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  if (options.version !== undefined) registerBuildInfo(registry, options.version);
  return registry;
}

/**
 * The metric `name` of `registry`, created by `create` the first time: a module built twice on
 * one registry (a listener and a worker in one process, a restart in tests) shares its series.
 */
export function metricOnce<M>(registry: Registry, name: string, create: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? create();
}

/**
 * Makes each known label value's series exist at 0 from the start: without it a counter shows
 * no series until its first increment, and `rate()` or `absent()` in alert rules cannot tell
 * "never happened" from "not exported".
 */
export function zeroSeries<L extends string>(
  counter: Counter<L>,
  labelSets: readonly Partial<Record<L, string>>[],
): void {
  for (const labels of labelSets) counter.inc(labels, 0);
}

/** `tentacle_ingest_build_info{version, node_version} 1`: which build a scrape came from. */
function registerBuildInfo(registry: Registry, version: string): void {
  const name = 'tentacle_ingest_build_info';
  if (registry.getSingleMetric(name)) return;
  const info = new Gauge({
    name,
    help: 'Always 1; the labels say which build and Node.js runtime serve',
    labelNames: ['version', 'node_version'] as const,
    registers: [registry],
  });
  info.set({ version, node_version: process.versions.node }, 1);
}
