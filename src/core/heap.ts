import { getHeapStatistics } from 'node:v8';

/**
 * How `serve` is launched (npm start, the bin's shebang, the Dockerfile, the bench): a bounded
 * V8 heap. Left to itself, V8 lets the old generation grow to about four times the live data
 * before collecting under a steady packet load, so a server with 75 MB of live state sat at
 * 450-530 MB RSS in the end-to-end bench; with these flags it held 220-270 MB at the same
 * packet rate. The state cache is bounded to fit (dataserver_cache_modules), so the limit holds
 * for any fleet size; raise both together for very large fleets.
 *
 * The young generation: a packet's objects (its session, parsed XML, outcome and SQL) live about
 * 100 ms, from upload to commit, so a scavenge finds much of each semi-space still alive and
 * copies it. With 16 MB semi-spaces instead of 8, one standard run (--trace-gc) did 398
 * scavenges instead of 630 (mark-compacts 30 against 34); over 6 alternating runs each: 7-11 %
 * less server CPU per packet, steady +10-20 % and creation +5-10 % packets/s, peak RSS 262-274 MB
 * against 246-251. 32 MB gave 277-305 MB peak RSS in 3 runs, over the 300 MB target.
 *
 * The same minimum: the flags are process-wide, so each parse worker gets 16 MB semi-spaces too,
 * and V8 grows a new space from 1 MB to its maximum only as allocation demands. Under a paced
 * soak the worker's heap went from 17 to 44 MB committed about 9 minutes in, and stayed there,
 * which read as RSS rising +88 MB/h over 20 minutes while every heap's live data was flat.
 * Starting at the maximum makes RSS flat from the start (one-hour soak: +3.3 MB over 45 min
 * after the warm-up). A short run now reaches that level sooner: peak RSS in 3 alternating bench
 * runs each 280-287 MB against 260-266 without it; a long run settled at about 290 either way.
 * CPU per packet was level (creation median 3.87 ms both, steady 2.10 against 2.17).
 * (`resourceLimits.maxYoungGenerationSizeMb` cannot make a worker's smaller: the flag wins.)
 */
export const SERVE_NODE_FLAGS = [
  '--max-old-space-size=256',
  '--max-semi-space-size=16',
  '--min-semi-space-size=16',
] as const;

/** Measured live heap per cached module state (end-to-end bench, 33 modules per agent). */
export const CACHED_MODULE_BYTES = 768;
/** Heap kept for everything but the cache: batches, the spool queue, sockets, the code. */
export const HEAP_RESERVE_BYTES = 96 * 1024 * 1024;

/** A warning when `cacheModules` module states would not fit the heap this process has. */
export function cacheHeapWarning(cacheModules: number): string | undefined {
  const limit = getHeapStatistics().heap_size_limit;
  const needed = cacheModules * CACHED_MODULE_BYTES + HEAP_RESERVE_BYTES;
  if (cacheModules > 0 && needed <= limit) return undefined;
  const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
  return cacheModules <= 0
    ? `dataserver_cache_modules 0 (unbounded): memory grows with the fleet beyond the ${String(mb(limit))} MB heap limit`
    : `dataserver_cache_modules ${String(cacheModules)} needs about ${String(mb(needed))} MB of heap, ` +
        `more than the ${String(mb(limit))} MB limit: lower it or start node with a larger --max-old-space-size`;
}
