import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { ErrorCode, type Logger, type Registry } from '../core/index.js';
import type { PacketParser, ParseResult } from './parser.js';
import { decodeParseReply } from './parse-worker.js';
import { isWorkerHeapReport, type WorkerHeapReport } from './parse-worker-heap.js';
import {
  createWorkerHeapGauges,
  UNREPORTED_WORKER_HEAP,
  type WorkerHeapGauges,
} from './parse-worker-heap-gauges.js';
import type { ParseOptions, ParseReply, ParseRequest } from './types.js';

interface Task {
  readonly request: ParseRequest;
  readonly resolve: (r: ParseResult) => void;
  /** Its worker died once: parsed again alone in a worker (nothing else sent to it meanwhile). */
  retried: boolean;
}

interface Slot {
  /** Its place in the pool, kept by the worker that replaces it (the heap gauges' label). */
  readonly index: number;
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
  deps: { logger: Logger; registry?: Registry | undefined },
): PacketParser {
  const heap = deps.registry ? createWorkerHeapGauges(deps.registry) : UNREPORTED_WORKER_HEAP;
  return new WorkerParsePool(options, deps.logger.child({ component: 'parse-pool' }), heap);
}

/**
 * What becomes of the files a dead worker held: on close they fail as I/O errors (kept); a file
 * already retried alone is refused as bad XML; the others are returned, to be parsed again alone.
 */
function settleOrphans(held: readonly Task[], code: number, closed: boolean, log: Logger): Task[] {
  const retry: Task[] = [];
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
  return retry;
}

class WorkerParsePool implements PacketParser {
  readonly #options: { threads: number; parse: ParseOptions; spawn: () => Worker };
  readonly #log: Logger;
  readonly #heap: WorkerHeapGauges;
  readonly #waiting: Task[] = [];
  readonly #slots: Slot[] = [];
  #nextId = 1;
  #closed = false;

  constructor(
    options: { threads: number; parse: ParseOptions; spawn: () => Worker },
    log: Logger,
    heap: WorkerHeapGauges,
  ) {
    this.#options = options;
    this.#log = log;
    this.#heap = heap;
    const threads = Math.max(1, Math.min(options.threads, Math.max(1, availableParallelism() - 1)));
    for (let i = 0; i < threads; i++) this.#slots.push(this.#spawn(i));
  }

  parse({ bytes, info }: Parameters<PacketParser['parse']>[0]): Promise<ParseResult> {
    return new Promise<ParseResult>((resolve) => {
      const request = { id: this.#nextId++, bytes, info, options: this.#options.parse };
      this.#waiting.push({ request, resolve, retried: false });
      this.#dispatch();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const s of this.#slots) this.#heap.forget(s.index);
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }

  #spawn(index: number): Slot {
    const worker = this.#options.spawn();
    const slot: Slot = { index, worker, busy: new Map(), messages: 0, isolating: false };
    worker.on('message', (message: ParseReply[] | ParseReply | WorkerHeapReport) => {
      // Replies come as arrays (#dispatch posts arrays): one check on the hot path.
      if (!Array.isArray(message) && isWorkerHeapReport(message)) this.#onHeapReport(slot, message);
      else this.#onReply(slot, message);
    });
    worker.on('error', (err) => {
      this.#log.error({ err }, 'parse worker failed');
    });
    worker.on('exit', (code) => {
      this.#onExit(slot, code);
    });
    worker.unref();
    return slot;
  }

  #onReply(slot: Slot, reply: ParseReply | ParseReply[]): void {
    slot.messages = Math.max(0, slot.messages - 1);
    if (slot.messages === 0) slot.isolating = false;
    for (const wire of Array.isArray(reply) ? reply : [reply]) {
      const task = slot.busy.get(wire.id);
      if (!task) continue;
      slot.busy.delete(wire.id);
      const msg = decodeParseReply(wire);
      task.resolve('packet' in msg ? { packet: msg.packet } : { error: msg.error });
    }
    this.#dispatch();
  }

  /** Kept only while the worker holds its slot: a dead or closed one must leave no value. */
  #onHeapReport(slot: Slot, report: WorkerHeapReport): void {
    if (!this.#closed && this.#slots[slot.index] === slot) this.#heap.record(slot.index, report);
  }

  /** A worker died: its files are settled or queued again first, and a new worker takes its slot. */
  #onExit(slot: Slot, code: number): void {
    const held = [...slot.busy.values()];
    slot.busy.clear();
    const retry = settleOrphans(held, code, this.#closed, this.#log);
    if (retry.length > 0) {
      this.#log.warn(
        { exitCode: code, files: retry.length },
        'parse worker died; the files it held are parsed again, each alone',
      );
      this.#waiting.unshift(...retry);
    }
    slot.messages = 0;
    if (this.#closed || this.#slots[slot.index] !== slot) return;
    this.#heap.forget(slot.index);
    this.#slots[slot.index] = this.#spawn(slot.index);
    this.#dispatch();
  }

  #dispatch(): void {
    while (this.#waiting.length > 0) {
      // A retried file waits for a worker with nothing in hand and has it to itself.
      const isolate = this.#waiting[0]?.retried === true;
      const best = this.#leastBusySlot(isolate ? 1 : MESSAGES_PER_WORKER);
      if (!best) return;
      best.isolating = isolate;
      const tasks = this.#nextMessage();
      for (const task of tasks) best.busy.set(task.request.id, task);
      best.messages++;
      best.worker.ref();
      // Copied, not transferred: a file whose worker dies is sent again.
      best.worker.postMessage(tasks.map((t) => t.request));
    }
    for (const s of this.#slots) if (s.busy.size === 0) s.worker.unref();
  }

  /** The worker with the fewest files among those that may take another message. */
  #leastBusySlot(maxMessages: number): Slot | undefined {
    let best: Slot | undefined;
    for (const s of this.#slots)
      if (!s.isolating && s.messages < maxMessages && (!best || s.busy.size < best.busy.size))
        best = s;
    return best;
  }

  /** Up to TASKS_PER_MESSAGE small files, or one task that must go alone. */
  #nextMessage(): Task[] {
    const waiting = this.#waiting;
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
}
