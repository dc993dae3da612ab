/**
 * worker_threads entry for parsing spool files off the main event loop (STYLE §8). A worker
 * gets a file's bytes (the pipeline reads each file once, with its size checked first, for the
 * ledger hash, and the pool copies them over), parses them and posts back plain data: `{ id, packet }` or
 * `{ id, error: { code, message, disposition } }` (classes do not survive structured clone). It
 * does no I/O and never touches the database. A packet goes back as JSON text when that reads
 * back the same (`encodeParseReply`); the pool decodes it with `decodeParseReply`.
 *
 * Use `spawnParseWorker()` from a pool, or `parseRequest` (same contract) for tests. Messages
 * posted before the worker has loaded are queued by the port. Started with `heapReportMs`, a
 * worker also posts its own heap (`WorkerHeapReport`, parse-worker-heap.ts) that often.
 */
import {
  isMainThread,
  parentPort,
  Worker,
  workerData,
  type WorkerOptions,
} from 'node:worker_threads';
import { ErrorCode } from '../core/errors.js';
import { startHeapReports } from './parse-worker-heap.js';
import type { AgentPacket, ParseReply, ParseRequest, ParseResponse } from './types.js';
import { parseAgentXml, toParseFailure } from './xml/index.js';

/** workerData that marks a parse worker (a worker with no workerData is one too). */
export const PARSE_WORKER_DATA = { role: 'dataserver-parse' } as const;

/** What a parse worker is told at start, beside its marker. */
export interface ParseWorkerReporting {
  /** Post the worker's heap this often (ms); absent: never, so the replies are all it posts. */
  readonly heapReportMs?: number;
}

/** This file: .ts under tsx, .js in the build. */
export const PARSE_WORKER_URL = new URL(import.meta.url);

/**
 * Starts a parse worker. From the compiled build this is a plain `new Worker(url)`. From source
 * (tsx) a worker does not inherit tsx's loader, and `execArgv: ['--import', 'tsx']` does not
 * register it on Node 20 either ("Unknown file extension .ts"), so a two-line bootstrap
 * registers tsx in the worker before importing this file.
 */
export function spawnParseWorker(
  options: Omit<WorkerOptions, 'workerData' | 'eval'> = {},
  reporting: ParseWorkerReporting = {},
): Worker {
  const workerOptions = { ...options, workerData: { ...PARSE_WORKER_DATA, ...reporting } };
  if (!PARSE_WORKER_URL.pathname.endsWith('.ts'))
    return new Worker(PARSE_WORKER_URL, workerOptions);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap =
    `import(${JSON.stringify(tsxApi)})` +
    `.then((tsx) => { tsx.register(); return import(${JSON.stringify(PARSE_WORKER_URL.href)}); });`;
  return new Worker(bootstrap, { ...workerOptions, eval: true });
}

/** Parses one request; never throws (errors come back as `{ id, error }`). */
export function parseRequest(request: ParseRequest): ParseResponse {
  const { id, bytes, info, options } = request;
  try {
    return { id, packet: parseAgentXml(bytes, info, options) };
  } catch (err) {
    return { id, error: toParseFailure(err) };
  }
}

function isParseRequest(message: unknown): message is ParseRequest {
  if (typeof message !== 'object' || message === null) return false;
  const m = message as Record<string, unknown>;
  return (
    typeof m['id'] === 'number' &&
    m['bytes'] instanceof Uint8Array &&
    typeof m['info'] === 'object' &&
    typeof m['options'] === 'object'
  );
}

/** A worker started for this entry: with our marker or with no workerData at all. */
function isParseWorker(): boolean {
  const data: unknown = workerData;
  if (isMainThread) return false;
  if (data === undefined || data === null) return true;
  return typeof data === 'object' && (data as { role?: unknown }).role === PARSE_WORKER_DATA.role;
}

/**
 * The reply a worker posts: a packet travels as JSON text when that text reads back the same.
 * Structured clone of the packet's many small objects cost the main thread about twice what
 * JSON.parse of one string does (46-52 vs 22-24 µs per 33-module packet, 28 vs 21 KB
 * allocated), and the worker's JSON.stringify is cheaper than its serialisation too. JSON
 * loses what a packet holds only as NaN, ±Infinity (written `null`) and `undefined` in an
 * array (also `null`); a packet has no `null` of its own, so text containing `null` anywhere
 * (even inside a string) goes by structured clone instead. An `undefined` property is left
 * out, which reads the same.
 */
export function encodeParseReply(response: ParseResponse): ParseReply {
  if (!('packet' in response)) return response;
  const packetJson = JSON.stringify(response.packet);
  return packetJson.includes('null') ? response : { id: response.id, packetJson };
}

/** The ParseResponse a worker's reply stands for. */
export function decodeParseReply(reply: ParseReply): ParseResponse {
  if (!('packetJson' in reply)) return reply;
  return { id: reply.id, packet: JSON.parse(reply.packetJson) as AgentPacket };
}

/** The heap report period workerData asks for, if a sane one. */
function heapReportMs(): number | undefined {
  const ms = (workerData as ParseWorkerReporting | null | undefined)?.heapReportMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

const port = parentPort;
if (port !== null && isParseWorker()) {
  const reportMs = heapReportMs();
  if (reportMs !== undefined) startHeapReports(port, reportMs);
  port.on('message', (message: unknown) => {
    // The pool sends several requests in one message and gets their replies in one.
    if (Array.isArray(message)) {
      port.postMessage(message.map((m: unknown) => encodeParseReply(answer(m))));
      return;
    }
    port.postMessage(encodeParseReply(answer(message)));
  });
}

function answer(message: unknown): ParseResponse {
  if (isParseRequest(message)) return parseRequest(message);
  const id = (message as { id?: unknown } | null)?.id;
  return {
    id: typeof id === 'number' ? id : -1,
    error: {
      code: ErrorCode.XmlInvalid,
      message: 'malformed parse request',
      disposition: 'io',
    },
  };
}
