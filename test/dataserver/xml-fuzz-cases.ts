/**
 * Property-based fuzz of the XML-to-packet path (fast-check), shared by the bounded test
 * (xml-fuzz.test.ts) and the long campaign (test/fuzz/campaign.ts).
 *
 * A case is one to three agent files for the same agent: structurally valid agent XML (spec
 * dataserver.md §1) built from generated attributes and modules (huge numbers, odd timestamps,
 * entity and CDATA tricks, unicode, missing fields), then optionally mutated as bytes (foreign
 * encodings, wrong declarations, DOCTYPE, deep nesting, truncation, byte flips). Each file goes
 * through the dataserver's parse entry and, when parsed, processPacket on the state the earlier
 * files left. Properties: parsing yields a packet or a PandoraError with an ERR_XML_* code
 * (refused as _BADXML or dropped, never an I/O disposition); processPacket never throws; each
 * outcome keeps the invariants of logic-invariants.test.ts; the agent state given in is never
 * mutated.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { lookupKey } from '../../src/dataserver/types.js';
import { DEFAULT_PARSE_OPTIONS, tryParseAgentXml } from '../../src/dataserver/xml/index.js';
import { checkOutcomeRefs, createHarness, T0, xmlEscape } from './logic-fixtures.js';

// ---------------------------------------------------------------------------------------------
// Text pieces.

const NUMBERS = [
  '0',
  '1',
  '-1',
  '5.0',
  '7,5',
  ' 5 ',
  '1e308',
  '1e309',
  '-1e309',
  '9007199254740993',
  '99999999999999999999999999',
  '-0',
  'NaN',
  'Infinity',
  '0x1F',
  '1_000',
  '.5',
  '5.',
  '',
  '٣',
];
const STRINGS = [
  'OK',
  'FAIL',
  'abc',
  'ñandú',
  '漢字',
  '🙂',
  'x]]>y',
  '&amp;',
  'quote\'"',
  '\t\n',
  '<b>',
];
const TIMESTAMPS = [
  '2024/03/01 10:00:00',
  '2024-03-01 10:00:00',
  'AUTO',
  '1970/01/01 00:00:00',
  '1969/12/31 23:59:59',
  '9999/12/31 23:59:59',
  '99999/01/01 00:00:00',
  '2024/13/45 25:61:61',
  '2024/02/30 10:00:00',
  '0000/00/00 00:00:00',
  '2024/03/01',
  '10:00:00',
  'yesterday',
  '',
  '2024/03/01 10:00:00.123',
  '2024-03-01T10:00:00Z',
  '-1',
];
const TYPES = [
  'generic_data',
  'generic_proc',
  'generic_data_string',
  'generic_data_inc',
  'generic_data_inc_abs',
  'async_data',
  'async_proc',
  'async_string',
  'keep_alive',
  'log4x',
  'remote_icmp',
  'GENERIC_DATA',
  '',
  'no_such_type',
];
const MODULE_TAGS = [
  'description',
  'module_interval',
  'min',
  'max',
  'min_warning',
  'max_warning',
  'min_critical',
  'max_critical',
  'str_warning',
  'str_critical',
  'warning_inverse',
  'critical_inverse',
  'post_process',
  'unit',
  'module_group',
  'tags',
  'custom_id',
  'disabled',
  'status',
  'min_ff_event',
  'min_ff_event_normal',
  'each_ff',
  'ff_type',
  'ff_timeout',
  'module_ff_interval',
  'critical_instructions',
  'quiet',
  'crontab',
  'cron_interval',
  'alert_template',
  'module_parent',
  'module_parent_unlink',
  'timestamp',
  'unknown_tag',
];
const AGENT_ATTRS = [
  'interval',
  'version',
  'os_name',
  'os_version',
  'group',
  'agent_alias',
  'description',
  'address',
  'parent_agent_name',
  'timezone_offset',
  'custom_id',
  'url_address',
  'agent_mode',
  'satellite_server',
  'longitude',
  'latitude',
  'altitude',
];

/** Code points XML 1.0 forbids (the binary generator still produces them, more rarely). */
// eslint-disable-next-line no-control-regex
const NOT_XML_CHAR = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|\p{Cs}/gu;

