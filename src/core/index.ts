/**
 * The shared room every other one may import (docs/architecture.md): configuration files and
 * settings tables, errors, the pino logger, the prom-client registry, small fs helpers and the
 * spare-file pool. It imports no other room.
 */
export * from './conf-file.js';
export * from './conf-review.js';
export * from './dir-syncer.js';
export * from './errors.js';
export * from './fd-calls.js';
export * from './heap.js';
export * from './log.js';
export * from './log-file.js';
export * from './log-reopen.js';
export * from './metrics.js';
export * from './path-segment.js';
export * from './quiet-fs.js';
export * from './settings.js';
export * from './spare-files.js';
