/**
 * One linear pass over a decoded document that refuses, before anything is built or expanded:
 * any DOCTYPE or other `<!…>` declaration (XML bombs, external entities, D-10), nesting deeper
 * than a bound, and what expat (the reference) rejects but fast-xml-parser accepts silently —
 * truncated documents, mismatched end tags, several roots, text outside the root, unknown entity
 * references, duplicate attributes, characters XML forbids.
 *
 * With `build` it also returns the element tree in the shape fast-xml-parser gives with
 * XML::Simple-like options (every child element in an array, attributes under `$attr`, text
 * under `#text`, leaf elements as plain strings), about ten times faster than fast-xml-parser
 * on agent files — parsing is the dataserver's largest CPU cost. Objects have a null prototype,
 * so element names such as `__proto__` are plain keys.
 */
import { ErrorCode, PandoraError } from '../../core/errors.js';
import type { XmlLimits } from '../types.js';

export type XmlElement = Record<string, unknown>;

export const ATTRIBUTES_KEY = '$attr';
export const TEXT_KEY = '#text';

// eslint-disable-next-line no-control-regex -- these control characters are exactly what is refused
const FORBIDDEN_CHARACTER = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/;
const REFERENCE = /&(?:(amp|lt|gt|quot|apos)|#x([0-9a-fA-F]{1,6})|#([0-9]{1,7}));/y;
const PREDEFINED: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
};
const XML_DECLARATION_START = /^<\?xml[\s?]/i;

const GT = 0x3e;
const SLASH = 0x2f;
const QUESTION = 0x3f;
const BANG = 0x21;
const EQUALS = 0x3d;
const DOUBLE_QUOTE = 0x22;
const SINGLE_QUOTE = 0x27;

function invalid(message: string): PandoraError {
  return new PandoraError(ErrorCode.XmlInvalid, message);
}

function truncated(message: string): PandoraError {
  return new PandoraError(ErrorCode.XmlTruncated, `unexpected end of document: ${message}`);
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

/** Ends of a name: whitespace, `/`, `>`, `=` (or end of input → NaN). */
function isNameEnd(c: number): boolean {
  return isSpace(c) || c === SLASH || c === GT || c === EQUALS || Number.isNaN(c);
}

function isAllowedCodePoint(code: number): boolean {
  return (
    code === 0x9 ||
    code === 0xa ||
    code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff)
  );
}

/** Below this a loop beats making a slice to search. */
const SHORT_RANGE = 32;

/**
 * First `char` in [from, to), or -1. Bounded: `text.indexOf('&', from)` alone searches to the
 * end of the document, which for a document without `&` made the scan quadratic (76 s for
 * 16 MB of small elements).
 */
function indexOfIn(text: string, char: string, from: number, to: number): number {
  if (to - from < SHORT_RANGE) {
    const code = char.charCodeAt(0);
    for (let i = from; i < to; i++) if (text.charCodeAt(i) === code) return i;
    return -1;
  }
  const i = text.slice(from, to).indexOf(char);
  return i < 0 ? -1 : from + i;
}

/**
 * Text of [from, to) with predefined entities and character references decoded; throws on any
 * other `&`. Slices without copying when there is no `&`.
 */
function decodeText(text: string, from: number, to: number): string {
  let amp = indexOfIn(text, '&', from, to);
  if (amp < 0) return text.slice(from, to);
  let out = '';
  let start = from;
  while (amp >= 0 && amp < to) {
    REFERENCE.lastIndex = amp;
    const m = REFERENCE.exec(text);
    if (m === null || REFERENCE.lastIndex > to) {
      const shown = text.slice(amp, Math.min(to, amp + 12)).split(/[\s<]/)[0] ?? '';
      throw invalid(`undefined entity or invalid reference '${shown}'`);
    }
    let replacement: string;
    if (m[1] !== undefined) {
      replacement = PREDEFINED[m[1]] ?? '';
    } else {
      const code = m[2] !== undefined ? parseInt(m[2], 16) : parseInt(m[3] ?? '', 10);
      if (!isAllowedCodePoint(code)) throw invalid(`reference to a forbidden character '${m[0]}'`);
      replacement = String.fromCodePoint(code);
    }
    out += text.slice(start, amp) + replacement;
    start = REFERENCE.lastIndex;
    amp = indexOfIn(text, '&', start, to);
  }
  return out + text.slice(start, to);
}

