/**
 * The reference's HTML-entity encoding of names (spec §6.1). Agent, module, group and type
 * names are stored and looked up in this encoded form, so getting one character wrong creates
 * duplicate agents. `safeOutput` is the inverse used where the reference decodes (event texts,
 * string thresholds).
 */

/** Latin-1 letters the reference maps to HTML names (others such as À Ç ß stay raw). */
const LATIN1_NAMED: Readonly<Record<number, string>> = {
  0xc1: 'Aacute',
  0xc4: 'Auml',
  0xc9: 'Eacute',
  0xcb: 'Euml',
  0xcd: 'Iacute',
  0xcf: 'Iuml',
  0xd1: 'Ntilde',
  0xd3: 'Oacute',
  0xd6: 'Ouml',
  0xda: 'Uacute',
  0xdc: 'Uuml',
  0xe1: 'aacute',
  0xe4: 'auml',
  0xe9: 'eacute',
  0xeb: 'euml',
  0xed: 'iacute',
  0xef: 'iuml',
  0xf1: 'ntilde',
  0xf3: 'oacute',
  0xf6: 'ouml',
  0xfa: 'uacute',
  0xfc: 'uuml',
};

/** HTML 4 named entities above Latin-1 (Latin Extended, Greek, punctuation, symbols). */
const HTML4_NAMED_ABOVE_LATIN1: readonly (readonly [number, string])[] = [
  [0x152, 'OElig'],
  [0x153, 'oelig'],
  [0x160, 'Scaron'],
  [0x161, 'scaron'],
  [0x178, 'Yuml'],
  [0x192, 'fnof'],
  [0x2c6, 'circ'],
  [0x2dc, 'tilde'],
  ...greek(0x391, [
    'Alpha',
    'Beta',
    'Gamma',
    'Delta',
    'Epsilon',
    'Zeta',
    'Eta',
    'Theta',
    'Iota',
    'Kappa',
    'Lambda',
    'Mu',
    'Nu',
    'Xi',
    'Omicron',
    'Pi',
    'Rho',
    '',
    'Sigma',
    'Tau',
    'Upsilon',
    'Phi',
    'Chi',
    'Psi',
    'Omega',
  ]),
  ...greek(0x3b1, [
    'alpha',
    'beta',
    'gamma',
    'delta',
    'epsilon',
    'zeta',
    'eta',
    'theta',
    'iota',
    'kappa',
    'lambda',
    'mu',
    'nu',
    'xi',
    'omicron',
    'pi',
    'rho',
    'sigmaf',
    'sigma',
    'tau',
    'upsilon',
    'phi',
    'chi',
    'psi',
    'omega',
  ]),
  [0x3d1, 'thetasym'],
  [0x3d2, 'upsih'],
  [0x3d6, 'piv'],
  [0x2002, 'ensp'],
  [0x2003, 'emsp'],
  [0x2009, 'thinsp'],
  [0x200c, 'zwnj'],
  [0x200d, 'zwj'],
  [0x200e, 'lrm'],
  [0x200f, 'rlm'],
  [0x2013, 'ndash'],
  [0x2014, 'mdash'],
  [0x2018, 'lsquo'],
  [0x2019, 'rsquo'],
  [0x201a, 'sbquo'],
  [0x201c, 'ldquo'],
  [0x201d, 'rdquo'],
  [0x201e, 'bdquo'],
  [0x2020, 'dagger'],
  [0x2021, 'Dagger'],
  [0x2022, 'bull'],
  [0x2026, 'hellip'],
  [0x2030, 'permil'],
  [0x2032, 'prime'],
  [0x2033, 'Prime'],
  [0x2039, 'lsaquo'],
  [0x203a, 'rsaquo'],
  [0x203e, 'oline'],
  [0x2044, 'frasl'],
  [0x20ac, 'euro'],
  [0x2111, 'image'],
  [0x2118, 'weierp'],
  [0x211c, 'real'],
  [0x2122, 'trade'],
  [0x2135, 'alefsym'],
  [0x2190, 'larr'],
  [0x2191, 'uarr'],
  [0x2192, 'rarr'],
  [0x2193, 'darr'],
  [0x2194, 'harr'],
  [0x21b5, 'crarr'],
  [0x21d0, 'lArr'],
  [0x21d1, 'uArr'],
  [0x21d2, 'rArr'],
  [0x21d3, 'dArr'],
  [0x21d4, 'hArr'],
  [0x2200, 'forall'],
  [0x2202, 'part'],
  [0x2203, 'exist'],
  [0x2205, 'empty'],
  [0x2207, 'nabla'],
  [0x2208, 'isin'],
  [0x2209, 'notin'],
  [0x220b, 'ni'],
  [0x220f, 'prod'],
  [0x2211, 'sum'],
  [0x2212, 'minus'],
  [0x2217, 'lowast'],
  [0x221a, 'radic'],
  [0x221d, 'prop'],
  [0x221e, 'infin'],
  [0x2220, 'ang'],
  [0x2227, 'and'],
  [0x2228, 'or'],
  [0x2229, 'cap'],
  [0x222a, 'cup'],
  [0x222b, 'int'],
  [0x2234, 'there4'],
  [0x223c, 'sim'],
  [0x2245, 'cong'],
  [0x2248, 'asymp'],
  [0x2260, 'ne'],
  [0x2261, 'equiv'],
  [0x2264, 'le'],
  [0x2265, 'ge'],
  [0x2282, 'sub'],
  [0x2283, 'sup'],
  [0x2284, 'nsub'],
  [0x2286, 'sube'],
  [0x2287, 'supe'],
  [0x2295, 'oplus'],
  [0x2297, 'otimes'],
  [0x22a5, 'perp'],
  [0x22c5, 'sdot'],
  [0x2308, 'lceil'],
  [0x2309, 'rceil'],
  [0x230a, 'lfloor'],
  [0x230b, 'rfloor'],
  [0x2329, 'lang'],
  [0x232a, 'rang'],
  [0x25ca, 'loz'],
  [0x2660, 'spades'],
  [0x2663, 'clubs'],
  [0x2665, 'hearts'],
  [0x2666, 'diams'],
];

