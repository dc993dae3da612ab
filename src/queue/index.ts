/**
 * The scale-out room (docs/scale-out.md, spec scaleout.md): the shared Redis/BullMQ queue that
 * lets any server accept any packet and any server apply it, in order per agent.
 */
export * from './settings.js';
export * from './topology.js';
export * from './durability.js';
export { queueFileSink, type PacketEnqueuer } from './listener-sink.js';
export { JOBS_WAITING_METRIC, RefusalReason, reportJobsWaiting } from './metrics.js';
export { ENQUEUE_HEAP_BYTES_PER_BYTE, enqueueByteBudget } from './enqueue-memory.js';
export { guardPartitions, META_PARTITIONS_FIELD, unfinishedJobs } from './partition-guard.js';
export {
  ENQUEUE_DEADLINE_MS,
  openQueueProducer,
  PACKET_JOB_OPTIONS,
  QueueProducer,
  QueueRefusal,
  type QueueProducerDeps,
  type QueueProducerOptions,
} from './producer.js';
export { SpoolForwarder, type SpoolForwarderOptions } from './spool-forwarder.js';
export { startQueueListenerMode, type QueueListenerMode } from './listener-mode.js';
