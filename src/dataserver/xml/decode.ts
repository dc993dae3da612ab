/**
 * Bytes → text, honouring a BOM and the XML declaration's `encoding` (spec §1.2). Invalid bytes
 * for the declared encoding are an error, never replaced: expat refuses them too, and a silent
 * U+FFFD would store a different agent name.
 */
import { TextDecoder } from 'node:util';
import { ErrorCode, PandoraError } from '../../core/errors.js';

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const UTF16LE = new TextDecoder('utf-16le', { fatal: true, ignoreBOM: true });
const UTF16BE = new TextDecoder('utf-16be', { fatal: true, ignoreBOM: true });

/** Decoders for other labels (windows-1252, iso-8859-15, koi8-r…), created on first use. */
const otherDecoders = new Map<string, TextDecoder>();

/** The declaration must sit at the very start; 200 bytes is far more than any real one. */
const DECLARATION_SCAN_BYTES = 200;
const ENCODING_PSEUDO_ATTRIBUTE = /\sencoding\s*=\s*(?:"([^"]*)"|'([^']*)')/;

function encodingError(message: string): PandoraError {
  return new PandoraError(ErrorCode.XmlEncoding, message);
}

/** The `encoding` of an ASCII-compatible `<?xml …?>` declaration, lower-cased; '' when none. */
export function declaredEncoding(bytes: Uint8Array, offset: number): string {
  // "<?xml" in ASCII
  if (
    bytes[offset] !== 0x3c ||
    bytes[offset + 1] !== 0x3f ||
    bytes[offset + 2] !== 0x78 ||
    bytes[offset + 3] !== 0x6d ||
    bytes[offset + 4] !== 0x6c
  ) {
    return '';
  }
  const end = Math.min(bytes.length, offset + DECLARATION_SCAN_BYTES);
  let close = -1;
  for (let i = offset + 5; i < end - 1; i++) {
    if (bytes[i] === 0x3f && bytes[i + 1] === 0x3e) {
      close = i;
      break;
    }
  }
  if (close < 0) throw new PandoraError(ErrorCode.XmlInvalid, 'unterminated XML declaration');
  const declaration = Buffer.from(bytes.buffer, bytes.byteOffset + offset, close - offset).toString(
    'latin1',
  );
  const match = ENCODING_PSEUDO_ATTRIBUTE.exec(declaration);
  return (match?.[1] ?? match?.[2] ?? '').trim().toLowerCase();
}

function latin1(bytes: Uint8Array, offset: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + offset, bytes.length - offset).toString(
    'latin1',
  );
}

/**
 * windows-1252 code points for bytes 0x80–0x9F (0 = undefined byte, kept as the C1 control like
 * WHATWG does). Node's TextDecoder decodes this label as plain Latin-1, so the table is ours.
 */
const CP1252_C1: readonly number[] = [
  0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152,
  0, 0x017d, 0, 0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161,
  0x203a, 0x0153, 0, 0x017e, 0x0178,
];
const C1_RANGE = /[\u0080-\u009f]/g;

function windows1252(bytes: Uint8Array): string {
  return latin1(bytes, 0).replace(C1_RANGE, (ch) => {
    const mapped = CP1252_C1[ch.charCodeAt(0) - 0x80] ?? 0;
    return mapped === 0 ? ch : String.fromCharCode(mapped);
  });
}

function decodeWith(
  decoder: TextDecoder,
  bytes: Uint8Array,
  offset: number,
  label: string,
): string {
  try {
    return decoder.decode(offset === 0 ? bytes : bytes.subarray(offset));
  } catch {
    throw encodingError(`bytes invalid for the declared encoding ${label}`);
  }
}

/**
 * Decode an XML document. Supported: UTF-8 (default, BOM accepted), UTF-16LE/BE (BOM
 * required), ISO-8859-1 (true Latin-1, not the WHATWG alias of windows-1252), US-ASCII, and
 * every label `TextDecoder` knows (windows-125x, iso-8859-x, koi8-r, shift_jis, gbk…).
 */
export function decodeXmlBytes(bytes: Uint8Array): string {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    const declared = declaredEncoding(bytes, 3);
    if (declared !== '' && declared !== 'utf-8' && declared !== 'utf8') {
      throw encodingError(`UTF-8 byte order mark but encoding '${declared}' declared`);
    }
    return decodeWith(UTF8, bytes, 3, 'UTF-8');
  }
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return decodeWith(UTF16LE, bytes, 2, 'UTF-16LE');
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return decodeWith(UTF16BE, bytes, 2, 'UTF-16BE');

  const label = declaredEncoding(bytes, 0);
  switch (label) {
    case '':
    case 'utf-8':
    case 'utf8':
      return decodeWith(UTF8, bytes, 0, 'UTF-8');
    case 'iso-8859-1':
    case 'iso8859-1':
    case 'iso_8859-1':
    case 'latin1':
    case 'latin-1':
    case 'l1':
      return latin1(bytes, 0);
    case 'us-ascii':
    case 'ascii': {
      for (const byte of bytes) {
        if (byte > 0x7f) throw encodingError('non-ASCII byte in a US-ASCII document');
      }
      return latin1(bytes, 0);
    }
    case 'windows-1252':
    case 'cp1252':
    case 'x-cp1252':
      return windows1252(bytes);
    case 'utf-16':
    case 'utf-16le':
    case 'utf-16be':
      // An ASCII-readable declaration means the bytes are not UTF-16.
      throw encodingError(`encoding '${label}' declared but the document is not UTF-16`);
    default:
      return decodeWith(otherDecoder(label), bytes, 0, label);
  }
}

function otherDecoder(label: string): TextDecoder {
  let decoder = otherDecoders.get(label);
  if (decoder === undefined) {
    try {
      decoder = new TextDecoder(label, { fatal: true, ignoreBOM: true });
    } catch {
      throw encodingError(`unknown encoding '${label}'`);
    }
    otherDecoders.set(label, decoder);
  }
  return decoder;
}
