import { isDataFileName } from '../pandora/index.js';

/** What the sink needs of the producer. */
export interface PacketEnqueuer {
  enqueue(name: string, bytes: Buffer): Promise<void>;
  /** Decides admission by `size` before it calls `read` (a refused packet is never loaded). */
  enqueueFrom(name: string, size: number, read: () => Promise<Buffer>): Promise<void>;
}

/**
 * The Tentacle listener's file sink in scale-out mode (shape of tentacle's FileSink): data files
 * bound for the incoming folder itself go to the queue, and `SEND OK` follows the durable add;
 * anything else (a filter's folder, `.conf`, `.md5`) is stored on disk as before.
 */
export function queueFileSink(
  producer: PacketEnqueuer,
  incomingDir: string,
): {
  wants(dir: Buffer, name: Buffer): boolean;
  deliver(name: Buffer, size: number, read: () => Promise<Buffer>): Promise<void>;
} {
  const incoming = Buffer.from(incomingDir.replace(/\/+$/, ''), 'utf8');
  return {
    wants: (dir, name) => dir.equals(incoming) && isDataFileName(name.toString('utf8')),
    deliver: (name, size, read) => producer.enqueueFrom(name.toString('utf8'), size, read),
  };
}
