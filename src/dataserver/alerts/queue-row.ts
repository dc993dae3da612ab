/**
 * The `talert_execution_queue.data` payload of spec alerts.md §5.2, the one format Pandora's
 * Alert Server consumes: base64 of the JSON text of an 8-element array.
 *
 * [NEW] D-A3: the JSON text is encoded as UTF-8 bytes before base64 (the reference base64'd
 * characters, so any non-ASCII datum either threw or produced a row its own consumer rejects).
 * Framing follows the reference's MIME style — 76-character lines, each ending in `\n`,
 * including the last — so rows diff byte for byte against the reference's.
 */
import type { AlertRecord, Row } from './types.js';

export const QueueMode = { Recovered: 0, Fired: 1 } as const;
export type QueueModeValue = (typeof QueueMode)[keyof typeof QueueMode];

export interface QueuePayload {
  /** #0 the processed value (`"95.00000"`, raw text), `0` on the unknown path, `"N/A"` forced. */
  readonly value: string | number;
  /** #1 the full `tagente` row. */
  readonly agent: Row;
  /** #2 the full `tagente_modulo` row; `status` (the XML's forced status or null) is added. */
  readonly module: Row;
  readonly forcedStatus: string | null;
  /** #3 the alert record (§1.3) with the counters of §4. */
  readonly alert: AlertRecord;
  /** #4 1 fired, 0 recovered. */
  readonly mode: QueueModeValue;
  /** #5 the datum's timestamp text; null for forced execution. */
  readonly timestamp: string | null;
  /** #6 1 only for the master's forced execution. */
  readonly forced: 0 | 1;
  /** #7 extra macros (`_modulelaststatuschange_`, log4x fields); null for forced execution. */
  readonly macros: Readonly<Record<string, string | number>> | null;
}

const LINE = 76;

/** The JSON array in §5.2 order. */
export function queuePayloadJson(p: QueuePayload): string {
  return JSON.stringify([
    p.value,
    p.agent,
    { ...p.module, status: p.forcedStatus },
    p.alert,
    p.mode,
    p.timestamp,
    p.forced,
    p.macros,
  ]);
}

/** base64 of the UTF-8 bytes, in 76-character lines each ending in `\n` (MIME style). */
export function encodeQueueData(json: string): string {
  const b64 = Buffer.from(json, 'utf8').toString('base64');
  let out = '';
  for (let i = 0; i < b64.length; i += LINE) out += `${b64.slice(i, i + LINE)}\n`;
  return out;
}

export function encodeQueuePayload(p: QueuePayload): string {
  return encodeQueueData(queuePayloadJson(p));
}

/** The inverse, as the Alert Server does it (line breaks ignored, UTF-8 JSON). */
export function decodeQueueData(data: string): unknown {
  const bytes = Buffer.from(data.replace(/\s+/g, ''), 'base64');
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  return JSON.parse(text) as unknown;
}
