/**
 * worker_threads entry for parsing spool files off the main event loop (STYLE §8). A worker
 * reads the claimed file, checks its size before reading it all, parses it and posts back plain
 * data: `{ id, packet }` or `{ id, error: { code, message, disposition } }` (classes do not
 * survive structured clone). It never touches the database.
 *
 * Use `spawnParseWorker()` from a pool, or `parseFileInline` (same contract) for tests and small
 * deployments. Messages posted before the worker has loaded are queued by the port.
 */
import { open } from 'node:fs/promises';
import {
  isMainThread,
  parentPort,
  Worker,
  workerData,
  type WorkerOptions,
} from 'node:worker_threads';
import { ErrorCode, PandoraError } from '../core/errors.js';
import type { ParseRequest, ParseResponse } from './types.js';
import { parseAgentXml, toParseFailure } from './xml/index.js';

/** workerData that marks a parse worker (a worker with no workerData is one too). */
export const PARSE_WORKER_DATA = { role: 'dataserver-parse' } as const;

/** This file: .ts under tsx, .js in the build. */
export const PARSE_WORKER_URL = new URL(import.meta.url);

/**
 * Starts a parse worker. From the compiled build this is a plain `new Worker(url)`. From source
 * (tsx) a worker does not inherit tsx's loader, and `execArgv: ['--import', 'tsx']` does not
 * register it on Node 20 either ("Unknown file extension .ts"), so a two-line bootstrap
 * registers tsx in the worker before importing this file.
 */
export function spawnParseWorker(options: Omit<WorkerOptions, 'workerData' | 'eval'> = {}): Worker {
  const workerOptions = { ...options, workerData: PARSE_WORKER_DATA };
  if (!PARSE_WORKER_URL.pathname.endsWith('.ts'))
    return new Worker(PARSE_WORKER_URL, workerOptions);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap =
    `import(${JSON.stringify(tsxApi)})` +
    `.then((tsx) => { tsx.register(); return import(${JSON.stringify(PARSE_WORKER_URL.href)}); });`;
  return new Worker(bootstrap, { ...workerOptions, eval: true });
}

/** Reads and parses one file; never throws (errors come back as `{ id, error }`). */
export async function parseFileInline(request: ParseRequest): Promise<ParseResponse> {
  const { id, path, options } = request;
  try {
    const handle = await open(path, 'r');
    try {
      const stat = await handle.stat();
      if (stat.size > options.maxXmlSize) {
        // Refused without reading it (D-11).
        throw new PandoraError(
          ErrorCode.XmlTooLarge,
          `file of ${String(stat.size)} bytes exceeds max_xml_size ${String(options.maxXmlSize)}`,
        );
      }
      const bytes = await handle.readFile();
      const file = {
        mtimeSec: Math.floor(stat.mtimeMs / 1000),
        nowSec: Math.floor(Date.now() / 1000),
      };
      return { id, packet: parseAgentXml(bytes, file, options) };
    } finally {
      await handle.close();
    }
  } catch (err) {
    return { id, error: toParseFailure(err) };
  }
}

function isParseRequest(message: unknown): message is ParseRequest {
  if (typeof message !== 'object' || message === null) return false;
  const m = message as Record<string, unknown>;
  return (
    typeof m['id'] === 'number' && typeof m['path'] === 'string' && typeof m['options'] === 'object'
  );
}

/** A worker started for this entry: with our marker or with no workerData at all. */
function isParseWorker(): boolean {
  const data: unknown = workerData;
  if (isMainThread) return false;
  if (data === undefined || data === null) return true;
  return typeof data === 'object' && (data as { role?: unknown }).role === PARSE_WORKER_DATA.role;
}

const port = parentPort;
if (port !== null && isParseWorker()) {
  port.on('message', (message: unknown) => {
    if (!isParseRequest(message)) {
      const id = (message as { id?: unknown } | null)?.id;
      port.postMessage({
        id: typeof id === 'number' ? id : -1,
        error: {
          code: ErrorCode.XmlInvalid,
          message: 'malformed parse request',
          disposition: 'io',
        },
      } satisfies ParseResponse);
      return;
    }
    void parseFileInline(message).then((response) => {
      port.postMessage(response);
    });
  });
}
