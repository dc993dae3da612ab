import { getHeapStatistics } from 'node:v8';
import type { Logger, Registry } from '../core/index.js';
import type { DataserverConfig } from './config.js';
import { createWorkerParser } from './parse-pool.js';
import { spawnParseWorker } from './parse-worker.js';
import { WORKER_HEAP_REPORT_MS } from './parse-worker-heap.js';
import { createInlineParser, type PacketParser } from './parser.js';

export {
  DATASERVER_SETTINGS,
  loadDataserverConfig,
  toDataserverConfig,
  type DataserverConfig,
  type DataserverSettings,
} from './config.js';
export {
  createDataserver,
  type Dataserver,
  type DataserverDeps,
  type IntakeFactory,
} from './dataserver.js';
export {
  QUEUE_WORKER_SETTINGS,
  queueIntakeFactory,
  type QueueWorkerSettings,
} from './queue-mode.js';
export { createInlineParser, type PacketParser, type ParseResult } from './parser.js';
export { createWorkerParser } from './parse-pool.js';
export { BADXML_SUFFIX, FAILED_SUFFIX } from './spool/spool-dir.js';
export { processPacket } from './logic/index.js';
export { packetHeapProblem } from './packet-heap.js';

/**
 * The parser `dataserver_threads` asks for: that many parse workers, or inline for 0. With a
 * registry, the workers report their heaps into `pandora_dataserver_parse_worker_*` gauges.
 */
export function createPacketParser(
  config: DataserverConfig,
  deps: { logger: Logger; registry?: Registry | undefined },
): PacketParser {
  if (config.parseThreads === 0) return createInlineParser(config.parse);
  // A worker gets the main thread's heap limit, as it does anyway under --max-old-space-size:
  // packetHeapProblem checks the limits against that one figure.
  const heapLimitMb = Math.floor(getHeapStatistics().heap_size_limit / 1024 / 1024);
  return createWorkerParser(
    {
      threads: config.parseThreads,
      parse: config.parse,
      spawn: () =>
        spawnParseWorker(
          { resourceLimits: { maxOldGenerationSizeMb: heapLimitMb } },
          deps.registry ? { heapReportMs: WORKER_HEAP_REPORT_MS } : {},
        ),
    },
    deps,
  );
}
