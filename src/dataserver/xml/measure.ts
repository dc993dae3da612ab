/**
 * Parse-only micro-benchmark for `bench/` (files/s of one thread): parses the samples in a loop
 * for at least `durationMs` after one warm-up round. No I/O; the caller supplies file bytes.
 */
import type { ParseOptions } from '../types.js';
import { DEFAULT_PARSE_OPTIONS, parseAgentXml } from './parse.js';

export interface ParseRate {
  readonly files: number;
  readonly seconds: number;
  readonly filesPerSec: number;
  readonly bytesPerSec: number;
  /** Module data items parsed per second (datalist items included). */
  readonly dataPerSec: number;
}

export function measureParseRate(
  samples: readonly Uint8Array[],
  durationMs = 2000,
  options: ParseOptions = DEFAULT_PARSE_OPTIONS,
): ParseRate {
  if (samples.length === 0) throw new RangeError('measureParseRate needs at least one sample');
  const file = { mtimeSec: Math.floor(Date.now() / 1000), nowSec: Math.floor(Date.now() / 1000) };
  for (const bytes of samples) parseAgentXml(bytes, file, options); // warm-up, and fail early
  let files = 0;
  let bytes = 0;
  let data = 0;
  const started = performance.now();
  let elapsedMs = 0;
  while (elapsedMs < durationMs) {
    for (const sample of samples) {
      const packet = parseAgentXml(sample, file, options);
      files++;
      bytes += sample.length;
      for (const m of packet.modules) data += m.data.length;
    }
    elapsedMs = performance.now() - started;
  }
  const seconds = elapsedMs / 1000;
  return {
    files,
    seconds,
    filesPerSec: files / seconds,
    bytesPerSec: bytes / seconds,
    dataPerSec: data / seconds,
  };
}
