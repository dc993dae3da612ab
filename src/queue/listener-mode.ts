import type { Logger, Registry } from '../core/index.js';
import { queueFileSink } from './listener-sink.js';
import { openQueueProducer, type QueueProducer } from './producer.js';
import type { QueueSettings } from './settings.js';
import { SpoolForwarder } from './spool-forwarder.js';

/** What `serve` runs on the accepting side in scale-out mode. */
export interface QueueListenerMode {
  readonly producer: QueueProducer;
  /** The Tentacle listener's file sink (tentacle's FileSink shape). */
  readonly sink: ReturnType<typeof queueFileSink>;
  /** `/readyz` reason `queue`, or undefined. */
  readiness(): string | undefined;
  /** Stops forwarding, then closes the producer (after the listener has closed). */
  close(): Promise<void>;
}

/**
 * Scale-out's accepting side (scaleout.md §3–§4), or undefined when `queue_url` is unset: the
 * producer (after Redis' checks), the listener's sink onto it, and the forwarder of files that
 * land in the local incoming folder.
 */
export async function startQueueListenerMode(
  settings: QueueSettings,
  options: {
    readonly incomingDir: string;
    readonly serverName: string;
    /** A dataserver runs in this process too (it shares the heap: a smaller byte budget). */
    readonly appliesToo: boolean;
  },
  deps: { readonly logger: Logger; readonly registry: Registry },
): Promise<QueueListenerMode | undefined> {
  if (settings.queue_url === '') return undefined;
  const producer = await openQueueProducer(
    { settings, serverName: options.serverName, appliesToo: options.appliesToo },
    deps,
  );
  const forwarder = new SpoolForwarder(
    {
      dir: options.incomingDir,
      onForwarded: () => {
        producer.metrics.forwarded.inc();
      },
    },
    producer,
    deps.logger,
  );
  forwarder.start();
  return {
    producer,
    sink: queueFileSink(producer, options.incomingDir),
    readiness: () => producer.readinessReason(),
    async close() {
      await forwarder.close();
      await producer.close();
    },
  };
}