/** Literal tab/CR/LF in an attribute value become spaces (attribute-value normalisation). */
const ATTRIBUTE_WHITESPACE = /[\t\n\r]/g;

interface StartTag {
  /** Index just past the tag's `>`. */
  readonly end: number;
  readonly selfClosing: boolean;
  readonly attributes: Record<string, string> | null;
}

/** Elements and attributes read so far, against max_xml_elements. */
interface ItemCount {
  used: number;
  readonly max: number;
}

function countItem(items: ItemCount): void {
  if (++items.used > items.max)
    throw overLimit('elements and attributes', items.max, 'max_xml_elements');
}

/**
 * Parses the attributes of a start tag from `pos` (just after the element name). Attributes
 * count against max_xml_elements with the elements: one tag of two million attributes costs
 * the heap as much as two million elements.
 */
function scanStartTag(text: string, pos: number, build: boolean, items: ItemCount): StartTag {
  let i = pos;
  let attributes: Record<string, string> | null = null;
  for (;;) {
    while (isSpace(text.charCodeAt(i))) i++;
    const c = text.charCodeAt(i);
    if (c === GT) return { end: i + 1, selfClosing: false, attributes };
    if (c === SLASH) {
      if (text.charCodeAt(i + 1) === GT) return { end: i + 2, selfClosing: true, attributes };
      if (i + 1 >= text.length) throw truncated('inside a tag');
      throw invalid('stray / in a tag');
    }
    if (Number.isNaN(c)) throw truncated('inside a tag');
    const nameStart = i;
    while (!isNameEnd(text.charCodeAt(i))) i++;
    if (i === nameStart) throw invalid(`unexpected character '${text[i] ?? ''}' in a tag`);
    const name = text.slice(nameStart, i);
    while (isSpace(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i) !== EQUALS) {
      if (i >= text.length) throw truncated('inside a tag');
      throw invalid(`attribute '${name}' without a value`);
    }
    i++;
    while (isSpace(text.charCodeAt(i))) i++;
    const quote = text.charCodeAt(i);
    if (quote !== DOUBLE_QUOTE && quote !== SINGLE_QUOTE) {
      if (i >= text.length) throw truncated('inside a tag');
      throw invalid('attribute value without quotes');
    }
    const close = text.indexOf(quote === DOUBLE_QUOTE ? '"' : "'", i + 1);
    if (close < 0) throw truncated('inside an attribute value');
    if (indexOfIn(text, '<', i + 1, close) >= 0) throw invalid("'<' inside an attribute value");
    countItem(items);
    // Normalise literal whitespace before decoding: `&#9;` must stay a tab.
    const raw = text.slice(i + 1, close).replace(ATTRIBUTE_WHITESPACE, ' ');
    const value = decodeText(raw, 0, raw.length);
    attributes ??= Object.create(null) as Record<string, string>;
    if (name in attributes) throw invalid(`duplicate attribute '${name}'`);
    attributes[name] = build ? value : '';
    i = close + 1;
    const after = text.charCodeAt(i);
    if (!isSpace(after) && after !== GT && after !== SLASH && !Number.isNaN(after)) {
      throw invalid('attributes must be separated by white space');
    }
  }
}

/** An element being read. */
interface Frame {
  readonly name: string;
  readonly attributes: Record<string, string> | null;
  children: XmlElement | null;
  text: string;
}

function newElement(): XmlElement {
  return Object.create(null) as XmlElement;
}

