// Encodings and bad files (spec §9 cases 2, 3, 6–11): everything refused gets a typed error
// and the _BADXML disposition, quickly and without expanding anything.
import './logic-tz.js';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  DEFAULT_PARSE_OPTIONS,
  parseAgentXml,
  tryParseAgentXml,
} from '../../src/dataserver/xml/index.js';

const FILE = { mtimeSec: 1_700_000_000, nowSec: 1_700_000_100 };

function doc(encoding: string, name: string, value = '1'): string {
  return `<?xml version='1.0' encoding='${encoding}'?><agent_data agent_name='${name}'><module><name>m</name><type>generic_data_string</type><data>${value}</data></module></agent_data>`;
}

function refusal(bytes: Uint8Array, options = DEFAULT_PARSE_OPTIONS) {
  const result = tryParseAgentXml(bytes, FILE, options);
  assert.equal(result.packet, undefined, 'must be refused');
  assert.ok(result.error);
  return result.error;
}

describe('encodings (§1.2)', () => {
  it('7: ISO-8859-1 bytes decode to the same agent as UTF-8', () => {
    const latin1 = Buffer.from(doc('ISO-8859-1', 'h\xe9'), 'latin1');
    assert.equal(latin1.includes(0xe9), true);
    const a = parseAgentXml(latin1, FILE);
    const b = parseAgentXml(Buffer.from(doc('UTF-8', 'hé'), 'utf8'), FILE);
    assert.equal(a.agentName, 'hé');
    assert.equal(a.agentNameEncoded, 'h&eacute;');
    assert.equal(b.agentNameEncoded, a.agentNameEncoded);
  });

  it('ISO-8859-1 is true Latin-1: 0x80 stays U+0080 (not the windows-1252 €)', () => {
    const p = parseAgentXml(Buffer.from(doc('iso-8859-1', 'a', '\x80'), 'latin1'), FILE);
    assert.equal(p.modules[0]?.data[0]?.value, '\u0080');
  });

  it('8: windows-1252 byte 0x80 is €', () => {
    const p = parseAgentXml(Buffer.from(doc('windows-1252', 'a', '\x80'), 'latin1'), FILE);
    assert.equal(p.modules[0]?.data[0]?.value, '€');
  });

  it('other TextDecoder labels (iso-8859-15, koi8-r)', () => {
    const p = parseAgentXml(Buffer.from(doc('ISO-8859-15', 'a', '\xa4'), 'latin1'), FILE);
    assert.equal(p.modules[0]?.data[0]?.value, '€');
    const k = parseAgentXml(Buffer.from(doc('KOI8-R', 'a', '\xc1'), 'latin1'), FILE);
    assert.equal(k.modules[0]?.data[0]?.value, 'а');
  });

  it('UTF-8 with a BOM, UTF-16LE and UTF-16BE with a BOM', () => {
    const text = doc('UTF-16', 'hé');
    const bom8 = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(doc('UTF-8', 'hé'))]);
    assert.equal(parseAgentXml(bom8, FILE).agentName, 'hé');
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    assert.equal(parseAgentXml(le, FILE).agentName, 'hé');
    const be = Buffer.from(
      Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le')]),
    );
    for (let i = 2; i < be.length; i += 2) {
      const t = be[i] ?? 0;
      be[i] = be[i + 1] ?? 0;
      be[i + 1] = t;
    }
    assert.equal(parseAgentXml(be, FILE).agentName, 'hé');
  });

  it('no declaration → UTF-8', () => {
    const p = parseAgentXml(Buffer.from("<agent_data agent_name='hé'/>", 'utf8'), FILE);
    assert.equal(p.agentName, 'hé');
  });

  const bad: [string, Buffer, string][] = [
    [
      '6: declared UTF-8 with byte 0xE9',
      Buffer.from(doc('UTF-8', 'h\xe9'), 'latin1'),
      'ERR_XML_ENCODING',
    ],
    [
      'no declaration with byte 0xE9',
      Buffer.from("<agent_data agent_name='h\xe9'/>", 'latin1'),
      'ERR_XML_ENCODING',
    ],
    [
      'US-ASCII with a high byte',
      Buffer.from(doc('US-ASCII', 'h\xe9'), 'latin1'),
      'ERR_XML_ENCODING',
    ],
    ['declared UTF-16 but UTF-8 bytes', Buffer.from(doc('UTF-16', 'h')), 'ERR_XML_ENCODING'],
    ['unknown encoding label', Buffer.from(doc('x-klingon', 'h')), 'ERR_XML_ENCODING'],
    [
      'UTF-8 BOM with a Latin-1 declaration',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(doc('ISO-8859-1', 'h'))]),
      'ERR_XML_ENCODING',
    ],
  ];
  for (const [name, bytes, code] of bad) {
    it(name, () => {
      const error = refusal(bytes);
      assert.equal(error.code, code);
      assert.equal(error.disposition, 'badxml');
    });
  }
});

