// The builtin tree builder and fast-xml-parser must give identical packets on valid agent files
// (the builtin one is the default because it is about ten times faster).
import './logic-tz.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ParseOptions } from '../../src/dataserver/types.js';
import { DEFAULT_PARSE_OPTIONS, parseAgentXml } from '../../src/dataserver/xml/index.js';

const FILE = { mtimeSec: 1_700_000_000, nowSec: 1_700_000_100 };
const BUILTIN: ParseOptions = { ...DEFAULT_PARSE_OPTIONS, xmlParser: 'builtin' };
const FXP: ParseOptions = { ...DEFAULT_PARSE_OPTIONS, xmlParser: 'fast-xml-parser' };

function createRng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

const TEXTS = [
  'plain',
  ' spaced ',
  '5',
  '5,5',
  '',
  'a &amp; b',
  '&lt;tag&gt;',
  '&#233;t&#xE9;',
  '&quot;q&apos;',
  'caf\u00e9 \u4e2d \u{1F600}',
  'line\nbreak',
  'tab\there',
];
const CDATA = ['x', '', 'a]]]]><![CDATA[>b', '&amp; raw', '<not a tag>', ' 12.5 '];
const TAGS = [
  'name',
  'type',
  'data',
  'description',
  'unit',
  'min_critical',
  'foo',
  'module_interval',
  'status',
  'str_warning',
];

function randomText(rng: (n: number) => number): string {
  switch (rng(5)) {
    case 0:
      return `<![CDATA[${CDATA[rng(CDATA.length)] ?? ''}]]>`;
    case 1:
      return `${TEXTS[rng(TEXTS.length)] ?? ''}<!-- note -->${TEXTS[rng(TEXTS.length)] ?? ''}`;
    default:
      return TEXTS[rng(TEXTS.length)] ?? '';
  }
}

function randomModule(rng: (n: number) => number, i: number): string {
  const parts = [`<name>m${String(i)}${randomText(rng)}</name>`];
  for (let k = 0; k < rng(6); k++) {
    const tag = TAGS[rng(TAGS.length)] ?? 'foo';
    const attr = rng(4) === 0 ? ` lang="x&amp;y"` : '';
    parts.push(rng(6) === 0 ? `<${tag}${attr}/>` : `<${tag}${attr}>${randomText(rng)}</${tag}>`);
  }
  if (rng(3) === 0) {
    const items = Array.from({ length: rng(4) }, () =>
      rng(5) === 0
        ? '<data><foo>no value</foo></data>'
        : `<data><value>${randomText(rng)}</value>${rng(2) === 0 ? '<timestamp>2024/03/01 09:59:00</timestamp>' : ''}</data>`,
    );
    parts.push(`<datalist>\n${items.join('\n')}\n</datalist>`);
  }
  return `<module>\n  ${parts.join('\n  ')}\n</module>`;
}

function randomDocument(seed: number): string {
  const rng = createRng(seed);
  const attrs = [
    `agent_name='agent ${String(seed)} &amp; &#233;'`,
    rng(2) === 0 ? "timestamp='2024/03/01 10:00:00'" : "timestamp='2024-03-01 10:00:00'",
    `interval='${String(rng(600))}'`,
    `address=' 10.0.0.${String(rng(9))} , 10.0.1.1'`,
    "description='multi\tline'",
    rng(2) === 0 ? "timezone_offset='2'" : "os_version=''",
  ];
  const modules = Array.from({ length: 1 + rng(8) }, (_, i) => randomModule(rng, i));
  const custom =
    rng(2) === 0
      ? '<custom_fields><field><name><![CDATA[Serial]]></name><value>S&amp;N</value></field></custom_fields>'
      : '';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<agent_data ${attrs.join(' ')}>\n${custom}${modules.join('\n')}\n</agent_data>\n`;
}

describe('builtin tree builder ≡ fast-xml-parser', () => {
  it('identical packets on 1,500 random valid agent files', () => {
    for (let seed = 1; seed <= 1500; seed++) {
      const bytes = Buffer.from(randomDocument(seed), 'utf8');
      const builtin = parseAgentXml(bytes, FILE, BUILTIN);
      const fxp = parseAgentXml(bytes, FILE, FXP);
      assert.deepEqual(builtin, fxp, `seed ${String(seed)}:\n${bytes.toString()}`);
    }
  });

  it('identical packets for the spec 8.3 stress-tool file (windows-style attributes order)', () => {
    const xml = `<?xml version='1.0' encoding='UTF-8'?>
<agent_data os_name='Linux' os_version='5.15' interval='300' group='Servers' version='5.15' timestamp='2024-03-01 10:00:00' agent_name='web-01.example.net' timezone_offset='0' longitude='-3.69' latitude='40.43' altitude='-0.01'>
\t<module>
\t\t<name>CPU Load</name>
\t\t<description>CPU load percentage</description>
\t\t<type>generic_data</type>
\t\t<min_critical>90</min_critical>
\t\t<min_warning>70</min_warning>
\t\t<unit><![CDATA[%]]></unit>
\t\t<data><![CDATA[10]]></data>
\t</module>
</agent_data>`;
    const bytes = Buffer.from(xml);
    assert.deepEqual(parseAgentXml(bytes, FILE, BUILTIN), parseAgentXml(bytes, FILE, FXP));
  });
});