/** Adds a finished element to its parent, in the fast-xml-parser "every child an array" shape. */
function closeFrame(frame: Frame, parent: Frame): void {
  let value: unknown;
  if (frame.children === null && frame.attributes === null) {
    value = frame.text;
  } else {
    const element = frame.children ?? newElement();
    if (frame.attributes !== null) element[ATTRIBUTES_KEY] = frame.attributes;
    if (frame.text !== '') element[TEXT_KEY] = frame.text;
    value = element;
  }
  parent.children ??= newElement();
  const siblings = parent.children[frame.name];
  if (Array.isArray(siblings)) siblings.push(value);
  else parent.children[frame.name] = [value];
}

/** For validation alone (checkWellFormed): the structural limits are the builder's business. */
const NO_LIMITS: XmlLimits = {
  maxModules: Infinity,
  maxDatalistValues: Infinity,
  maxElements: Infinity,
};

function overLimit(what: string, limit: number, key: string): PandoraError {
  return new PandoraError(ErrorCode.XmlLimit, `more than ${String(limit)} ${what} (${key})`);
}

/** text[from, to) is exactly `name`, without slicing. */
function isNameAt(text: string, from: number, to: number, name: string): boolean {
  return to - from === name.length && text.startsWith(name, from);
}

function isBlank(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (!isSpace(text.charCodeAt(i))) return false;
  return true;
}

/**
 * Validates `text` and, with `build`, returns its element tree (`{ rootName: [root] }`).
 * Throws a PandoraError (ERR_XML_*) unless it is a well-formed, DTD-free document within
 * `limits`. The limits are counted at each start tag, so a refused document is never built
 * past them: the tree it leaves behind is bounded by the limits, not by the file's size.
 */
/** Where a scan is: the open elements, the one text goes to, and the packet limits counted. */
interface ScanState {
  readonly text: string;
  readonly build: boolean;
  readonly limits: XmlLimits;
  readonly maxDepth: number;
  readonly document: Frame;
  readonly open: Frame[];
  current: Frame;
  seenRoot: boolean;
  readonly items: ItemCount;
  modules: number;
  moduleValues: number;
}

export function scanXml(
  text: string,
  maxDepth: number,
  build: boolean,
  limits: XmlLimits = NO_LIMITS,
): XmlElement {
  if (FORBIDDEN_CHARACTER.test(text)) throw invalid('character not allowed in XML');
  const document: Frame = { name: '', attributes: null, children: null, text: '' };
  const s: ScanState = {
    text,
    build,
    limits,
    maxDepth,
    document,
    open: [],
    current: document,
    seenRoot: false,
    items: { used: 0, max: limits.maxElements },
    modules: 0,
    moduleValues: 0,
  };
  const open = s.open;
  let pos = 0;
  for (;;) {
    const lt = text.indexOf('<', pos);
    const textEnd = lt < 0 ? text.length : lt;
    if (open.length === 0) {
      if (!isBlank(text, pos, textEnd)) throw invalid('text outside the root element');
    } else if (textEnd > pos) {
      const decoded = decodeText(text, pos, textEnd);
      if (build) s.current.text += decoded;
    }
    if (lt < 0) break;
    const c = text.charCodeAt(lt + 1);
    if (c === QUESTION) pos = skipProcessingInstruction(text, lt);
    else if (c === BANG) pos = scanBangMarkup(s, lt);
    else if (c === SLASH) pos = scanEndTag(s, lt);
    else pos = scanElementStart(s, lt);
  }
  if (!s.seenRoot) throw truncated('no root element');
  const last = open[open.length - 1];
  if (last !== undefined) throw truncated(`<${last.name}> not closed`);
  return document.children ?? newElement();
}

/** `<?…?>`: skipped; an XML declaration only at the very start. Returns the position after it. */
function skipProcessingInstruction(text: string, lt: number): number {
  const end = text.indexOf('?>', lt + 2);
  if (end < 0) throw truncated('inside a processing instruction');
  if (lt !== 0 && XML_DECLARATION_START.test(text.slice(lt, lt + 6))) {
    throw invalid('XML declaration not at the start of the document');
  }
  return end + 2;
}

