import type { AgentPacket, ParseFailure, ParseFileInfo, ParseOptions } from './types.js';
import { tryParseAgentXml } from './xml/index.js';

export type ParseResult =
  { packet: AgentPacket; error?: undefined } | { packet?: undefined; error: ParseFailure };

/** Turns file bytes into a packet, on this thread or in a worker pool (same contract). */
export interface PacketParser {
  parse(bytes: Uint8Array, info: ParseFileInfo): Promise<ParseResult>;
  close(): Promise<void>;
}

/** Parses on the calling thread: tests, tiny deployments, `dataserver_threads 0`. */
export function createInlineParser(options: ParseOptions): PacketParser {
  return {
    parse: (bytes, info) => Promise.resolve(tryParseAgentXml(bytes, info, options)),
    close: () => Promise.resolve(),
  };
}
