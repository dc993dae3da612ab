export {
  DEFAULT_MAX_XML_DEPTH,
  DEFAULT_MAX_XML_SIZE_BYTES,
  DEFAULT_PARSE_OPTIONS,
  parseAgentXml,
  toParseFailure,
  tryParseAgentXml,
} from './parse.js';
export { decodeXmlBytes } from './decode.js';
export { measureParseRate, type ParseRate } from './measure.js';
export { checkWellFormed } from './tree.js';
export { DEFAULT_XML_LIMITS } from './limits.js';