const anyText: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...NUMBERS) },
  { weight: 6, arbitrary: fc.constantFrom(...STRINGS) },
  { weight: 4, arbitrary: fc.constantFrom(...TIMESTAMPS) },
  {
    weight: 4,
    arbitrary: fc
      .string({ unit: 'grapheme', maxLength: 20 })
      .map((text) => text.replace(NOT_XML_CHAR, '')),
  },
  // Any code unit, lone surrogates and control characters included: mostly refused.
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.nat(5000).map((n) => 'x'.repeat(n)) },
);

/** How a text value is written: CDATA (split where it holds `]]>`), escaped, or char refs. */
type Quoting = 'cdata' | 'escaped' | 'charref' | 'raw';

function quote(text: string, how: Quoting): string {
  switch (how) {
    case 'cdata':
      return `<![CDATA[${text.replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
    case 'escaped':
      return xmlEscape(text);
    case 'charref':
      return Array.from(text, (ch) => `&#x${(ch.codePointAt(0) ?? 0).toString(16)};`).join('');
    case 'raw':
      return text;
  }
}

const quoting: fc.Arbitrary<Quoting> = fc.oneof(
  { weight: 4, arbitrary: fc.constant('cdata' as const) },
  { weight: 2, arbitrary: fc.constant('escaped' as const) },
  { weight: 1, arbitrary: fc.constant('charref' as const) },
  { weight: 1, arbitrary: fc.constant('raw' as const) },
);

// ---------------------------------------------------------------------------------------------
// Documents.

interface ModuleSpec {
  name: string | undefined;
  type: string | undefined;
  data: string | undefined;
  datalist: { value: string | undefined; timestamp: string | undefined }[] | undefined;
  tags: [string, string][];
  quoting: Quoting;
}

const moduleSpec: fc.Arbitrary<ModuleSpec> = fc.record({
  name: fc.option(fc.oneof(fc.constantFrom('cpu', 'mem', 'disk /', 'Ñ', ''), anyText), {
    freq: 10,
    nil: undefined,
  }),
  type: fc.option(fc.constantFrom(...TYPES), { freq: 10, nil: undefined }),
  data: fc.option(anyText, { freq: 6, nil: undefined }),
  datalist: fc.option(
    fc.array(
      fc.record({
        value: fc.option(anyText, { freq: 8, nil: undefined }),
        timestamp: fc.option(fc.constantFrom(...TIMESTAMPS), { nil: undefined }),
      }),
      { maxLength: 4 },
    ),
    { freq: 4, nil: undefined },
  ),
  tags: fc.array(fc.tuple(fc.constantFrom(...MODULE_TAGS), anyText), { maxLength: 4 }),
  quoting,
});

interface AgentSpec {
  /** undefined: no agent_name attribute. */
  name: string | undefined;
  timestamp: string | undefined;
  attrs: [string, string][];
  modules: ModuleSpec[];
  /** Extra children of <agent_data> (custom fields, events, inventory, junk). */
  extras: string[];
  quoting: Quoting;
}

const EXTRAS = [
  '<custom_fields><field><name><![CDATA[Serial]]></name><value><![CDATA[SN-1]]></value></field></custom_fields>',
  '<custom_fields><field><name>serial</name></field><field/></custom_fields>',
  '<events><event>eyJkYXRhIjoiaGkiLCJzZXZlcml0eSI6NH0=</event><event>not base64!</event></events>',
  '<inventory><inventory_module><name>CPU</name><datalist><data>a;b</data></datalist></inventory_module></inventory>',
  '<!-- a comment -->',
  '<?pi target?>',
  '<module/>',
  '<module><name/></module>',
  '<module>text only</module>',
  '<agent_data agent_name="nested"/>',
];

