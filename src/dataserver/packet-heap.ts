/**
 * Whether one packet at the limits (max_xml_size, max_modules_per_packet, max_datalist_values,
 * max_xml_elements) fits the heap `serve` runs with, in a parse worker and on the main thread.
 * The costs are per item, measured with `--expose-gc` on this code (heapUsed after a full GC)
 * and rounded up; a packet cannot cost more than its item counts at these rates:
 *
 * - its text, decoded: 2 bytes a character once any character is beyond Latin-1, so at most
 *   2 × max_xml_size (the worker holds it while parsing; the main thread the strings kept);
 * - the element tree, worker only: 110 B an element for plain modules, 400 B with attributes;
 * - the packet: about 420 B a module and 90 B a datalist value (in the worker, then its copy
 *   on the main thread), plus on the main thread the rows and SQL text written for it.
 *
 * A worker parses one file at a time but keeps a message's packets until the last is parsed;
 * files over LARGE_FILE_BYTES go alone (parse-pool.ts), so besides the packet at the limits it
 * holds at most TASKS_PER_MESSAGE - 1 packets of small files. On the main thread the packet
 * sits beside what the cache sizing reserves for everything else (core/heap.ts). Up to
 * dataserver_batch_files × 4 packets are in flight on the main thread; their bytes are bounded
 * by packetByteBudget (the file handler's admission gate), so several large ones wait their turn.
 */
import { getHeapStatistics } from 'node:v8';
import { CACHED_MODULE_BYTES, HEAP_RESERVE_BYTES } from '../core/index.js';
import { LARGE_FILE_BYTES, TASKS_PER_MESSAGE } from './parse-pool.js';
import type { ParseOptions } from './types.js';

const MB = 1024 * 1024;
const TREE_BYTES_PER_ELEMENT = 512;
const PACKET_BYTES_PER_MODULE = 512;
const PACKET_BYTES_PER_VALUE = 128;
/** Outcome, state rows and SQL text of a module / a datalist value (main thread). */
const WRITE_BYTES_PER_MODULE = 1024;
const WRITE_BYTES_PER_VALUE = 256;
/** A parse worker's own heap before any file: code, parser tables (measured ~10 MB). */
const WORKER_BASE_BYTES = 16 * MB;
/** Packet heap per byte of file at worst (79-byte modules of 420 B, rounded up). */
const PACKET_BYTES_PER_FILE_BYTE = 8;
/** The small files' packets a worker may hold beside the one it is parsing. */
const SMALL_PACKETS_BYTES = (TASKS_PER_MESSAGE - 1) * LARGE_FILE_BYTES * PACKET_BYTES_PER_FILE_BYTE;

export interface PacketHeapEstimate {
  /** Heap one worker needs to parse a packet at the limits. */
  readonly workerBytes: number;
  /** Heap the main thread needs beyond HEAP_RESERVE_BYTES for one packet at the limits. */
  readonly mainBytes: number;
}

/** Datalist values a packet can carry: each is a `<data>` and a `<value>` element. */
function maxValues(options: ParseOptions): number {
  const { maxModules, maxDatalistValues, maxElements } = options.limits;
  return Math.min(Math.floor(maxElements / 2), maxModules * maxDatalistValues);
}

export function estimatePacketHeap(options: ParseOptions): PacketHeapEstimate {
  const { maxModules, maxElements } = options.limits;
  const modules = Math.min(maxModules, maxElements);
  const values = maxValues(options);
  const text = 2 * options.maxXmlSize;
  const packet = modules * PACKET_BYTES_PER_MODULE + values * PACKET_BYTES_PER_VALUE;
  return {
    workerBytes:
      WORKER_BASE_BYTES +
      SMALL_PACKETS_BYTES +
      text +
      maxElements * TREE_BYTES_PER_ELEMENT +
      packet,
    mainBytes: text + packet + modules * WRITE_BYTES_PER_MODULE + values * WRITE_BYTES_PER_VALUE,
  };
}

/**
 * Why these limits cannot fit, or undefined. `heapLimit` is V8's heap_size_limit, which parse
 * workers share: under `--max-old-space-size` a worker gets the same limit as the main thread
 * whatever its resourceLimits say (measured on Node 20), and createPacketParser gives them the
 * same size when node runs without the flag. With `threads` 0 the main thread also parses.
 */
export function packetHeapProblem(
  options: ParseOptions,
  threads: number,
  heapLimit = getHeapStatistics().heap_size_limit,
): string | undefined {
  const estimate = estimatePacketHeap(options);
  const inMain = estimate.mainBytes + (threads === 0 ? estimate.workerBytes : 0);
  const mb = (bytes: number) => String(Math.ceil(bytes / MB));
  const limits =
    `max_xml_size ${String(options.maxXmlSize)}, max_modules_per_packet ${String(options.limits.maxModules)}, ` +
    `max_datalist_values ${String(options.limits.maxDatalistValues)}, max_xml_elements ${String(options.limits.maxElements)}`;
  const fix = 'lower them or start node with a larger --max-old-space-size';
  if (HEAP_RESERVE_BYTES + inMain > heapLimit) {
    return (
      `a packet at the limits (${limits}) needs about ${mb(inMain)} MB of heap beside the ` +
      `${mb(HEAP_RESERVE_BYTES)} MB reserve, more than the ${mb(heapLimit)} MB heap limit: ${fix}`
    );
  }
  if (threads > 0 && estimate.workerBytes > heapLimit) {
    return (
      `parsing a packet at the limits (${limits}) needs about ${mb(estimate.workerBytes)} MB ` +
      `in a parse worker, more than its ${mb(heapLimit)} MB heap limit: ${fix}`
    );
  }
  return undefined;
}

/**
 * Bytes of files that may be read and not yet finished at once: the main thread's heap beyond
 * the reserve, the state cache (when bounded) and, with `threads` 0, the parsing itself, priced
 * at what a packet at the limits costs per byte of its file. Never less than max_xml_size: a
 * file alone is always admitted (packetHeapProblem has checked that one fits).
 */
export function packetByteBudget(
  options: ParseOptions,
  threads: number,
  cacheModules: number,
  heapLimit = getHeapStatistics().heap_size_limit,
): number {
  const estimate = estimatePacketHeap(options);
  const cache = Math.max(0, cacheModules) * CACHED_MODULE_BYTES;
  const parsing = threads === 0 ? estimate.workerBytes : 0;
  const room = heapLimit - HEAP_RESERVE_BYTES - cache - parsing;
  const bytesPerFileByte = estimate.mainBytes / options.maxXmlSize;
  return Math.max(options.maxXmlSize, Math.floor(room / bytesPerFileByte));
}
