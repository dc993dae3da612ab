import type { Logger } from '../core/log.js';
import type { DataserverConfig } from './config.js';
import { createWorkerParser } from './parse-pool.js';
import { createInlineParser, type PacketParser } from './parser.js';

export {
  DATASERVER_SETTINGS,
  loadDataserverConfig,
  toDataserverConfig,
  type DataserverConfig,
  type DataserverSettings,
} from './config.js';
export { createDataserver, type Dataserver, type DataserverDeps } from './dataserver.js';
export { createInlineParser, type PacketParser, type ParseResult } from './parser.js';
export { createWorkerParser } from './parse-pool.js';
export { agentKeyOf, BADXML_SUFFIX, FAILED_SUFFIX } from './spool/spool-dir.js';
export { processPacket } from './logic/index.js';

/**
 * The parser `dataserver_threads` asks for: worker threads running parse-worker (the .ts entry
 * through tsx when running from source, the compiled .js otherwise), or inline for 0.
 */
export function createPacketParser(
  config: DataserverConfig,
  deps: { logger: Logger },
): PacketParser {
  if (config.parseThreads === 0) return createInlineParser(config.parse);
  const fromSource = import.meta.url.endsWith('.ts');
  return createWorkerParser(
    {
      threads: config.parseThreads,
      parse: config.parse,
      workerUrl: new URL(fromSource ? './parse-worker.ts' : './parse-worker.js', import.meta.url),
      ...(fromSource ? { execArgv: ['--import', 'tsx'] } : {}),
    },
    deps,
  );
}
