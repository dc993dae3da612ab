/**
 * The load driver: C concurrent simulated agents pushing files to a Tentacle server, either one
 * file per connection (what real agents do every interval) or over persistent connections,
 * optionally paced to a fixed rate. Records when each file's final `SEND OK` arrived, which is
 * where the end-to-end latency starts.
 */

export interface SenderTarget {
  readonly host: string;
  readonly port: number;
  readonly password?: string;
  readonly tls: boolean;
  /** ZSEND (ZIP-compressed upload) instead of SEND. */
  readonly zip?: boolean;
  readonly timeoutMs: number;
}

/** One open Tentacle session, whatever client implements it. */
export interface SenderConnection {
  send(name: string, bytes: Buffer): Promise<void>;
  /** `QUIT` and close; never throws. */
  close(): Promise<void>;
  destroy(): void;
}

export type OpenConnection = (target: SenderTarget) => Promise<SenderConnection>;

export type ConnectionMode = 'per-file' | 'persistent';

export interface OutgoingFile {
  readonly name: string;
  readonly bytes: Buffer;
  readonly agentIndex: number;
}

export interface LoadOptions {
  readonly target: SenderTarget;
  readonly open: OpenConnection;
  readonly concurrency: number;
  readonly mode: ConnectionMode;
  /** Files per second over all workers; undefined = as fast as the server takes them. */
  readonly ratePerSec?: number;
  /** Attempts per file before it counts as failed (agents retry at their next interval). */
  readonly maxAttempts?: number;
  readonly signal?: AbortSignal;
  /** Called at the final `SEND OK` of each file, with `performance.now()`. */
  readonly onAck?: (file: OutgoingFile, ackMs: number) => void;
}

export interface LoadResult {
  readonly sent: number;
  readonly failed: number;
  readonly retries: number;
  readonly bytes: number;
  readonly elapsedMs: number;
  /** Up to a few distinct error messages, for the report. */
  readonly errors: readonly string[];
}

const RETRY_BACKOFF_MS = 50;
const MAX_ERROR_SAMPLES = 5;

export async function sendFiles(
  files: Iterable<OutgoingFile>,
  options: LoadOptions,
): Promise<LoadResult> {
  const iterator = files[Symbol.iterator]();
  const startMs = performance.now();
  const maxAttempts = options.maxAttempts ?? 5;
  let issued = 0;
  let sent = 0;
  let failed = 0;
  let retries = 0;
  let bytes = 0;
  const errors = new Set<string>();

  const take = (): { file: OutgoingFile; dueMs: number } | undefined => {
    if (options.signal?.aborted) return undefined;
    const next = iterator.next();
    if (next.done) return undefined;
    const dueMs =
      options.ratePerSec === undefined ? 0 : startMs + (issued * 1000) / options.ratePerSec;
    issued += 1;
    return { file: next.value, dueMs };
  };

  const worker = async (): Promise<void> => {
    let connection: SenderConnection | undefined;
    try {
      for (let job = take(); job; job = take()) {
        const wait = job.dueMs - performance.now();
        if (wait > 0) await sleep(wait);
        let done = false;
        for (let attempt = 1; attempt <= maxAttempts && !done; attempt++) {
          if (options.signal?.aborted) break;
          try {
            connection ??= await options.open(options.target);
            await connection.send(job.file.name, job.file.bytes);
            const ackMs = performance.now();
            done = true;
            sent += 1;
            bytes += job.file.bytes.length;
            options.onAck?.(job.file, ackMs);
            if (options.mode === 'per-file') {
              await connection.close();
              connection = undefined;
            }
          } catch (err) {
            connection?.destroy();
            connection = undefined;
            if (errors.size < MAX_ERROR_SAMPLES)
              errors.add(String(err instanceof Error ? err.message : err));
            if (attempt < maxAttempts) {
              retries += 1;
              await sleep(RETRY_BACKOFF_MS * attempt);
            }
          }
        }
        if (!done) failed += 1;
      }
    } finally {
      await connection?.close();
    }
  };

  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  return {
    sent,
    failed,
    retries,
    bytes,
    elapsedMs: performance.now() - startMs,
    errors: [...errors],
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
