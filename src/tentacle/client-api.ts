/**
 * The client side of the Tentacle module, re-exported as one block by `index.ts`: the session
 * library (client.ts: the protocol, over client-socket.ts: connect, proxy, TLS), the reference
 * client's command line and its run (used by the CLI and the agent-side delivery). The
 * client's `passDigest` stays internal: `index.ts` exports the server's.
 */
export {
  connect,
  TentacleClientError,
  DEFAULT_CLIENT_TIMEOUT_MS,
  DEFAULT_MAX_RECV_BYTES,
  type FileName,
  type ClientSession,
  type UploadHooks,
} from './client.js';
export type { ClientTlsOptions, ConnectOptions } from './client-socket.js';
export {
  CLIENT_HELP,
  ClientUsageError,
  ioTimeoutMs,
  isValidAddress,
  parseClientCommandLine,
  type ParsedCommandLine,
  type PerlClientOptions,
} from './client-options.js';
export {
  connectOptionsFrom,
  createReporter,
  runPerlClient,
  type ClientIo,
  type ClientReporter,
} from './client-run.js';
