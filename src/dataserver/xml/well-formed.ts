/** Validation-only entry point (kept for importers of this path): see tree.ts. */
export { checkWellFormed } from './tree.js';
