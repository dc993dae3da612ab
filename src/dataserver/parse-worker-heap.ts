/**
 * A parse worker's own V8 heap, which prom-client's default metrics (main thread only) cannot
 * see. A worker started with `heapReportMs` posts a `WorkerHeapReport` at start and then that
 * often; the pool keeps the latest per worker slot in gauges (parse-worker-heap-gauges.ts).
 * Imports nothing but node: modules: a worker loads this file, and each module it loads is heap.
 */
import { getHeapStatistics } from 'node:v8';
import type { MessagePort } from 'node:worker_threads';

/** How often a pool's workers report their heap: a scrape interval, not a hot path. */
export const WORKER_HEAP_REPORT_MS = 5000;

/** The message a worker posts about its heap, told apart from parse replies by `kind`. */
export interface WorkerHeapReport {
  readonly kind: 'heap';
  /** Live objects (`used_heap_size`): what a leak makes grow. */
  readonly usedBytes: number;
  /** Heap V8 has committed (`total_heap_size`): what the worker adds to RSS. */
  readonly committedBytes: number;
  /** ArrayBuffers and other memory V8 tracks outside its heap (the file bytes handed over). */
  readonly externalBytes: number;
  /** V8's own malloc'ed memory (parser tables, compiled code metadata). */
  readonly mallocedBytes: number;
}

/** This thread's heap, as a report (one `getHeapStatistics()` call, a few microseconds). */
export function readWorkerHeap(): WorkerHeapReport {
  const s = getHeapStatistics();
  return {
    kind: 'heap',
    usedBytes: s.used_heap_size,
    committedBytes: s.total_heap_size,
    externalBytes: s.external_memory,
    mallocedBytes: s.malloced_memory,
  };
}

export function isWorkerHeapReport(message: unknown): message is WorkerHeapReport {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { kind?: unknown }).kind === 'heap'
  );
}

/**
 * Posts this thread's heap now, so a new worker shows at once, and then every `intervalMs`.
 * The timer is unref'd: the port, not the reports, keeps a worker alive.
 */
export function startHeapReports(port: MessagePort, intervalMs: number): void {
  const post = (): void => {
    port.postMessage(readWorkerHeap());
  };
  post();
  setInterval(post, intervalMs).unref();
}
