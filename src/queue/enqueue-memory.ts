/**
 * How many packet bytes the listener may hold while it enqueues them. A packet being enqueued
 * exists several times over: its body (a Buffer, outside the V8 heap), the base64 string of the
 * job, BullMQ's JSON of the job data and ioredis' command string (all three on the heap), then
 * the socket's write buffer. Measured with bullmq 6.7 / ioredis 5.11 under
 * `--max-old-space-size=256`, 4 to 16 packets of 2-4 MB enqueued at once: the heap rose by
 * 2.0-3.4 times their bytes at its peak, the external memory by 0.7-3.7 times. The budget below
 * prices a byte at ENQUEUE_HEAP_BYTES_PER_BYTE of heap and takes a share of the heap this
 * process really has, as the dataserver's byte budget does (dataserver/packet-heap.ts).
 */
import { getHeapStatistics } from 'node:v8';
import { HEAP_RESERVE_BYTES } from '../core/index.js';

/** Heap per packet byte while it is enqueued (measured 2.0-3.4, rounded up). */
export const ENQUEUE_HEAP_BYTES_PER_BYTE = 4;
/**
 * Share of the reserve a listener that also applies packets may use: the dataserver's byte
 * budget already counts on all the heap beyond HEAP_RESERVE_BYTES.
 */
const SHARED_RESERVE_FRACTION = 4;

/**
 * Packet bytes that may be enqueued at once: a listener only (`dataserver 0`) gets the heap
 * beyond the reserve, a listener beside a dataserver a quarter of the reserve. Under the shipped
 * flags (304 MB heap limit) that is 52 MB of packets alone and 6 MB beside a dataserver; one
 * packet is always admitted when none is in flight, whatever its size.
 */
export function enqueueByteBudget(
  appliesToo: boolean,
  heapLimit = getHeapStatistics().heap_size_limit,
): number {
  const heap = appliesToo
    ? HEAP_RESERVE_BYTES / SHARED_RESERVE_FRACTION
    : Math.max(0, heapLimit - HEAP_RESERVE_BYTES);
  return Math.floor(heap / ENQUEUE_HEAP_BYTES_PER_BYTE);
}
