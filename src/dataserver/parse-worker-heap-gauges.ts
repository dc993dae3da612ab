/**
 * The `pandora_dataserver_parse_worker_*` gauges: each parse worker's heap as it last reported
 * (parse-worker-heap.ts), kept by the pool on the main thread.
 */
import { Gauge } from 'prom-client';
import { metricOnce, type Registry } from '../core/index.js';
import { WORKER_HEAP_REPORT_MS, type WorkerHeapReport } from './parse-worker-heap.js';

/** Where a pool puts its workers' reports. */
export interface WorkerHeapGauges {
  /** The latest report of the worker in slot `worker`. */
  record(worker: number, report: WorkerHeapReport): void;
  /** The worker in slot `worker` is gone (died, replaced, pool closed): no value until it reports. */
  forget(worker: number): void;
}

const GAUGES = {
  used: ['pandora_dataserver_parse_worker_heap_used_bytes', 'V8 heap in use (live objects)'],
  committed: ['pandora_dataserver_parse_worker_heap_committed_bytes', 'V8 heap committed'],
  external: ['pandora_dataserver_parse_worker_external_bytes', 'memory V8 tracks outside its heap'],
  malloced: ['pandora_dataserver_parse_worker_malloced_bytes', "V8's own malloc'ed memory"],
} as const;

/**
 * One series per worker slot (`worker="0"`…), not one sum: `sum()` gives the process total a
 * dashboard sets beside RSS, and the per-worker lines show whether one worker (the one a large
 * file went to) or all of them grow. There are dataserver_threads slots at most, and a worker
 * that replaces a dead one reports under its slot's label, so the series do not churn. One
 * pool per registry: two would write the same slot labels.
 */
export function createWorkerHeapGauges(registry: Registry): WorkerHeapGauges {
  const gauge = ([name, what]: readonly [string, string]): Gauge<'worker'> =>
    metricOnce(
      registry,
      name,
      () =>
        new Gauge({
          name,
          help: `A parse worker's ${what}, in bytes, as it last reported (every ${String(WORKER_HEAP_REPORT_MS / 1000)} s)`,
          labelNames: ['worker'] as const,
          registers: [registry],
        }),
    );
  const used = gauge(GAUGES.used);
  const committed = gauge(GAUGES.committed);
  const external = gauge(GAUGES.external);
  const malloced = gauge(GAUGES.malloced);
  const all = [used, committed, external, malloced];
  return {
    record(worker, report) {
      const labels = { worker: String(worker) };
      used.set(labels, report.usedBytes);
      committed.set(labels, report.committedBytes);
      external.set(labels, report.externalBytes);
      malloced.set(labels, report.mallocedBytes);
    },
    forget(worker) {
      for (const g of all) g.remove({ worker: String(worker) });
    },
  };
}

/** Gauges for a pool given no registry. */
export const UNREPORTED_WORKER_HEAP: WorkerHeapGauges = {
  record: () => undefined,
  forget: () => undefined,
};
