import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import {
  capacityStudyModules,
  createFleet,
  createRng,
  dataFileName,
  drawValue,
  formatLocal,
  nextValue,
  writeFiles,
  type ModuleProfile,
} from '../../bench/generator/index.js';
import { parseAgentXml } from '../../src/dataserver/xml/index.js';
import { tempDir } from '../helpers/tmp.js';

/** The spec's data-file name rule (dataserver.md §1.1). */
const DATA_FILE_NAME = /^(.*)[._]\d+\.data$/;
const TENTACLE_FORBIDDEN = /[?[\]/\\=+<>:;',*~]/;

const plainParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  isArray: (name) => name === 'module',
});

interface PlainModule {
  name: string;
  type: string;
  data: string;
  min_warning?: string;
  min_critical?: string;
}

function plainParse(xml: string): {
  agent_data: Record<string, string> & { module: PlainModule[] };
} {
  return plainParser.parse(xml) as {
    agent_data: Record<string, string> & { module: PlainModule[] };
  };
}

test('capacity-study agent: 33 modules, 1 string, 17 generic_proc, 15 generic_data at 50/75', () => {
  const modules = capacityStudyModules();
  assert.equal(modules.length, 33);
  const byType = (t: string) => modules.filter((m) => m.type === t);
  assert.equal(byType('generic_data_string').length, 1);
  assert.equal(byType('generic_proc').length, 17);
  assert.equal(byType('generic_data').length, 15);
  for (const m of byType('generic_data')) {
    assert.equal(m.minWarning, 50);
    assert.equal(m.minCritical, 75);
  }
  assert.equal(new Set(modules.map((m) => m.name)).size, 33, 'module names are unique');
  assert.equal(capacityStudyModules(10).length, 10);
  assert.equal(capacityStudyModules(1).length, 1);
});

test('files are well-formed agent XML with every module and the pass timestamp', () => {
  const fleet = createFleet({ agents: 5, seed: 3, startEpoch: 1_700_000_000 });
  const pass = fleet.pass(0);
  const files = [...pass.files()];
  assert.equal(files.length, 5);
  for (const file of files) {
    const doc = plainParse(file.bytes.toString('utf8')).agent_data;
    assert.equal(doc['agent_name'], file.agentName);
    assert.equal(doc['timestamp'], pass.timestamp);
    assert.equal(doc['interval'], '300');
    assert.equal(doc.module.length, 33);
    assert.deepEqual(
      doc.module.map((m) => m.name),
      fleet.modules.map((m) => m.name),
    );
    for (const m of doc.module) assert.notEqual(m.data, '');
  }
});

test("the project's own parser accepts the files, both encodings", () => {
  const fleet = createFleet({ agents: 40, seed: 11, windowsShare: 0.5, startEpoch: 1_700_000_000 });
  const styles = new Set<string>();
  for (const passIndex of [0, 1]) {
    for (const file of fleet.pass(passIndex).files()) {
      styles.add(file.style);
      const packet = parseAgentXml(file.bytes, { mtimeSec: 0, nowSec: 1_700_000_000 });
      assert.equal(packet.agentName, file.agentName);
      assert.equal(packet.modules.length, 33);
      assert.equal(packet.time.epoch, 1_700_000_000 + passIndex * 300);
      const names = packet.modules.map((m) => m.name);
      const expected = fleet.modules.map((m) => (file.style === 'windows' ? m.latin1Name : m.name));
      assert.deepEqual(names, expected);
      for (const m of packet.modules) assert.ok(m.data[0]?.value !== undefined);
    }
  }
  assert.deepEqual([...styles].sort(), ['unix', 'windows']);
});

test('Windows-style files are real ISO-8859-1 bytes with the matching declaration', () => {
  const fleet = createFleet({ agents: 20, seed: 5, windowsShare: 1 });
  const file = fleet.pass(0).files().next().value;
  assert.ok(file);
  assert.equal(file.style, 'windows');
  const head = file.bytes.subarray(0, 60).toString('latin1');
  assert.match(head, /^<\?xml version="1\.0" encoding="ISO-8859-1"\?>/);
  // "ú" of "último_acceso" is the single byte 0xFA in Latin-1, not UTF-8's C3 BA.
  assert.ok(file.bytes.includes(Buffer.from([0xfa])), 'Latin-1 byte of ú present');
  assert.ok(!file.bytes.includes(Buffer.from('ú', 'utf8')), 'no UTF-8 sequence of ú');
  const text = new TextDecoder('iso-8859-1').decode(file.bytes);
  assert.ok(text.includes('<name><![CDATA[último_acceso]]></name>'), 'decodes to the name');
  assert.ok(text.includes('servicio_01_en_ejecución'), 'decodes to the proc name');
  // Decoded as UTF-8 the same bytes are invalid: the encoding really matters.
  assert.throws(() => new TextDecoder('utf-8', { fatal: true }).decode(file.bytes));
});

test('Unix-style files are UTF-8 with the Unix agent declaration', () => {
  const file = createFleet({ agents: 1, seed: 5 }).pass(0).files().next().value;
  assert.ok(file);
  assert.equal(file.style, 'unix');
  assert.match(
    file.bytes.toString('utf8'),
    /^<\?xml version='1\.0' encoding='UTF-8'\?>\n<agent_data /,
  );
});

