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

const SCRAPE_TIMEOUT_MS = 1000;

/** Sums every sample of each wanted metric over its labels. */
export function parsePrometheusText(text: string, wanted: readonly string[]): Map<string, number> {
  const sums = new Map<string, number>();
  const want = new Set(wanted);
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    const name = match?.[1];
    if (name === undefined || !want.has(name)) continue;
    const value = Number(match?.[3]);
    if (Number.isFinite(value)) sums.set(name, (sums.get(name) ?? 0) + value);
  }
  return sums;
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
