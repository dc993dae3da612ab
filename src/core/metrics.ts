import { Registry, collectDefaultMetrics } from 'prom-client';

export { Registry } from 'prom-client';

/**
 * One registry per server process, handed to every module that records metrics, so tests can
 * build isolated servers side by side. Names follow `pandora_<subsystem>_<name>_<unit>`.
 */
export function createMetricsRegistry(options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}