test('file names follow the agent conventions, are unique and Tentacle-safe', () => {
  const fleet = createFleet({ agents: 50, seed: 1, startEpoch: 1_700_000_000 });
  const names = new Set<string>();
  for (const passIndex of [0, 1, 2]) {
    for (const file of fleet.pass(passIndex).files()) {
      const match = DATA_FILE_NAME.exec(file.name);
      assert.ok(match, file.name);
      assert.equal(match[1], file.agentName, 'the agent key is the agent name');
      assert.doesNotMatch(file.name, TENTACLE_FORBIDDEN);
      names.add(file.name);
    }
  }
  assert.equal(names.size, 150);
  assert.equal(dataFileName('web-01', 1709287200, 'agent'), 'web-01.1709287200.data');
  assert.equal(dataFileName('web-01', 1709287200, 'stress'), 'web-01_1709287200.data');
  assert.match(dataFileName('web-01', 1709287200, 'md5'), /^[0-9a-f]{32}\.1709287200\.data$/);
});

test('same seed, same bytes; another seed, other values', () => {
  const a = [...createFleet({ agents: 5, seed: 9, startEpoch: 1e9 }).pass(0).files()];
  const b = [...createFleet({ agents: 5, seed: 9, startEpoch: 1e9 }).pass(0).files()];
  const c = [...createFleet({ agents: 5, seed: 10, startEpoch: 1e9 }).pass(0).files()];
  assert.deepEqual(
    a.map((f) => f.bytes),
    b.map((f) => f.bytes),
  );
  assert.notDeepEqual(
    a.map((f) => f.bytes),
    c.map((f) => f.bytes),
  );
  // A subset of a pass is the same as the same agents in the full pass.
  const fleet = createFleet({ agents: 5, seed: 9, startEpoch: 1e9 });
  assert.deepEqual(fleet.pass(0).files(2, 4).next().value?.bytes, a[2]?.bytes);
});

test('RANDOM and SCATTER stay within their ranges and SCATTER hits avg about (100 - prob) %', () => {
  const rng = createRng(42);
  const random: ModuleProfile = { kind: 'random', min: 10, max: 20 };
  const seen = new Set<number>();
  for (let i = 0; i < 5000; i++) {
    const v = Number(drawValue(random, rng));
    assert.ok(Number.isInteger(v) && v >= 10 && v <= 20, String(v));
    seen.add(v);
  }
  assert.equal(seen.size, 11, 'every value of the range shows up');
  const scatter: ModuleProfile = { kind: 'scatter', prob: 20, avg: 7, min: 50, max: 60 };
  let atAvg = 0;
  const draws = 20_000;
  for (let i = 0; i < draws; i++) {
    const v = Number(drawValue(scatter, rng));
    if (v === 7) atAvg += 1;
    else assert.ok(v >= 50 && v <= 60, String(v));
  }
  assert.ok(Math.abs(atAvg / draws - 0.8) < 0.02, `avg share ${atAvg / draws}`);
  const text = drawValue({ kind: 'string', minLength: 8, maxLength: 16 }, rng);
  assert.match(text, /^[A-Za-z0-9]{8,16}$/);
});

test('the change rate is the fraction of values that differ between passes', () => {
  for (const rate of [0, 0.1, 0.5, 1]) {
    const fleet = createFleet({ agents: 200, seed: 17, changeRate: rate });
    const values = (p: number) =>
      [...fleet.pass(p).files()].flatMap((f) =>
        plainParse(f.bytes.toString('utf8')).agent_data.module.map((m) => m.data),
      );
    const first = values(0);
    const second = values(1);
    let changed = 0;
    first.forEach((v, i) => {
      if (second[i] !== v) changed += 1;
    });
    const observed = changed / first.length;
    assert.ok(Math.abs(observed - rate) < 0.02, `rate ${rate}: observed ${observed}`);
  }
});

test('nextValue flips booleans and never "changes" to the same value', () => {
  const rng = createRng(1);
  const bool: ModuleProfile = { kind: 'random', min: 0, max: 1 };
  for (let i = 0; i < 100; i++) assert.equal(nextValue(bool, '0', rng, 1), '1');
  const constant: ModuleProfile = { kind: 'constant', value: 'x' };
  assert.equal(nextValue(constant, 'x', rng, 1), 'x');
  // Without a change rate every pass is a fresh draw (the reference tool's behaviour).
  const wide: ModuleProfile = { kind: 'random', min: 0, max: 1_000_000 };
  assert.notEqual(nextValue(wide, '5', rng, undefined), '5');
});

test('timestamps: Unix agents write slashes, Windows agents dashes, both in local time', () => {
  const fleet = createFleet({ agents: 30, seed: 2, windowsShare: 0.5, startEpoch: 1_700_000_000 });
  const pass = fleet.pass(1);
  assert.equal(pass.timestamp, formatLocal(new Date(1_700_000_300_000), '/'));
  assert.equal(pass.sqlTimestamp, pass.timestamp.replaceAll('/', '-'));
  for (const file of pass.files()) {
    const text = file.bytes.toString(file.style === 'windows' ? 'latin1' : 'utf8');
    const expected = file.style === 'windows' ? pass.sqlTimestamp : pass.timestamp;
    assert.ok(text.includes(`timestamp='${expected}'`), file.name);
  }
});

test('writeFiles writes each file atomically under its own name', async (t) => {
  const dir = tempDir('bench-gen-');
  t.after(() => {
    dir.cleanup();
  });
  const fleet = createFleet({ agents: 4, seed: 1 });
  const files = [...fleet.pass(0).files()];
  assert.equal(await writeFiles(files, dir.path), 4);
  const names = readdirSync(dir.path).sort();
  assert.deepEqual(names, files.map((f) => f.name).sort());
  const first = files[0];
  assert.ok(first);
  assert.deepEqual(readFileSync(join(dir.path, first.name)), first.bytes);
});
