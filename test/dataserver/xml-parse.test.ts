// The XML::Simple-compatible reading rules of spec §1.2–§1.6 and the root normalisation of §3.1.
import './logic-tz.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AgentPacket, PacketModule } from '../../src/dataserver/types.js';
import {
  DEFAULT_PARSE_OPTIONS,
  parseAgentXml,
  tryParseAgentXml,
} from '../../src/dataserver/xml/index.js';
import { safeInput, safeOutput } from '../../src/pandora/index.js';

const FILE = { mtimeSec: 1_700_000_000, nowSec: 1_700_000_100 };
const T0 = 1709287200;

function parse(xml: string): AgentPacket {
  return parseAgentXml(Buffer.from(xml, 'utf8'), FILE);
}

function agent(body: string, attrs = "agent_name='host1' timestamp='2024/03/01 10:00:00'") {
  return `<?xml version='1.0' encoding='UTF-8'?>\n<agent_data ${attrs}>${body}</agent_data>`;
}

function onlyModule(body: string): PacketModule {
  const modules = parse(agent(`<module>${body}</module>`)).modules;
  assert.equal(modules.length, 1);
  const [m] = modules;
  assert.ok(m);
  return m;
}

describe('spec 1.7 sample (Unix agent)', () => {
  const sample = `<?xml version='1.0' encoding='UTF-8'?>
<agent_data description='Web front 1' group='Servers' os_name='linux'
 os_version='Rocky Linux 8.7' interval='300' version='7.0NG.776(Build 240321)'
 timestamp='2024/03/01 10:00:00' agent_name='web-01' agent_alias='Web 01'
 timezone_offset='0' custom_id='' url_address='' address='10.0.0.5, 192.168.1.5'
 parent_agent_name='router-01' agent_mode='1'>
<custom_fields>
  <field><name><![CDATA[Serial]]></name><value><![CDATA[SN-4711]]></value></field>
</custom_fields>
<module>
  <name><![CDATA[CPU Load]]></name>
  <description><![CDATA[CPU load percentage]]></description>
  <type>generic_data</type>
  <module_interval>1</module_interval>
  <min_warning>70</min_warning>
  <min_critical>90</min_critical>
  <unit><![CDATA[%]]></unit>
  <module_group>System</module_group>
  <tags><![CDATA[linux,web]]></tags>
  <data><![CDATA[12.5]]></data>
</module>
<module>
  <name><![CDATA[sshd]]></name>
  <type>generic_proc</type>
  <data><![CDATA[1]]></data>
</module>
<module>
  <name><![CDATA[Last error line]]></name>
  <type><![CDATA[async_string]]></type>
  <datalist>
    <data><value><![CDATA[disk full on /var]]></value><timestamp>2024/03/01 09:58:10</timestamp></data>
    <data><value><![CDATA[disk ok]]></value><timestamp>2024/03/01 09:59:40</timestamp></data>
  </datalist>
</module>
</agent_data>`;

  it('reads root attributes', () => {
    const p = parse(sample);
    assert.equal(p.agentName, 'web-01');
    assert.equal(p.agentNameEncoded, 'web-01');
    assert.equal(p.aliasEncoded, 'Web&#x20;01');
    assert.deepEqual(p.time, {
      epoch: T0,
      text: '2024-03-01 10:00:00',
      source: 'xml',
      agentText: '2024/03/01 10:00:00',
    });
    assert.equal(p.interval, 300);
    assert.equal(p.version, '7.0NG.776(Build 240321)');
    assert.equal(p.osName, 'linux');
    assert.equal(p.osVersion, 'Rocky Linux 8.7');
    assert.equal(p.groupName, 'Servers');
    assert.equal(p.description, 'Web front 1');
    assert.deepEqual(p.addresses, ['10.0.0.5', '192.168.1.5']);
    assert.equal(p.parentNameEncoded, 'router-01');
    assert.equal(p.customId, '');
    assert.equal(p.agentMode, 1);
    assert.deepEqual(p.customFields, [{ name: 'Serial', value: 'SN-4711' }]);
    assert.deepEqual(p.warnings, []);
  });

  it('reads modules, creation tags and datalists', () => {
    const [cpu, sshd, log] = parse(sample).modules;
    assert.ok(cpu && sshd && log);
    assert.equal(cpu.nameEncoded, 'CPU&#x20;Load');
    assert.equal(cpu.description, 'CPU load percentage');
    assert.equal(cpu.moduleInterval, '1');
    assert.deepEqual(cpu.creation, {
      min_warning: '70',
      min_critical: '90',
      unit: '%',
      module_group: 'System',
      tags: 'linux,web',
    });
    assert.deepEqual(cpu.data, [{ value: '12.5', epoch: T0 }]);
    assert.equal(cpu.extendedInfo, '');
    assert.equal(sshd.type, 'generic_proc');
    assert.deepEqual(log.data, [
      { value: 'disk full on /var', epoch: T0 - 110 },
      { value: 'disk ok', epoch: T0 - 20 },
    ]);
  });
});

