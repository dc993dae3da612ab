/**
 * Reads a Prometheus text endpoint (our `/metrics`) during a run, so the chart can show the
 * server's own queue (spool files known, files in flight) next to what the database shows.
 * Only plain samples are read; histogram buckets and comments are skipped.
 */

/** Server-side queue gauges worth charting (spec names in src/dataserver). */
export const QUEUE_GAUGES = [
  'pandora_dataserver_spool_files',
  'pandora_dataserver_files_in_flight',
] as const;

/**
 * prom-client's default process gauges: V8's live heap, its committed heap and the memory held
 * outside it (Buffers). RSS follows the committed heap; a leak shows in the live heap.
 */
export const HEAP_USED = 'nodejs_heap_size_used_bytes';
export const HEAP_TOTAL = 'nodejs_heap_size_total_bytes';
export const EXTERNAL_MEMORY = 'nodejs_external_memory_bytes';

/**
 * The parse workers' own V8 heaps (live, committed), one series per worker: the default
 * gauges above see the main thread only. A scrape sums them over the workers.
 */
export const WORKER_HEAP_USED = 'pandora_dataserver_parse_worker_heap_used_bytes';
export const WORKER_HEAP_COMMITTED = 'pandora_dataserver_parse_worker_heap_committed_bytes';

/** Files finished by the server, labelled by result (ok, badxml, error, …). */
export const FILES_PROCESSED = 'pandora_dataserver_files_processed_total';

/** Connections and commands the Tentacle server refused, labelled by reason. */
export const TENTACLE_REJECTIONS = 'pandora_tentacle_rejections_total';

const SCRAPE_TIMEOUT_MS = 1000;

/**
 * Sums every sample of each wanted metric over its labels (key: the name) and also keeps each
 * labelled sample (key: `name{labels}` as written by the exporter).
 */
export function parsePrometheusText(text: string, wanted: readonly string[]): Map<string, number> {
  const sums = new Map<string, number>();
  const want = new Set(wanted);
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    const name = match?.[1];
    if (name === undefined || !want.has(name)) continue;
    const value = Number(match?.[3]);
    if (!Number.isFinite(value)) continue;
    sums.set(name, (sums.get(name) ?? 0) + value);
    const labels = match?.[2];
    if (labels !== undefined) sums.set(`${name}${labels}`, value);
  }
  return sums;
}

/** `{ ok: 2990, badxml: 10 }` from the labelled samples of a `result`-labelled counter. */
export function countsByResult(
  samples: ReadonlyMap<string, number>,
  name: string,
): Record<string, number> {
  return countsByLabel(samples, name, 'result');
}

/** The labelled samples of a counter keyed by one label's value (`reason`, `result`, …). */
export function countsByLabel(
  samples: ReadonlyMap<string, number>,
  name: string,
  label: string,
): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [key, value] of samples) {
    const match = new RegExp(`^${name}\\{(?:.*,)?${label}="([^"]*)".*\\}$`).exec(key);
    if (match?.[1] !== undefined) counts[match[1]] = value;
  }
  return counts;
}

/** One scrape; undefined when the endpoint does not answer (the run goes on without it). */
export async function scrapeMetrics(
  url: string,
  wanted: readonly string[],
): Promise<Map<string, number> | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
    if (!response.ok) return undefined;
    return parsePrometheusText(await response.text(), wanted);
  } catch {
    return undefined;
  }
}
