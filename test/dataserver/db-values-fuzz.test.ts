// Property (issue 12): for any packet the dataserver accepts, the database write does not fail
// with a data error. Seeded random packets built from hostile values (lengths around every
// limit, 4-byte characters, entities, numbers past every range, timestamps at the DATETIME
// edges, invalid bytes) go through the whole pipeline into a strict-mode MariaDB: each file is
// committed or set aside as _BADXML with its event, never _FAILED, and no batch is refused.
// DB_VALUES_FUZZ_RUNS / DB_VALUES_FUZZ_SEED run a longer campaign.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { dbRetries, startHarness, type Harness } from './harness.js';

const RUNS = Number(process.env['DB_VALUES_FUZZ_RUNS'] ?? 60);
const SEED = Number(process.env['DB_VALUES_FUZZ_SEED'] ?? 12);

/** mulberry32: small, seeded, good enough to pick test values. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One character of each UTF-8 width, plus the ones safe_input and XML encode. */
const ALL = ['a', '😀', ' ', 'é', '&', '€'];

class Gen {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = rng(seed);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** Text of a length near one of the column limits, from characters of every UTF-8 width. */
  text(): string {
    const length = this.pick([0, 1, 7, 59, 61, 99, 101, 254, 256, 599, 601, 16_384, 65_536]);
    const unit = this.pick([['a'], [' '], ['é'], ['€'], ['😀'], ['&'], ["'"], ['<'], ALL]);
    let out = '';
    for (let i = 0; i < length; i++) out += unit[i % unit.length] ?? '';
    return out;
  }
  number(): string {
    return this.pick([
      '1',
      '-0',
      '3.14159',
      '1,5',
      '1e300',
      '-1.7e308',
      '1.7e308',
      '1e400',
      '-1e400',
      'NaN',
      'Infinity',
      '0x10',
      '99999999999999999999',
      '',
      ' 42 ',
    ]);
  }
}

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');

const TYPES = [
  'generic_data',
  'generic_data_string',
  'generic_data_inc',
  'generic_data_inc_abs',
  'generic_proc',
  'async_string',
  'async_data',
  'keep_alive',
  'no_such_type',
];
const NUMBER_TAGS = [
  'min',
  'max',
  'post_process',
  'min_warning',
  'max_warning',
  'min_critical',
  'max_critical',
  'min_ff_event',
  'ff_timeout',
  'module_interval',
  'module_ff_interval',
];
const TEXT_TAGS = [
  'description',
  'unit',
  'str_warning',
  'str_critical',
  'custom_id',
  'critical_instructions',
  'warning_instructions',
  'unknown_instructions',
  'module_group',
  'tags',
  'module_parent',
  'some_unknown_tag',
];
const TIMES = [
  '2024/03/01 10:00:00',
  '9999/12/31 23:59:59',
  '0000/01/01 00:00:00',
  '0001/01/01 00:00:00',
  '2024/02/30 10:00:00',
  'AUTO',
  'garbage',
];

function moduleXml(g: Gen): string {
  const name = g.chance(0.05) ? `m${' '.repeat(11_000)}` : g.chance(0.5) ? g.text() : 'cpu';
  let tags = '';
  for (const tag of NUMBER_TAGS) if (g.chance(0.2)) tags += `<${tag}>${g.number()}</${tag}>`;
  for (const tag of TEXT_TAGS) if (g.chance(0.2)) tags += `<${tag}>${esc(g.text())}</${tag}>`;
  if (g.chance(0.1)) tags += `<crontab>${g.pick(['* * * * *', '1-5 * * * *', g.text()])}</crontab>`;
  const value = () => esc(g.chance(0.5) ? g.number() : g.text());
  let data = `<data>${value()}</data>`;
  if (g.chance(0.3)) {
    data = '<datalist>';
    for (let i = g.int(0, 3); i > 0; i--) {
      data += `<data><value>${value()}</value><timestamp>${g.pick(TIMES)}</timestamp></data>`;
    }
    data += '</datalist>';
  }
  return `<module><name>${esc(name)}</name><type>${g.pick(TYPES)}</type>${tags}${data}</module>`;
}

function packetXml(g: Gen): Buffer {
  const name = g.chance(0.2) ? g.text() || 'x' : g.pick(['host1', 'host2', 'h😀st', 'h é&']);
  const attrs: string[] = [`agent_name='${esc(name)}'`, "group='Servers'"];
  const optional: Record<string, () => string> = {
    agent_alias: () => g.text(),
    description: () => g.text(),
    os_name: () => g.pick(['Linux', 'Windows', g.text()]),
    os_version: () => g.text(),
    version: () => g.text(),
    address: () => g.pick(['10.0.0.1', `${g.text()},10.0.0.2`, g.text()]),
    custom_id: () => g.text(),
    url_address: () => g.text(),
    parent_agent_name: () => g.text(),
    interval: () => g.pick(['300', '0', '-5', '4294967296', '99999999999999999999', 'x']),
    timestamp: () => g.pick(TIMES),
    timezone_offset: () => g.pick(['0', '14', '-12', '99', 'x']),
    agent_mode: () => g.pick(['0', '1', '2', '7']),
    satellite_server: () => g.text(),
  };
  for (const [attr, value] of Object.entries(optional)) {
    if (g.chance(0.4)) attrs.push(`${attr}='${esc(value())}'`);
  }
  let modules = '';
  for (let i = g.int(0, 4); i > 0; i--) modules += moduleXml(g);
  if (g.chance(0.2)) {
    const field = esc(g.text());
    modules += `<custom_fields><field><name>${field}</name><value>${esc(g.text())}</value></field></custom_fields>`;
  }
  const xml = Buffer.from(
    `<?xml version='1.0' encoding='UTF-8'?>\n<agent_data ${attrs.join(' ')}>${modules}</agent_data>`,
  );
  // Now and then a byte that is not UTF-8 where a value would be.
  if (g.chance(0.05)) {
    const at = xml.indexOf('>', xml.indexOf('<agent_data')) + 1;
    return Buffer.concat([xml.subarray(0, at), Buffer.from([0xe9]), xml.subarray(at)]);
  }
  return xml;
}

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

test(`${String(RUNS)} hostile packets (seed ${String(SEED)}): committed or _BADXML with an event, never _FAILED`, async (t) => {
  const g = new Gen(SEED);
  const files: Buffer[] = [];
  for (let i = 0; i < RUNS; i++) files.push(packetXml(g));
  const names = await h.feed(...files);
  const left = readdirSync(h.dir).filter((n) => !n.startsWith('.'));
  assert.deepEqual(
    left.filter((n) => !n.endsWith('_BADXML')),
    [],
    'every file committed or set aside as _BADXML',
  );
  const bad = left.length;
  assert.equal(
    await h.count("SELECT COUNT(*) n FROM tevento WHERE event_type = 'error'"),
    bad,
    'one error event per _BADXML file',
  );
  assert.equal(await h.count('SELECT COUNT(*) n FROM tingest_ledger'), names.length);
  assert.equal(await dbRetries(h, 'error'), 0, 'no batch refused by the database');
  // The generator must reach both outcomes, or the property says little.
  assert.ok(bad > 0 && bad < names.length / 2, `${String(bad)} of ${String(names.length)} _BADXML`);
  const agents = await h.count('SELECT COUNT(*) n FROM tagente');
  assert.ok(agents > 0);
  t.diagnostic(
    `${String(names.length - bad)} committed, ${String(bad)} _BADXML, ${String(agents)} agents`,
  );
});
