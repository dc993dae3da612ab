/**
 * A single linear pass over the decoded document that refuses, before fast-xml-parser builds
 * anything: any DOCTYPE or other `<!…>` declaration (XML bombs, external entities, D-10),
 * nesting deeper than a bound, and what fast-xml-parser would silently accept but expat (the
 * reference) rejects — truncated documents, mismatched end tags, several roots, text outside the
 * root, unknown entity references, characters XML forbids.
 */
import { ErrorCode, PandoraError } from '../../core/errors.js';

/** Characters XML 1.0 forbids anywhere (Char production); lone surrogates cannot survive decoding. */
// eslint-disable-next-line no-control-regex -- these control characters are exactly what is refused
const FORBIDDEN_CHARACTER = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/;
const PREDEFINED_ENTITY = /^&(?:amp|lt|gt|quot|apos);/;
const CHARACTER_REFERENCE = /^&#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}));/;
/** Longest valid reference: `&#x10FFFF;` / `&#1114111;` (10 chars). */
const MAX_REFERENCE_CHARS = 10;

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

/** Every `&` in [from, to) must start a predefined entity or a valid character reference. */
function checkReferences(text: string, from: number, to: number): void {
  let amp = text.indexOf('&', from);
  while (amp >= 0 && amp < to) {
    const candidate = text.slice(amp, Math.min(to, amp + MAX_REFERENCE_CHARS));
    if (!PREDEFINED_ENTITY.test(candidate)) {
      const ref = CHARACTER_REFERENCE.exec(candidate);
      const code = ref === null ? NaN : parseInt(ref[1] ?? ref[2] ?? '', ref[1] ? 16 : 10);
      if (!isAllowedCodePoint(code)) {
        throw invalid(
          `undefined entity or invalid reference '${candidate.split(/[\s<]/)[0] ?? ''}'`,
        );
      }
    }
    amp = text.indexOf('&', amp + 1);
  }
}

function isBlank(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (!isSpace(text.charCodeAt(i))) return false;
  return true;
}

/**
 * Parses the attributes of a start tag from `pos` (just after the name) and returns the index
 * of its closing `>`, or `-(index + 1)` when the tag is self-closing (`/>`).
 */
function scanAttributes(text: string, pos: number): number {
  let i = pos;
  for (;;) {
    while (isSpace(text.charCodeAt(i))) i++;
    const c = text.charCodeAt(i);
    if (c === GT) return i;
    if (c === SLASH) {
      if (text.charCodeAt(i + 1) === GT) return -(i + 1) - 1;
      if (i + 1 >= text.length) throw truncated('inside a tag');
      throw invalid('stray / in a tag');
    }
    if (Number.isNaN(c)) throw truncated('inside a tag');
    const nameStart = i;
    while (!isNameEnd(text.charCodeAt(i))) i++;
    if (i === nameStart) throw invalid(`unexpected character '${text[i] ?? ''}' in a tag`);
    while (isSpace(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i) !== EQUALS) {
      if (i >= text.length) throw truncated('inside a tag');
      throw invalid(`attribute '${text.slice(nameStart, i)}' without a value`);
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
    const lt = text.indexOf('<', i + 1);
    if (lt >= 0 && lt < close) throw invalid("'<' inside an attribute value");
    checkReferences(text, i + 1, close);
    i = close + 1;
    const after = text.charCodeAt(i);
    if (!isSpace(after) && after !== GT && after !== SLASH && !Number.isNaN(after)) {
      throw invalid('attributes must be separated by white space');
    }
  }
}

/** Throws a PandoraError (ERR_XML_*) unless `text` is a well-formed DTD-free document. */
export function checkWellFormed(text: string, maxDepth: number): void {
  if (FORBIDDEN_CHARACTER.test(text)) throw invalid('character not allowed in XML');
  const open: string[] = [];
  let seenRoot = false;
  let pos = 0;
  for (;;) {
    const lt = text.indexOf('<', pos);
    const textEnd = lt < 0 ? text.length : lt;
    if (open.length === 0) {
      if (!isBlank(text, pos, textEnd)) throw invalid('text outside the root element');
    } else if (textEnd > pos) {
      checkReferences(text, pos, textEnd);
    }
    if (lt < 0) break;
    const c = text.charCodeAt(lt + 1);
    if (c === QUESTION) {
      const end = text.indexOf('?>', lt + 2);
      if (end < 0) throw truncated('inside a processing instruction');
      if (lt !== 0 && /^<\?xml[\s?]/i.test(text.slice(lt, lt + 6))) {
        throw invalid('XML declaration not at the start of the document');
      }
      pos = end + 2;
    } else if (c === BANG) {
      if (text.startsWith('<!--', lt)) {
        const end = text.indexOf('-->', lt + 4);
        if (end < 0) throw truncated('inside a comment');
        pos = end + 3;
      } else if (text.startsWith('<![CDATA[', lt)) {
        if (open.length === 0) throw invalid('CDATA outside the root element');
        const end = text.indexOf(']]>', lt + 9);
        if (end < 0) throw truncated('inside a CDATA section');
        pos = end + 3;
      } else if (text.startsWith('<!DOCTYPE', lt) || text.startsWith('<!ENTITY', lt)) {
        throw new PandoraError(
          ErrorCode.XmlDoctype,
          'DOCTYPE/ENTITY declarations are refused (no Pandora agent sends one)',
        );
      } else {
        throw invalid(`unexpected markup '${text.slice(lt, lt + 12)}'`);
      }
    } else if (c === SLASH) {
      const gt = text.indexOf('>', lt + 2);
      if (gt < 0) throw truncated('inside an end tag');
      let nameEnd = gt;
      while (nameEnd > lt + 2 && isSpace(text.charCodeAt(nameEnd - 1))) nameEnd--;
      const name = text.slice(lt + 2, nameEnd);
      const expected = open.pop();
      if (expected === undefined) throw invalid(`end tag </${name}> without a start tag`);
      if (name !== expected)
        throw invalid(`mismatched end tag </${name}>, expected </${expected}>`);
      pos = gt + 1;
    } else {
      let nameEnd = lt + 1;
      while (!isNameEnd(text.charCodeAt(nameEnd))) nameEnd++;
      if (nameEnd === lt + 1) {
        if (lt + 1 >= text.length) throw truncated('after <');
        throw invalid("'<' not starting a tag");
      }
      if (open.length === 0 && seenRoot) throw invalid('more than one root element');
      seenRoot = true;
      const end = scanAttributes(text, nameEnd);
      if (end >= 0) {
        open.push(text.slice(lt + 1, nameEnd));
        if (open.length > maxDepth) {
          throw new PandoraError(ErrorCode.XmlTooDeep, `elements nested deeper than ${maxDepth}`);
        }
        pos = end + 1;
      } else {
        pos = -end; // just past the '/>'
      }
    }
  }
  if (!seenRoot) throw truncated('no root element');
  if (open.length > 0) throw truncated(`<${open[open.length - 1] ?? ''}> not closed`);
}