describe('text rules (§1.2)', () => {
  it('no trimming, entities and character references decoded', () => {
    const m = onlyModule('<name>x</name><data> 5 &lt;&amp;&#233;&#x20AC;&#128512; </data>');
    assert.equal(m.data[0]?.value, ' 5 <&é€😀 ');
  });

  it('CDATA is literal; a split ]]> comes out whole', () => {
    const m = onlyModule(
      '<name><![CDATA[a]]]]><![CDATA[>b]]></name><data><![CDATA[&amp; <x>]]></data>',
    );
    assert.equal(m.name, 'a]]>b');
    assert.equal(m.data[0]?.value, '&amp; <x>');
  });

  it('first occurrence with a text wins; empty elements are "no value"', () => {
    const m = onlyModule(
      '<name>x</name><type/><type>generic_proc</type><data>1</data><data>2</data>',
    );
    assert.equal(m.type, 'generic_proc');
    assert.equal(m.data[0]?.value, '1');
    const empty = onlyModule('<name>x</name><data><![CDATA[]]></data>');
    assert.deepEqual(empty.data, [{ value: undefined, epoch: T0 }]);
    assert.equal(empty.type, 'generic_data');
  });

  it('comments are ignored inside text', () => {
    assert.equal(onlyModule('<name>x</name><data>1<!-- c -->2</data>').data[0]?.value, '12');
  });

  it('a datalist wins over <data>; items without <value> are skipped; several datalists', () => {
    const m = onlyModule(
      '<name>x</name><data>9</data><datalist><data><value>1</value></data><data/></datalist>' +
        '<datalist><data><value>2</value></data></datalist>',
    );
    assert.deepEqual(
      m.data.map((d) => d.value),
      ['1', '2'],
    );
  });

  it('unknown tags go to extended_info in document order (D-15); _forced tags do not', () => {
    const m = onlyModule(
      '<zeta>1</zeta><name>x</name><alpha/><min_critical_forced>3</min_critical_forced>',
    );
    assert.equal(m.extendedInfo, 'zeta: 1<br/>alpha: <br/>');
  });

  it('element names such as __proto__ are plain tags (no prototype pollution)', () => {
    const m = onlyModule(
      '<name>x</name><__proto__><polluted>1</polluted></__proto__><constructor>y</constructor>',
    );
    assert.equal(m.extendedInfo, '__proto__: <br/>constructor: y<br/>');
    assert.equal((Object.prototype as Record<string, unknown>)['polluted'], undefined);
  });

  it('module attributes are invisible: <module name="x"> is unnamed and skipped', () => {
    const p = parse(agent('<module name="x"><data>1</data></module>'));
    assert.equal(p.modules.length, 0);
    assert.match(p.warnings.join(), /without a name/);
  });

  it('CR and LF are removed from module names; CRLF becomes LF in values', () => {
    const m = onlyModule(
      '<name>cp\r\nu</name><type>generic_data_string</type><data>a\r\nb\rc</data>',
    );
    assert.equal(m.name, 'cpu');
    assert.equal(m.data[0]?.value, 'a\nb\nc');
  });

  it('attribute values: literal tabs/newlines normalised, entities decoded, not trimmed', () => {
    const p = parse(agent('', "agent_name=' a\tb &amp; &#233;' description='x\ny&#9;z'"));
    assert.equal(p.agentName, ' a b & é');
    assert.equal(p.description, 'x y\tz', 'a character reference is not normalised');
  });

  it('status and parent tags', () => {
    const m = onlyModule(
      '<name>x</name><status> Critical </status><module_parent>p q</module_parent><module_parent_unlink>1</module_parent_unlink>',
    );
    assert.equal(m.forcedStatus, 1);
    assert.equal(m.parentNameEncoded, 'p&#x20;q');
    assert.equal(m.parentUnlink, true);
    assert.equal(onlyModule('<name>x</name><status>bogus</status>').forcedStatus, undefined);
  });
});

