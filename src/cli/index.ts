/**
 * The command-line room: the `tentacle-server` and `tentacle-client` executables live here, and
 * the argument parsing of `tentacle-ingest` (whose composition root is `src/main.ts`).
 */
export { removePidFile, writePidFile } from './pid-file.js';
export {
  DAEMON_REFUSED,
  ingestUsage,
  parseIngestArgs,
  type HelpSection,
  type IngestArgs,
  type IngestCommand,
} from './ingest-args.js';