describe('malformed documents (§2.3: _BADXML)', () => {
  const good = doc('UTF-8', 'host1');
  const cases: [string, string, string][] = [
    [
      '2: truncated before </agent_data>',
      good.slice(0, good.lastIndexOf('</agent_data>')),
      'ERR_XML_TRUNCATED',
    ],
    ['truncated inside a tag', good.slice(0, 60), 'ERR_XML_TRUNCATED'],
    ['truncated inside CDATA', "<agent_data agent_name='a'><x><![CDATA[abc", 'ERR_XML_TRUNCATED'],
    ['3: empty file', '', 'ERR_XML_TRUNCATED'],
    ['only a declaration', "<?xml version='1.0'?>", 'ERR_XML_TRUNCATED'],
    ['mismatched end tag', "<agent_data agent_name='a'><x></y></agent_data>", 'ERR_XML_INVALID'],
    ['end tag without start', "<agent_data agent_name='a'></x></agent_data>", 'ERR_XML_INVALID'],
    ['two roots', "<agent_data agent_name='a'/><agent_data agent_name='b'/>", 'ERR_XML_INVALID'],
    ['text outside the root', "junk<agent_data agent_name='a'/>", 'ERR_XML_INVALID'],
    ['undefined entity &eacute;', "<agent_data agent_name='h&eacute;'/>", 'ERR_XML_INVALID'],
    ['bare ampersand', "<agent_data agent_name='a'><x>a & b</x></agent_data>", 'ERR_XML_INVALID'],
    [
      'reference to U+0000',
      "<agent_data agent_name='a'><x>&#0;</x></agent_data>",
      'ERR_XML_INVALID',
    ],
    [
      'control character',
      "<agent_data agent_name='a'><x>\u0001</x></agent_data>",
      'ERR_XML_INVALID',
    ],
    ['unquoted attribute', '<agent_data agent_name=a></agent_data>', 'ERR_XML_INVALID'],
    ['< in an attribute', "<agent_data agent_name='a<b'/>", 'ERR_XML_INVALID'],
    [
      'declaration not first',
      "<agent_data agent_name='a'><?xml version='1.0'?></agent_data>",
      'ERR_XML_INVALID',
    ],
    ['not XML at all', 'garbage', 'ERR_XML_INVALID'],
  ];
  for (const [name, xml, code] of cases) {
    it(name, () => {
      const error = refusal(Buffer.from(xml, 'utf8'));
      assert.equal(error.code, code, error.message);
      assert.equal(error.disposition, 'badxml');
    });
  }
});