/** `<!…`: a comment (skipped), CDATA (text), or a refused DOCTYPE/ENTITY. */
function scanBangMarkup(s: ScanState, lt: number): number {
  const { text } = s;
  if (text.startsWith('<!--', lt)) {
    const end = text.indexOf('-->', lt + 4);
    if (end < 0) throw truncated('inside a comment');
    return end + 3;
  }
  if (text.startsWith('<![CDATA[', lt)) {
    if (s.open.length === 0) throw invalid('CDATA outside the root element');
    const end = text.indexOf(']]>', lt + 9);
    if (end < 0) throw truncated('inside a CDATA section');
    if (s.build) s.current.text += text.slice(lt + 9, end);
    return end + 3;
  }
  if (text.startsWith('<!DOCTYPE', lt) || text.startsWith('<!ENTITY', lt)) {
    throw new PandoraError(
      ErrorCode.XmlDoctype,
      'DOCTYPE/ENTITY declarations are refused (no Pandora agent sends one)',
    );
  }
  throw invalid(`unexpected markup '${text.slice(lt, lt + 12)}'`);
}

/** `</name>`: closes the innermost open element, which must have that name. */
function scanEndTag(s: ScanState, lt: number): number {
  const { text } = s;
  const gt = text.indexOf('>', lt + 2);
  if (gt < 0) throw truncated('inside an end tag');
  let nameEnd = gt;
  while (nameEnd > lt + 2 && isSpace(text.charCodeAt(nameEnd - 1))) nameEnd--;
  const name = text.slice(lt + 2, nameEnd);
  const frame = s.open.pop();
  if (frame === undefined) throw invalid(`end tag </${name}> without a start tag`);
  if (name !== frame.name)
    throw invalid(`mismatched end tag </${name}>, expected </${frame.name}>`);
  s.current = s.open[s.open.length - 1] ?? s.document;
  if (s.build) closeFrame(frame, s.current);
  return gt + 1;
}

/** `<name …>` or `<name …/>`: counted against the limits, then opened (or closed at once). */
function scanElementStart(s: ScanState, lt: number): number {
  const { text } = s;
  let nameEnd = lt + 1;
  while (!isNameEnd(text.charCodeAt(nameEnd))) nameEnd++;
  if (nameEnd === lt + 1) {
    if (lt + 1 >= text.length) throw truncated('after <');
    throw invalid("'<' not starting a tag");
  }
  if (s.open.length === 0 && s.seenRoot) throw invalid('more than one root element');
  s.seenRoot = true;
  countItem(s.items);
  countPacketLimits(s, lt, nameEnd);
  const tag = scanStartTag(text, nameEnd, s.build, s.items);
  const frame: Frame = {
    name: text.slice(lt + 1, nameEnd),
    attributes: tag.attributes,
    children: null,
    text: '',
  };
  if (tag.selfClosing) {
    if (s.build) closeFrame(frame, s.current);
  } else {
    s.open.push(frame);
    if (s.open.length > s.maxDepth) {
      throw new PandoraError(
        ErrorCode.XmlTooDeep,
        `elements nested deeper than ${String(s.maxDepth)}`,
      );
    }
    s.current = frame;
  }
  return tag.end;
}

/** Modules per packet and datalist values per module, counted at each start tag. */
function countPacketLimits(s: ScanState, lt: number, nameEnd: number): void {
  const { text, open, limits } = s;
  if (open.length === 1 && isNameAt(text, lt + 1, nameEnd, 'module')) {
    if (++s.modules > limits.maxModules)
      throw overLimit('modules', limits.maxModules, 'max_modules_per_packet');
    s.moduleValues = 0;
  } else if (
    open.length === 3 &&
    s.current.name === 'datalist' &&
    isNameAt(text, lt + 1, nameEnd, 'data') &&
    open[1]?.name === 'module' &&
    ++s.moduleValues > limits.maxDatalistValues
  ) {
    throw overLimit(
      'datalist values in one module',
      limits.maxDatalistValues,
      'max_datalist_values',
    );
  }
}

/** Validation only (used before handing the text to fast-xml-parser). */
export function checkWellFormed(text: string, maxDepth: number): void {
  scanXml(text, maxDepth, false);
}