describe('root normalisation (§3.1)', () => {
  const cases: [string, string, Partial<AgentPacket>][] = [
    ['interval missing', "agent_name='a'", { interval: 300 }],
    ['interval empty', "agent_name='a' interval=''", { interval: 300 }],
    ['interval text', "agent_name='a' interval='abc'", { interval: 300 }],
    ['interval 60', "agent_name='a' interval=' 60 '", { interval: 60 }],
    ['agent_mode 0', "agent_name='a' agent_mode='0'", { agentMode: 0 }],
    ['agent_mode junk', "agent_name='a' agent_mode='7'", { agentMode: 1 }],
    ['alias empty', "agent_name='a b' agent_alias=''", { aliasEncoded: 'a&#x20;b' }],
    ['os_version empty', "agent_name='a' os_version=''", { osVersion: undefined }],
    ['address blanks', "agent_name='a' address=' , 1.2.3.4 ,'", { addresses: ['1.2.3.4'] }],
    ['no parent', "agent_name='a' parent_agent_name=''", { parentNameEncoded: undefined }],
  ];
  for (const [name, attrs, expected] of cases) {
    it(name, () => {
      const p = parse(agent('', attrs));
      for (const [key, value] of Object.entries(expected)) {
        assert.deepEqual(p[key as keyof AgentPacket], value, key);
      }
    });
  }

  it('timestamps: dash form, AUTO, missing, invalid (D-2), use_xml_timestamp 0', () => {
    const p = (attrs: string, options = DEFAULT_PARSE_OPTIONS) =>
      parseAgentXml(Buffer.from(agent('', attrs)), FILE, options).time;
    assert.equal(p("agent_name='a' timestamp='2024-03-01 10:00:00'").epoch, T0);
    assert.deepEqual(p("agent_name='a' timestamp='AUTO'").source, 'auto');
    assert.equal(p("agent_name='a' timestamp='AUTO'").epoch, FILE.nowSec);
    assert.equal(p("agent_name='a'").epoch, FILE.mtimeSec);
    assert.equal(p("agent_name='a' timestamp='2024/13/01 10:00:00'").source, 'mtime');
    const off = { ...DEFAULT_PARSE_OPTIONS, useXmlTimestamp: false };
    assert.equal(p("agent_name='a' timestamp='2024/03/01 10:00:00'", off).epoch, FILE.mtimeSec);
  });
});

describe('dispositions of non-agent files', () => {
  const cases: [string, string, string, string][] = [
    ['root not agent_data (D-1)', "<foo agent_name='x'/>", 'ERR_XML_INVALID', 'badxml'],
    [
      'agent fields as elements (case 13)',
      '<agent_data><agent_name>x</agent_name></agent_data>',
      'ERR_XML_NO_AGENT_NAME',
      'drop',
    ],
    ['missing agent_name (case 4)', '<agent_data/>', 'ERR_XML_NO_AGENT_NAME', 'drop'],
    ['empty agent_name (case 5)', "<agent_data agent_name=''/>", 'ERR_XML_NO_AGENT_NAME', 'drop'],
    ['satellite status file', "<server server_name='sat1'/>", 'ERR_XML_UNSUPPORTED', 'drop'],
  ];
  for (const [name, xml, code, disposition] of cases) {
    it(name, () => {
      const result = tryParseAgentXml(Buffer.from(xml), FILE);
      assert.equal(result.packet, undefined);
      assert.equal(result.error.code, code);
      assert.equal(result.error.disposition, disposition);
      assert.ok(result.error.message.length > 0);
    });
  }
});

describe('safe_input (§6.1)', () => {
  const cases: [string, string][] = [
    ['my agent', 'my&#x20;agent'],
    ['db (main)', 'db&#x20;&#40;main&#41;'],
    ['café', 'caf&eacute;'],
    ['中', '中'],
    ['a\tb\nc\rd', 'a&#x09;b\nc&#x0d;d'],
    [`"&'<>\\`, '&quot;&amp;&#039;&lt;&gt;&#92;'],
    ['°±', '&#xb0;&#xb1;'],
    ['ÀÇßçèôÿ', 'ÀÇßçèôÿ'],
    ['€™—Ωπ…', '&euro;&trade;&mdash;&Omega;&pi;&hellip;'],
    ['plain-name_1.example.com', 'plain-name_1.example.com'],
  ];
  for (const [raw, encoded] of cases) {
    it(`${JSON.stringify(raw)} ↔ ${encoded}`, () => {
      assert.equal(safeInput(raw), encoded);
      assert.equal(safeOutput(encoded), raw);
    });
  }
});