const agentSpec: fc.Arbitrary<AgentSpec> = fc.record({
  name: fc.option(
    fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom('host1', 'host2') },
      fc.constantFrom('', ' host1', 'HOST1', 'ñ-host', 'a&b', 'x'.repeat(700)),
      anyText,
    ),
    { freq: 15, nil: undefined },
  ),
  timestamp: fc.option(fc.constantFrom(...TIMESTAMPS), { freq: 6, nil: undefined }),
  attrs: fc.uniqueArray(fc.tuple(fc.constantFrom(...AGENT_ATTRS), anyText), {
    selector: ([name]) => name,
    maxLength: 5,
  }),
  modules: fc.array(moduleSpec, { maxLength: 6 }),
  extras: fc.array(fc.constantFrom(...EXTRAS), { maxLength: 2 }),
  quoting,
});

function attribute(name: string, value: string, how: Quoting): string {
  // Attributes cannot hold CDATA; 'raw' keeps the value as is (possibly breaking the XML).
  const text =
    how === 'raw' ? value : how === 'charref' ? quote(value, 'charref') : xmlEscape(value);
  return ` ${name}='${text}'`;
}

function element(tag: string, text: string | undefined, how: Quoting): string {
  return text === undefined ? '' : `<${tag}>${quote(text, how)}</${tag}>`;
}

function moduleXml(m: ModuleSpec): string {
  const q = m.quoting;
  const datalist =
    m.datalist === undefined
      ? ''
      : `<datalist>${m.datalist
          .map(
            (d) =>
              `<data>${element('value', d.value, q)}${element('timestamp', d.timestamp, 'escaped')}</data>`,
          )
          .join('')}</datalist>`;
  return `<module>${element('name', m.name, q)}${element('type', m.type, 'escaped')}${m.tags
    .map(([tag, text]) => element(tag, text, q))
    .join('')}${element('data', m.data, q)}${datalist}</module>`;
}

export function agentDocument(a: AgentSpec): string {
  let attrs = '';
  if (a.name !== undefined) attrs += attribute('agent_name', a.name, a.quoting);
  if (a.timestamp !== undefined) attrs += attribute('timestamp', a.timestamp, 'escaped');
  for (const [k, v] of a.attrs) attrs += attribute(k, v, a.quoting);
  const body = [...a.modules.map(moduleXml), ...a.extras].join('\n');
  return `<agent_data${attrs}>\n${body}\n</agent_data>\n`;
}

// ---------------------------------------------------------------------------------------------
// Byte-level mutations of a finished document.

type Encoding =
  'utf-8' | 'none' | 'iso-8859-1' | 'windows-1252' | 'utf-16le' | 'utf-16be' | 'bogus';

type Mutation =
  | { t: 'doctype'; which: number }
  | { t: 'nest'; depth: number }
  | { t: 'truncate'; /** per mille of the length kept */ at: number }
  | { t: 'flip'; flips: [number, number][] }
  | { t: 'insert'; at: number; text: string }
  | { t: 'root'; name: string }
  | { t: 'trailing'; text: string }
  | { t: 'utf8-bom' };

