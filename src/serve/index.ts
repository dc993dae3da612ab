/**
 * The `serve` room: what `tentacle-ingest serve` checks about its configuration before it runs
 * (ignored and unknown keys, the incoming folder) and `serve --check-config`. The composition
 * itself stays in `src/main.ts`.
 */
export { checkConfig, effectiveSettings, type CheckConfigInput } from './check-config.js';
export { LISTENER_IGNORED_KEYS, SERVE_IGNORED_KEYS } from './ignored-keys.js';
export { listenerFileWarnings, requireIncomingDir, serveFileWarnings } from './startup-review.js';
export { readyMessage, type ReadyFacts } from './ready-line.js';
