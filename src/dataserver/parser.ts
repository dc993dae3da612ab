import type { AgentPacket, ParseFailure, ParseFileInfo, ParseOptions } from './types.js';
import { tryParseAgentXml } from './xml/index.js';

export type ParseResult =
  { packet: AgentPacket; error?: undefined } | { packet?: undefined; error: ParseFailure };

/** Turns file bytes into a packet, on this thread or in a worker pool (same contract). */
export interface ParseInput {
  /** The claimed file's bytes, read once by the pipeline; a worker pool copies them. */
  readonly bytes: Uint8Array;
  readonly info: ParseFileInfo;
}

export interface PacketParser {
  parse(input: ParseInput): Promise<ParseResult>;
  close(): Promise<void>;
}

/** Parses on the calling thread: tests, tiny deployments, `dataserver_threads 0`. */
export function createInlineParser(options: ParseOptions): PacketParser {
  return {
    parse: (input) => Promise.resolve(tryParseAgentXml(input.bytes, input.info, options)),
    close: () => Promise.resolve(),
  };
}