const DOCTYPES = [
  '<!DOCTYPE agent_data [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
  '<!DOCTYPE agent_data SYSTEM "file:///etc/passwd">',
  '<!DOCTYPE agent_data [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
  '<!doctype agent_data>',
];
const INSERTS = [
  '&undefined;',
  '&#0;',
  '&#xD800;',
  '&#x110000;',
  '&#99999999999;',
  '&#x;',
  '&',
  '<![CDATA[',
  ']]>',
  '<!--',
  '<',
  '</module>',
  '<module>',
  '\u0000',
  '\uFEFF',
  '<?xml version="1.0"?>',
  '&a;',
];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ t: fc.constant('doctype' as const), which: fc.nat(DOCTYPES.length - 1) }),
  fc.record({ t: fc.constant('nest' as const), depth: fc.integer({ min: 1, max: 200 }) }),
  fc.record({
    t: fc.constant('truncate' as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
  fc.record({
    t: fc.constant('flip' as const),
    flips: fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }),
  }),
  fc.record({
    t: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.constantFrom(...INSERTS),
  }),
  fc.record({
    t: fc.constant('root' as const),
    name: fc.constantFrom('agent', 'AGENT_DATA', 'x:agent_data', 'server_status'),
  }),
  fc.record({
    t: fc.constant('trailing' as const),
    text: fc.constantFrom('<agent_data/>', 'junk', '<!-- c -->', '\u0000'),
  }),
  fc.constant({ t: 'utf8-bom' as const }),
);

export interface XmlFile {
  agent: AgentSpec;
  encoding: Encoding;
  quote: '"' | "'";
  mutations: Mutation[];
}

export const xmlFile: fc.Arbitrary<XmlFile> = fc.record({
  agent: agentSpec,
  encoding: fc.oneof(
    { weight: 6, arbitrary: fc.constant('utf-8' as const) },
    fc.constantFrom(
      'none' as const,
      'iso-8859-1' as const,
      'windows-1252' as const,
      'utf-16le' as const,
      'utf-16be' as const,
      'bogus' as const,
    ),
  ),
  quote: fc.constantFrom('"' as const, "'" as const),
  mutations: fc.oneof(
    { weight: 2, arbitrary: fc.constant<Mutation[]>([]) },
    fc.array(mutation, { minLength: 1, maxLength: 3 }),
  ),
});

export interface XmlCase {
  files: XmlFile[];
  /** Seconds between the files (data time and server time move together). */
  gapSec: number;
}

export const xmlCase: fc.Arbitrary<XmlCase> = fc.record({
  files: fc.array(xmlFile, { minLength: 1, maxLength: 3 }),
  gapSec: fc.constantFrom(0, 1, 300, 86_401),
});

function encodeText(text: string, encoding: Encoding, q: string): Buffer {
  const label = encoding === 'utf-16le' || encoding === 'utf-16be' ? 'UTF-16' : encoding;
  const decl = encoding === 'none' ? '' : `<?xml version=${q}1.0${q} encoding=${q}${label}${q}?>\n`;
  const full = decl + text;
  switch (encoding) {
    case 'utf-16le':
      return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(full, 'utf16le')]);
    case 'utf-16be': {
      const le = Buffer.from(full, 'utf16le');
      return Buffer.concat([Buffer.from([0xfe, 0xff]), le.swap16()]);
    }
    case 'iso-8859-1':
    case 'windows-1252':
      // Characters outside the charset become '?', as a Windows agent would write them.
      return Buffer.from(full.replace(/[\u0100-\u{10ffff}]/gu, '?'), 'latin1');
    case 'utf-8':
    case 'none':
    case 'bogus':
      return Buffer.from(full, 'utf8');
  }
}

/** The document after the text-level mutations, before encoding. */
function xmlText(f: XmlFile): string {
  let text = agentDocument(f.agent);
  for (const m of f.mutations) {
    if (m.t === 'doctype') text = `${DOCTYPES[m.which] ?? ''}\n${text}`;
    else if (m.t === 'nest') {
      const open = '<n>'.repeat(m.depth);
      text = text.replace(
        '</agent_data>',
        `<module><name>deep</name>${open}1${'</n>'.repeat(m.depth)}</module></agent_data>`,
      );
    } else if (m.t === 'insert') {
      const at = m.at % (text.length + 1);
      text = text.slice(0, at) + m.text + text.slice(at);
    } else if (m.t === 'root') text = text.replace(/agent_data/g, m.name);
    else if (m.t === 'trailing') text += m.text;
  }
  return text;
}

