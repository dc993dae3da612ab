import type { XmlLimits } from '../types.js';

/**
 * Defaults far above real agents (the largest send a few thousand modules of about ten
 * elements each) and small enough that a packet at all of them, at max_xml_size, fits the
 * documented 256 MB heap (see ../packet-heap.ts).
 */
export const DEFAULT_XML_LIMITS: XmlLimits = {
  maxModules: 10_000,
  maxDatalistValues: 10_000,
  maxElements: 100_000,
};