describe('hostile documents (D-10, D-11)', () => {
  it('9: a billion-laughs bomb is refused fast without expansion', () => {
    const levels = ['<!ENTITY a0 "lol">'];
    for (let i = 1; i <= 9; i++) {
      levels.push(`<!ENTITY a${String(i)} "${`&a${String(i - 1)};`.repeat(10)}">`);
    }
    const bomb = `<?xml version="1.0"?><!DOCTYPE agent_data [${levels.join('')}]><agent_data agent_name="&a9;"><module><name>m</name><data>&a9;</data></module></agent_data>`;
    const rssBefore = process.memoryUsage().rss;
    const started = process.hrtime.bigint();
    const error = refusal(Buffer.from(bomb));
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    assert.equal(error.code, 'ERR_XML_DOCTYPE');
    assert.equal(error.disposition, 'badxml');
    // Generous bounds (shared machine): the reference needs ~90 s of CPU for this file.
    assert.ok(elapsedMs < 1000, `took ${String(elapsedMs)} ms`);
    assert.ok(process.memoryUsage().rss - rssBefore < 50 * 1024 * 1024);
  });

  it('10: an external entity is refused before anything is resolved', () => {
    const xxe = `<?xml version="1.0"?><!DOCTYPE agent_data [<!ENTITY x SYSTEM "file:///etc/passwd">]><agent_data agent_name="a"><module><name>m</name><data>&x;</data></module></agent_data>`;
    const error = refusal(Buffer.from(xxe));
    assert.equal(error.code, 'ERR_XML_DOCTYPE');
    assert.doesNotMatch(error.message, /root:/);
  });

  it('a DOCTYPE without entities is refused too; a DOCTYPE inside CDATA is data', () => {
    assert.equal(
      refusal(Buffer.from('<!DOCTYPE agent_data><agent_data agent_name="a"/>')).code,
      'ERR_XML_DOCTYPE',
    );
    const p = parseAgentXml(
      Buffer.from(
        '<agent_data agent_name="a"><module><name>m</name><data><![CDATA[<!DOCTYPE x>]]></data></module></agent_data>',
      ),
      FILE,
    );
    assert.equal(p.modules[0]?.data[0]?.value, '<!DOCTYPE x>');
  });

  it('11: oversized file is refused before decoding', () => {
    const options = { ...DEFAULT_PARSE_OPTIONS, maxXmlSize: 1000 };
    const big = Buffer.alloc(2000, 0xff); // not even valid UTF-8: size is checked first
    const error = refusal(big, options);
    assert.equal(error.code, 'ERR_XML_TOO_LARGE');
    assert.equal(error.disposition, 'badxml');
    assert.equal(parseAgentXml(Buffer.from(doc('UTF-8', 'a')), FILE, options).agentName, 'a');
  });

  it('nesting deeper than maxDepth is refused', () => {
    const depth = DEFAULT_PARSE_OPTIONS.maxDepth + 1;
    const deep = `<agent_data agent_name="a">${'<x>'.repeat(depth)}${'</x>'.repeat(depth)}</agent_data>`;
    assert.equal(refusal(Buffer.from(deep)).code, 'ERR_XML_TOO_DEEP');
    const ok = `<agent_data agent_name="a">${'<x>'.repeat(depth - 2)}${'</x>'.repeat(depth - 2)}</agent_data>`;
    assert.equal(parseAgentXml(Buffer.from(ok), FILE).agentName, 'a');
  });

  it('a million unclosed tags fail on depth, not memory', () => {
    const error = refusal(Buffer.from(`<agent_data agent_name="a">${'<x>'.repeat(1_000_000)}`));
    assert.equal(error.code, 'ERR_XML_TOO_DEEP');
  });
});

describe('fuzz: any bytes give a packet or a typed refusal, never a crash', () => {
  it('random bytes and random mutations of a valid file', () => {
    const base = Buffer.from(doc('UTF-8', 'host1', '<![CDATA[42]]>'));
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 3000; i++) {
      let bytes: Buffer;
      if (i % 3 === 0) {
        bytes = randomBytes(rand(200));
      } else {
        bytes = Buffer.from(base);
        for (let k = 0; k < 1 + rand(4); k++) bytes[rand(bytes.length)] = rand(256);
        if (i % 3 === 2) bytes = bytes.subarray(0, rand(bytes.length + 1));
      }
      const result = tryParseAgentXml(bytes, FILE);
      if (result.error !== undefined) {
        assert.match(
          result.error.code,
          /^ERR_XML_/,
          `${result.error.code}: ${result.error.message}`,
        );
        assert.notEqual(result.error.disposition, 'io');
      } else {
        assert.equal(typeof result.packet.agentName, 'string');
      }
    }
  });
});
