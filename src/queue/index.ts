/**
 * The scale-out room (docs/scale-out.md, spec scaleout.md): the shared Redis/BullMQ queue that
 * lets any server accept any packet and any server apply it, in order per agent.
 */
export * from './settings.js';
export * from './topology.js';