function greek(first: number, names: readonly string[]): [number, string][] {
  const out: [number, string][] = [];
  names.forEach((name, i) => {
    if (name !== '') out.push([first + i, name]);
  });
  return out;
}

function hex2(code: number): string {
  return `&#x${code.toString(16).padStart(2, '0')};`;
}

/** Replacement for each encoded UTF-16 code unit; characters not in the map stay raw. */
const ENCODE = new Map<number, string>();
for (let c = 0; c <= 0x20; c++) if (c !== 0x0a) ENCODE.set(c, hex2(c));
for (let c = 0x80; c <= 0xbe; c++) ENCODE.set(c, hex2(c));
ENCODE.set(0x22, '&quot;');
ENCODE.set(0x26, '&amp;');
ENCODE.set(0x27, '&#039;');
ENCODE.set(0x28, '&#40;');
ENCODE.set(0x29, '&#41;');
ENCODE.set(0x3c, '&lt;');
ENCODE.set(0x3e, '&gt;');
ENCODE.set(0x5c, '&#92;');
for (const [code, name] of Object.entries(LATIN1_NAMED)) ENCODE.set(Number(code), `&${name};`);
for (const [code, name] of HTML4_NAMED_ABOVE_LATIN1) ENCODE.set(code, `&${name};`);

/** Cheap pre-check: plain `[A-Za-z0-9._-]` names (the usual case) are returned as is. */
const NEEDS_NO_ENCODING = /^[A-Za-z0-9._\-:@/+,=%#!?*[\]{}|~^$`;]*$/;

/** safe_input(x) of spec §6.1. */
export function safeInput(text: string): string {
  if (NEEDS_NO_ENCODING.test(text)) return text;
  let out = '';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const replacement = ENCODE.get(text.charCodeAt(i));
    if (replacement !== undefined) {
      out += text.slice(start, i) + replacement;
      start = i + 1;
    }
  }
  return start === 0 ? text : out + text.slice(start);
}

const DECODE = new Map<string, string>();
for (const [code, replacement] of ENCODE) DECODE.set(replacement, String.fromCharCode(code));
DECODE.set('&#x0a;', '\n');
DECODE.set('&apos;', "'");

const ENTITY = /&(?:#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z][A-Za-z0-9]*);/g;

/** Inverse of safeInput (and of numeric references in general); unknown names stay as is. */
export function safeOutput(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(ENTITY, (entity) => {
    const known = DECODE.get(entity);
    if (known !== undefined) return known;
    if (entity.charCodeAt(1) !== 0x23) return entity;
    const code =
      entity.charCodeAt(2) === 0x78 || entity.charCodeAt(2) === 0x58
        ? parseInt(entity.slice(3, -1), 16)
        : parseInt(entity.slice(2, -1), 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : entity;
  });
}
