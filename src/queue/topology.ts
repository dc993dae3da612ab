/**
 * The shape of the shared queue, which every server of a cluster must agree on (scaleout.md §2):
 * a packet belongs to partition `hash(agent key) mod P`; each partition is one BullMQ queue with
 * global concurrency 1; a job carries the file's name and bytes. Listeners (producers) and workers
 * (consumers) both take names, partitions and the job encoding from here and from nowhere else.
 */
import { agentKeyOf } from '../pandora/index.js';

/** BullMQ queue name of partition `p` (the prefix is BullMQ's own `prefix` option). */
export function partitionQueueName(p: number): string {
  return `ingest-${String(p).padStart(4, '0')}`;
}

/** Redis key (under the prefix) that records the partition count a queue was created with. */
export function metaKey(prefix: string): string {
  return `${prefix}:ingest:meta`;
}

/**
 * Redis list (under the prefix) of refused queued packets (`_BADXML`, `_FAILED`, quarantined
 * after too many deaths): the queue keeps no file, so their bytes are kept here for an operator,
 * newest first, the last QUARANTINE_KEPT of them.
 */
export function quarantineKey(prefix: string): string {
  return `${prefix}:ingest:quarantine`;
}

/** Entries the quarantine list keeps (LTRIM): bounded, as Redis memory is. */
export const QUARANTINE_KEPT = 1000;
/**
 * Body bytes an entry keeps (nearly every agent packet is smaller): the list never drains, so
 * without it a peer refused QUARANTINE_KEPT times at max_size would pin gigabytes of Redis
 * (1000 x 2 MB as base64) until an operator trims it; with it, at most about 90 MB.
 */
export const QUARANTINE_ENTRY_BYTES = 64 * 1024;

/** One entry of the quarantine list (JSON): the job's data and why it was set aside. */
export interface QuarantineEntry extends PacketJobData {
  /** `_BADXML` or `_FAILED`, as the spool would have named the file. */
  readonly suffix: string;
  readonly partition: number;
  /** Unix ms when it was set aside. */
  readonly at: number;
  /** The packet's whole size, when `bytes` holds only its first QUARANTINE_ENTRY_BYTES. */
  readonly truncatedFrom?: number;
}

/**
 * FNV-1a (32-bit) of the UTF-8 agent key: stable across processes, versions and platforms (a
 * cluster's servers must map a key to the same partition), and cheap.
 */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/**
 * The partition of a data file, from its name by the spool's own agent-key rule (the listener
 * never parses XML). A name that is not a data file is keyed by itself.
 */
export function partitionOf(fileName: string, partitions: number): number {
  return fnv1a32(agentKeyOf(fileName) ?? fileName) % partitions;
}

/** A job's data: BullMQ stores it as JSON, so the bytes travel as base64. */
export interface PacketJobData {
  /** The data file's name as the agent sent it (e.g. `host.1700000000.data`). */
  readonly name: string;
  /** The file's bytes (already unzipped for ZSEND), base64. */
  readonly bytes: string;
  /** Unix ms when the listener stored it (enqueue latency, oldest-waiting age). */
  readonly storedAt: number;
  /** servername of the listener that accepted it (logs, events). */
  readonly via: string;
}

/** BullMQ job name of every packet job. */
export const PACKET_JOB = 'packet';

export function encodePacketJob(
  name: string,
  bytes: Buffer,
  via: string,
  storedAt = Date.now(),
): PacketJobData {
  return { name, bytes: bytes.toString('base64'), storedAt, via };
}

export function decodePacketBytes(data: PacketJobData): Buffer {
  return Buffer.from(data.bytes, 'base64');
}
