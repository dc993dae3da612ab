import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { ErrorCode, type Logger } from '../core/index.js';
import type { PacketParser, ParseResult } from './parser.js';
import type { ParseOptions, ParseRequest, ParseResponse } from './types.js';

interface Task {
  readonly request: ParseRequest;
  readonly resolve: (r: ParseResult) => void;
  /** Its worker died once: parsed again alone in a worker (nothing else sent to it meanwhile). */
  retried: boolean;
}

interface Slot {
  worker: Worker;
  readonly busy: Map<number, Task>;
  /** Messages posted and not yet answered. */
  messages: number;
  /** Parsing a retried file: it gets nothing else until that is answered. */
  isolating: boolean;
}

/** Messages in flight per worker: one running and one ready, so a worker never idles on a round trip. */
const MESSAGES_PER_WORKER = 2;
/**
 * Files per message at most. Under load the queue holds many files; one message for several
 * of them pays the cross-thread hand-off once (about 0.2 ms of main-thread time per message on
 * the bench machine, the largest single item of the pool's cost).
 */
export const TASKS_PER_MESSAGE = 16;
/**
 * Larger files go to a worker alone: a worker keeps a message's packets until the last is
 * parsed, and a file this size can hold thousands of modules. Agent files are ~1-100 KB.
 */
export const LARGE_FILE_BYTES = 256 * 1024;

function isAlone(task: Task): boolean {
  return task.retried || task.request.bytes.length > LARGE_FILE_BYTES;
}

/**
 * A fixed pool of parse workers (spec STYLE §8): parsing is synchronous, so parsing thousands
 * of files per second on the main thread would starve sockets and the batch writer. Workers
 * parse the bytes they are handed and never touch the database or the disk.
 *
 * A worker that dies (out of memory on a file the limits let through, a bug) is replaced. The
 * files it held are parsed again, each alone in a worker, so one bad file cannot take files
 * that merely shared its message down with it; a file whose worker dies while parsing it alone
 * is refused as bad XML (ERR_XML_LIMIT). On close, its files fail as I/O errors (kept).
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
    const slot: Slot = { worker, busy: new Map(), messages: 0, isolating: false };
    worker.on('message', (reply: ParseResponse | ParseResponse[]) => {
      slot.messages = Math.max(0, slot.messages - 1);
      if (slot.messages === 0) slot.isolating = false;
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
      const held = [...slot.busy.values()];
      const retry: Task[] = [];
      slot.busy.clear();
      for (const task of held) {
        if (closed) {
          task.resolve({
            error: {
              code: 'ERR_WORKER_EXIT',
              message: `parse worker exited (${code})`,
              disposition: 'io',
            },
          });
        } else if (task.retried) {
          log.error({ exitCode: code }, 'parse worker died parsing one file alone; refused');
          task.resolve({
            error: {
              code: ErrorCode.XmlLimit,
              message: `the parse worker died parsing this file (exit code ${code}; out of heap?)`,
              disposition: 'badxml',
            },
          });
        } else {
          task.retried = true;
          retry.push(task);
        }
      }
      if (retry.length > 0) {
        log.warn(
          { exitCode: code, files: retry.length },
          'parse worker died; the files it held are parsed again, each alone',
        );
        waiting.unshift(...retry);
      }
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
      // A retried file waits for a worker with nothing in hand and has it to itself.
      const isolate = waiting[0]?.retried === true;
      const maxMessages = isolate ? 1 : MESSAGES_PER_WORKER;
      let best: Slot | undefined;
      for (const s of slots)
        if (!s.isolating && s.messages < maxMessages && (!best || s.busy.size < best.busy.size))
          best = s;
      if (!best) return;
      best.isolating = isolate;
      const tasks = nextMessage();
      for (const task of tasks) best.busy.set(task.request.id, task);
      best.messages++;
      best.worker.ref();
      // Copied, not transferred: a file whose worker dies is sent again.
      best.worker.postMessage(tasks.map((t) => t.request));
    }
    for (const s of slots) if (s.busy.size === 0) s.worker.unref();
  }

  /** Up to TASKS_PER_MESSAGE small files, or one task that must go alone. */
  function nextMessage(): Task[] {
    let n = 0;
    while (n < waiting.length && n < TASKS_PER_MESSAGE) {
      const task = waiting[n];
      if (task !== undefined && isAlone(task)) {
        if (n === 0) n = 1;
        break;
      }
      n++;
    }
    return waiting.splice(0, n);
  }

  for (let i = 0; i < threads; i++) slots.push(spawn());

  return {
    parse({ bytes, info }) {
      return new Promise<ParseResult>((resolve) => {
        const request = { id: nextId++, bytes, info, options: options.parse };
        waiting.push({ request, resolve, retried: false });
        dispatch();
      });
    },
    async close() {
      closed = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
