/**
 * Pandora's own rules that more than one room applies (docs/architecture.md): the data-file
 * name rule, module type classes and ids, the `safe_input` entity encoding. Pure functions and
 * tables with no imports, so the parse worker may load them too.
 */
export * from './data-file.js';
export * from './module-types.js';
export * from './safe-input.js';
