import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { Logger } from '../core/log.js';
import type { PacketParser, ParseResult } from './parser.js';
import type { ParseOptions, ParseRequest, ParseResponse } from './types.js';

interface Task {
  readonly request: ParseRequest;
  readonly resolve: (r: ParseResult) => void;
}

interface Slot {
  worker: Worker;
  readonly busy: Map<number, Task>;
  /** Messages posted and not yet answered. */
  messages: number;
}

/** Messages in flight per worker: one running and one ready, so a worker never idles on a round trip. */
const MESSAGES_PER_WORKER = 2;
/**
 * Files per message at most. Under load the queue holds many files; one message for several
 * of them pays the cross-thread hand-off once (about 0.2 ms of main-thread time per message on
 * the bench machine, the largest single item of the pool's cost).
 */
const TASKS_PER_MESSAGE = 16;

/**
 * A fixed pool of parse workers (spec STYLE §8): fast-xml-parser is synchronous, so parsing
 * thousands of files per second on the main thread would starve sockets and the batch writer.
 * Workers parse the bytes they are handed and never touch the database or the disk. A worker that dies fails
 * its tasks as I/O errors (the files are kept) and is replaced.
 */
export function createWorkerParser(
  options: { threads: number; parse: ParseOptions; spawn: () => Worker },
  deps: { logger: Logger },
): PacketParser {
  const log = deps.logger.child({ component: 'parse-pool' });
  const threads = Math.max(1, Math.min(options.threads, Math.max(1, availableParallelism() - 1)));
  const waiting: Task[] = [];
  const slots: Slot[] = [];
  let nextId = 1;
  let closed = false;

  function spawn(): Slot {
    const worker = options.spawn();
    const slot: Slot = { worker, busy: new Map(), messages: 0 };
    worker.on('message', (reply: ParseResponse | ParseResponse[]) => {
      slot.messages = Math.max(0, slot.messages - 1);
      for (const msg of Array.isArray(reply) ? reply : [reply]) {
        const task = slot.busy.get(msg.id);
        if (!task) continue;
        slot.busy.delete(msg.id);
        task.resolve('packet' in msg ? { packet: msg.packet } : { error: msg.error });
      }
      dispatch();
    });
    worker.on('error', (err) => {
      log.error({ err }, 'parse worker failed');
    });
    worker.on('exit', (code) => {
      for (const task of slot.busy.values()) {
        task.resolve({
          error: {
            code: 'ERR_WORKER_EXIT',
            message: `parse worker exited (${code})`,
            disposition: 'io',
          },
        });
      }
      slot.busy.clear();
      slot.messages = 0;
      if (closed) return;
      const i = slots.indexOf(slot);
      if (i !== -1) slots[i] = spawn();
      dispatch();
    });
    worker.unref();
    return slot;
  }

  function dispatch(): void {
    while (waiting.length > 0) {
      let best: Slot | undefined;
      for (const s of slots)
        if (s.messages < MESSAGES_PER_WORKER && (!best || s.busy.size < best.busy.size)) best = s;
      if (!best) return;
      const tasks = waiting.splice(0, TASKS_PER_MESSAGE);
      const transfer: ArrayBuffer[] = [];
      for (const task of tasks) {
        best.busy.set(task.request.id, task);
        const { bytes } = task.request;
        // The bytes move to the worker instead of being copied when they own their memory.
        if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength)
          transfer.push(bytes.buffer as ArrayBuffer);
      }
      best.messages++;
      best.worker.ref();
      best.worker.postMessage(
        tasks.map((t) => t.request),
        transfer,
      );
    }
    for (const s of slots) if (s.busy.size === 0) s.worker.unref();
  }

  for (let i = 0; i < threads; i++) slots.push(spawn());

  return {
    parse({ bytes, info }) {
      return new Promise<ParseResult>((resolve) => {
        waiting.push({ request: { id: nextId++, bytes, info, options: options.parse }, resolve });
        dispatch();
      });
    },
    async close() {
      closed = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