/** The file's bytes: document, declaration and encoding, then the byte-level mutations. */
export function xmlBytes(f: XmlFile): Buffer {
  let bytes = encodeText(xmlText(f), f.encoding, f.quote);
  for (const m of f.mutations) {
    if (m.t === 'utf8-bom') bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]);
    else if (m.t === 'truncate')
      bytes = bytes.subarray(0, Math.floor((bytes.length * m.at) / 1000));
    else if (m.t === 'flip') {
      bytes = Buffer.from(bytes);
      for (const [pos, value] of m.flips) if (bytes.length > 0) bytes[pos % bytes.length] = value;
    }
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// The property.

export interface XmlFuzzStats {
  files: number;
  parsed: number;
  refused: Map<string, number>;
  /** Slowest file through parse + process, and its size. */
  slowestMs: number;
  slowestBytes: number;
  /** The slowest file itself, to look into a suspected hang. */
  slowestFile: Buffer | undefined;
}

export function newXmlStats(): XmlFuzzStats {
  return {
    files: 0,
    parsed: 0,
    refused: new Map(),
    slowestMs: 0,
    slowestBytes: 0,
    slowestFile: undefined,
  };
}

export function checkXmlCase(c: XmlCase, stats: XmlFuzzStats = newXmlStats()): void {
  const h = createHarness();
  c.files.forEach((f, i) => {
    const bytes = xmlBytes(f);
    const nowSec = T0 + 1 + i * c.gapSec;
    const started = performance.now();
    stats.files++;
    checkXmlFile(h, bytes, nowSec, stats);
    const ms = performance.now() - started;
    if (ms > stats.slowestMs) {
      stats.slowestMs = ms;
      stats.slowestBytes = bytes.length;
      stats.slowestFile = bytes;
    }
  });
}

function checkXmlFile(
  h: ReturnType<typeof createHarness>,
  bytes: Buffer,
  nowSec: number,
  stats: XmlFuzzStats,
): void {
  const result = tryParseAgentXml(bytes, { nowSec, mtimeSec: nowSec });
  if (result.error) {
    const { code, disposition, message } = result.error;
    assert.match(code, /^ERR_XML_[A-Z_]+$/, `refused with a non-XML error: ${code} ${message}`);
    assert.ok(disposition === 'badxml' || disposition === 'drop', `disposition ${disposition}`);
    stats.refused.set(code, (stats.refused.get(code) ?? 0) + 1);
    return;
  }
  stats.parsed++;
  const before = h.agents.get(lookupKey(result.packet.agentNameEncoded));
  const beforeJson = JSON.stringify(before);
  const outcome = h.feed(bytes, { nowSec });
  assert.equal(JSON.stringify(before), beforeJson, 'input agent state mutated');
  checkOutcomeRefs(outcome);
}

/**
 * Files where the two parsers are known to differ: a `&#9;`/`&#10;`/`&#13;` reference in an
 * attribute becomes a space on the fast-xml-parser path only (parse.ts).
 */
const ATTRIBUTE_WHITESPACE_REFERENCE = /&#(x0*[9ad]|0*(9|10|13));/i;

/** The builtin scanner and fast-xml-parser refuse the same files and build the same packets. */
export function checkParsersAgree(f: XmlFile): void {
  // Checked on the text: in UTF-16 the reference is not visible in the bytes.
  if (ATTRIBUTE_WHITESPACE_REFERENCE.test(xmlText(f))) return;
  const bytes = xmlBytes(f);
  const info = { nowSec: T0 + 1, mtimeSec: T0 + 1 };
  const builtin = tryParseAgentXml(bytes, info, { ...DEFAULT_PARSE_OPTIONS, xmlParser: 'builtin' });
  const fxp = tryParseAgentXml(bytes, info, {
    ...DEFAULT_PARSE_OPTIONS,
    xmlParser: 'fast-xml-parser',
  });
  assert.deepEqual(fxp, builtin);
}
