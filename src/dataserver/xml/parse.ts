/**
 * Agent XML bytes → AgentPacket. Order matters for safety: size check on the raw bytes, then
 * decoding (declared encoding, fatal on bad bytes), then the validating scan (DOCTYPE, depth,
 * well-formedness) which also builds the tree — so nothing is expanded for a refused file.
 * fast-xml-parser remains selectable (`xmlParser: 'fast-xml-parser'`) and is held to identical
 * output by a differential test; it is not the default because it parses agent files about ten
 * times slower than the scanner, and parsing is the dataserver's largest CPU cost.
 */
import { XMLParser } from 'fast-xml-parser';
import { describeError, ErrorCode, PandoraError } from '../../core/errors.js';
import type {
  AgentPacket,
  ParseDisposition,
  ParseFailure,
  ParseFileInfo,
  ParseOptions,
} from '../types.js';
import { buildAgentPacket } from './agent-packet.js';
import { decodeXmlBytes } from './decode.js';
import { DEFAULT_XML_LIMITS } from './limits.js';
import { ATTRIBUTES_KEY, scanXml, TEXT_KEY } from './tree.js';

export const DEFAULT_MAX_XML_SIZE_BYTES = 16 * 1024 * 1024;
/** Real agent files nest 5–7 levels (agent_data/module/datalist/data/value). */
export const DEFAULT_MAX_XML_DEPTH = 32;

export const DEFAULT_PARSE_OPTIONS: ParseOptions = {
  maxXmlSize: DEFAULT_MAX_XML_SIZE_BYTES,
  useXmlTimestamp: true,
  useModuleTimestamp: false,
  maxDepth: DEFAULT_MAX_XML_DEPTH,
  limits: DEFAULT_XML_LIMITS,
};

const LINE_BREAKS = /\r\n?/g;

let sharedParser: XMLParser | undefined;

/** Options mirroring XML::Simple with forcearray: every element an array, attributes apart. */
function parser(): XMLParser {
  sharedParser ??= new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    attributesGroupName: ATTRIBUTES_KEY,
    textNodeName: TEXT_KEY,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    ignoreDeclaration: true,
    ignorePiTags: true,
    // Predefined entities + numeric character references; the well-formedness scan has already
    // refused every other entity name, and CDATA content is left alone.
    processEntities: true,
    htmlEntities: true,
    isArray: (_name: string, _path: unknown, _isLeaf: boolean, isAttribute: boolean) =>
      !isAttribute,
  });
  return sharedParser;
}

/** Parses one agent data file; throws a PandoraError with an ERR_XML_* code when refused. */
export function parseAgentXml(
  bytes: Uint8Array,
  file: ParseFileInfo,
  options: ParseOptions = DEFAULT_PARSE_OPTIONS,
): AgentPacket {
  if (bytes.length > options.maxXmlSize) {
    throw new PandoraError(
      ErrorCode.XmlTooLarge,
      `file of ${String(bytes.length)} bytes exceeds max_xml_size ${String(options.maxXmlSize)}`,
    );
  }
  if (bytes.length === 0) throw new PandoraError(ErrorCode.XmlTruncated, 'empty file');
  let text = decodeXmlBytes(bytes);
  // XML end-of-line handling (expat does it for the whole document, CDATA included).
  if (text.includes('\r')) text = text.replace(LINE_BREAKS, '\n');
  const useBuiltin = options.xmlParser !== 'fast-xml-parser';
  const scanned = scanXml(text, options.maxDepth, useBuiltin, options.limits);
  return buildAgentPacket(useBuiltin ? scanned : parseWithFastXmlParser(text), file, options);
}

function parseWithFastXmlParser(text: string): Record<string, unknown> {
  let tree: unknown;
  try {
    tree = parser().parse(text);
  } catch (err) {
    throw new PandoraError(ErrorCode.XmlInvalid, describeError(err).message, { cause: err });
  }
  if (typeof tree !== 'object' || tree === null) {
    throw new PandoraError(ErrorCode.XmlInvalid, 'no document');
  }
  normaliseRootAttributes(tree as Record<string, unknown>);
  return tree as Record<string, unknown>;
}

const ATTRIBUTE_WHITESPACE = /[\t\n\r]/g;

/**
 * Attribute-value normalisation (literal tab/CR/LF → space), which fast-xml-parser skips. Only
 * root attributes are read. Applied after entity decoding here, so unlike the builtin builder
 * a `&#9;` reference also becomes a space on this path.
 */
function normaliseRootAttributes(tree: Record<string, unknown>): void {
  for (const value of Object.values(tree)) {
    const root: unknown = Array.isArray(value) ? value[0] : undefined;
    if (typeof root !== 'object' || root === null) continue;
    const attrs = (root as Record<string, unknown>)[ATTRIBUTES_KEY];
    if (typeof attrs !== 'object' || attrs === null) continue;
    const record = attrs as Record<string, unknown>;
    for (const [name, text] of Object.entries(record)) {
      if (typeof text === 'string') record[name] = text.replace(ATTRIBUTE_WHITESPACE, ' ');
    }
  }
}

/** Codes for files that are deleted without an event rather than renamed _BADXML. */
const DROPPED_CODES: ReadonlySet<string> = new Set([
  ErrorCode.XmlNoAgentName,
  ErrorCode.XmlUnsupported,
]);

/** Any thrown value → the plain failure that crosses the worker boundary. */
export function toParseFailure(err: unknown): ParseFailure {
  const { code, message } = describeError(err);
  const knownCode = code ?? ErrorCode.XmlInvalid;
  let disposition: ParseDisposition = 'badxml';
  if (DROPPED_CODES.has(knownCode)) disposition = 'drop';
  else if (!knownCode.startsWith('ERR_')) disposition = 'io'; // ENOENT, EACCES, EMFILE…
  return { code: knownCode, message, disposition };
}

/** Non-throwing variant for callers that branch on the result. */
export function tryParseAgentXml(
  bytes: Uint8Array,
  file: ParseFileInfo,
  options: ParseOptions = DEFAULT_PARSE_OPTIONS,
): { packet: AgentPacket; error?: undefined } | { packet?: undefined; error: ParseFailure } {
  try {
    return { packet: parseAgentXml(bytes, file, options) };
  } catch (err) {
    return { error: toParseFailure(err) };
  }
}
