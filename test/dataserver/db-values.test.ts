// Issue 12 defect 3: values the database would refuse (lengths, ranges, encodings) are checked
// against the schema before the batch. Lookup keys past their column → _BADXML with an event
// naming the field and the limit; other text cut on a character boundary; numbers clamped or
// rejected. Never _FAILED (the path for our own bugs). Real MariaDB in strict mode.
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { COLUMN_LIMITS, textSize } from '../../src/db/column-limits.js';
import { fitPacketToSchema } from '../../src/dataserver/logic/schema-fit.js';
import { parseAgentXml } from '../../src/dataserver/xml/index.js';
import { safeInput, safeOutput } from '../../src/pandora/index.js';
import { dbRetries, packet, startHarness, type Harness } from './harness.js';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');

function agentXml(name: string, modules = '', attrs = ''): string {
  return `<?xml version='1.0' encoding='UTF-8'?>\n<agent_data agent_name='${esc(name)}' group='Servers' os_name='Linux' interval='300' timestamp='2024/03/01 10:00:00' ${attrs}>${modules}</agent_data>`;
}

function moduleXml(name: string, type: string, data: string, tags = ''): string {
  return `<module><name>${esc(name)}</name><type>${type}</type>${tags}<data>${esc(data)}</data></module>`;
}

function spoolLeft(): string[] {
  return readdirSync(h.dir).filter((n) => !n.startsWith('.'));
}

/** Empties the tables and the spool (files set aside by the previous case). */
async function reset(overrides: Record<string, string> = {}): Promise<void> {
  for (const n of spoolLeft()) rmSync(join(h.dir, n));
  await h.reset(overrides);
}

async function errorEvents(): Promise<string[]> {
  const rows = await h.rows("SELECT evento FROM tevento WHERE event_type = 'error' ORDER BY 1");
  return rows.map((r) => safeOutput(String(r['evento'])));
}

test('a 700-character agent name → _BADXML with an event naming the limit; the next packet is ingested', async () => {
  await reset();
  const long = 'a'.repeat(700);
  const [bad, good] = await h.feed(
    agentXml(long, moduleXml('cpu', 'generic_data', '1')),
    agentXml('host1', moduleXml('cpu', 'generic_data', '2')),
  );
  assert.ok(bad !== undefined && good !== undefined);
  assert.deepEqual(spoolLeft(), [`${bad}_BADXML`], 'bad file set aside, good file consumed');
  assert.deepEqual(await errorEvents(), [
    `Unable to process XML data file '${bad}': agent_name is 700 characters once encoded; tagente.nombre holds 600 characters.`,
  ]);
  const agents = await h.rows('SELECT nombre FROM tagente');
  assert.deepEqual(
    agents.map((r) => r['nombre']),
    ['host1'],
  );
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos'), 1);
  assert.equal(await h.count('SELECT COUNT(*) n FROM tingest_ledger'), 2, 'both ledgered');
  assert.equal(await dbRetries(h, 'error'), 0, 'the database never refused a batch');
});

test('the limit applies to the encoded name: 101 spaces are 606 characters once encoded', async () => {
  await reset();
  const exactly = `${'x'.repeat(594)} `; // 594 + 6 = 600: fits
  const over = `${'x'.repeat(595)} `; // 601
  const [fits, refused] = await h.feed(
    agentXml(exactly, moduleXml('cpu', 'generic_data', '1')),
    agentXml(over, moduleXml('cpu', 'generic_data', '1')),
  );
  assert.deepEqual(spoolLeft(), [`${refused ?? ''}_BADXML`]);
  assert.ok(fits);
  const [row] = await h.rows('SELECT nombre FROM tagente');
  const stored = String(row?.['nombre']);
  assert.equal(stored, safeInput(exactly));
  assert.equal(textSize(stored, COLUMN_LIMITS.tagente.nombre), 600);
});

test('a module name past tagente_modulo.nombre (65535 bytes encoded) → _BADXML with an event', async () => {
  await reset();
  const name = `m${' '.repeat(11_000)}`; // 1 + 66,000 bytes once encoded
  const [bad] = await h.feed(agentXml('host1', moduleXml(name, 'generic_data', '1')));
  assert.deepEqual(spoolLeft(), [`${bad ?? ''}_BADXML`]);
  const [event] = await errorEvents();
  assert.match(
    event ?? '',
    /module name 'm {39}…' is 66001 bytes once encoded; tagente_modulo\.nombre holds 65535 bytes\.$/,
  );
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente'), 0);
});

test('long text is cut on a character boundary where the reference truncated it', async () => {
  await reset();
  const emoji = '😀'.repeat(300);
  const tags = `<description>${'é'.repeat(40_000)}</description><unit>${'u'.repeat(70_000)}</unit><str_critical>${'😀'.repeat(20_000)}</str_critical><custom_id>${'c'.repeat(300)}</custom_id>`;
  await h.feed(
    agentXml(
      'host1',
      moduleXml('s', 'generic_data_string', '😀'.repeat(20_000), tags) +
        moduleXml('n', 'generic_data', '1'),
      `description='${emoji}' os_version='${'o'.repeat(150)}' version='${'😀'.repeat(120)}' address='${'1'.repeat(120)}' agent_alias='${'a&amp;'.repeat(200)}' custom_id='${'x'.repeat(256)}'`,
    ),
  );
  assert.deepEqual(spoolLeft(), []);
  const [agent] = await h.rows(
    'SELECT alias, comentarios, os_version, agent_version, direccion, custom_id FROM tagente',
  );
  assert.ok(agent);
  assert.equal(agent['comentarios'], '😀'.repeat(255));
  assert.equal(agent['os_version'], 'o'.repeat(100));
  assert.equal(agent['agent_version'], '😀'.repeat(100));
  assert.equal(agent['direccion'], '1'.repeat(100));
  assert.equal(agent['custom_id'], 'x'.repeat(255));
  // 'a&amp;' ×120 = 600 characters, and no entity is left half-written.
  assert.equal(agent['alias'], 'a&amp;'.repeat(100));
  const [ip] = await h.rows('SELECT ip FROM taddress');
  assert.equal(ip?.['ip'], '1'.repeat(60));
  const [m] = await h.rows(
    "SELECT descripcion, unit, str_critical, custom_id FROM tagente_modulo WHERE nombre = 's'",
  );
  assert.ok(m);
  assert.equal(m['descripcion'], 'é'.repeat(32_767)); // 65,534 bytes: one more would be 65,536
  assert.equal(m['unit'], 'u'.repeat(65_535));
  assert.equal(m['str_critical'], '😀'.repeat(16_383));
  assert.equal(m['custom_id'], 'c'.repeat(255));
  const [s] = await h.rows('SELECT datos FROM tagente_datos_string');
  assert.equal(s?.['datos'], '😀'.repeat(20_000), 'MEDIUMTEXT holds it whole');
  assert.equal(await dbRetries(h, 'error'), 0);
});

test('emoji and other 4-byte characters are stored as they came (utf8mb4) and found again', async () => {
  await reset();
  const name = 'h😀st 𝄞';
  await h.feed(
    agentXml(name, moduleXml('cpu 😀', 'generic_data_string', '𝄞 ok')),
    agentXml(name, moduleXml('cpu 😀', 'generic_data_string', '𝄞 ok 2')),
  );
  const agents = await h.rows('SELECT nombre FROM tagente');
  assert.deepEqual(
    agents.map((r) => r['nombre']),
    [safeInput(name)],
  );
  const modules = await h.rows('SELECT nombre FROM tagente_modulo');
  assert.deepEqual(
    modules.map((r) => r['nombre']),
    [safeInput('cpu 😀')],
  );
  const data = await h.rows('SELECT datos FROM tagente_datos_string ORDER BY utimestamp');
  assert.deepEqual(
    data.map((r) => r['datos']),
    ['𝄞 ok', '𝄞 ok 2'],
  );
});

test('numbers past their columns are clamped or rejected, never sent to the database', async () => {
  await reset();
  const hugeInterval =
    "agent_name='host1' group='Servers' os_name='Linux' interval='99999999999999999999'";
  const limits =
    '<min>1e30</min><max>-1e30</max><min_warning>1e400</min_warning><post_process>1e300</post_process>';
  await h.feed(
    packet(
      '10:00:00',
      moduleXml('big', 'generic_data', '1e300', limits) +
        moduleXml('inc', 'generic_data_inc_abs', '-1.7e308') +
        moduleXml('ok', 'generic_data', '5'),
      hugeInterval,
    ),
    packet(
      '10:05:00',
      moduleXml('inc', 'generic_data_inc_abs', '1.7e308') + moduleXml('ok', 'generic_data', '6'),
      hugeInterval,
    ),
  );
  assert.deepEqual(spoolLeft(), []);
  const [agent] = await h.rows('SELECT intervalo FROM tagente');
  assert.equal(Number(agent?.['intervalo']), 4_294_967_295);
  const [big] = await h.rows(
    "SELECT `min`, `max`, min_warning, post_process FROM tagente_modulo WHERE nombre = 'big'",
  );
  assert.equal(String(big?.['min']), '9223372036854775000');
  assert.equal(String(big?.['max']), '-9223372036854775000');
  assert.equal(Number(big?.['min_warning']), 0, '1e400 is not a number the reference reads');
  assert.equal(Number(big?.['post_process']), 1e300);
  // 1e300 × 1e300 and 1.7e308 − (−1.7e308) overflow a DOUBLE: rejected like a non-number.
  const history = await h.rows(
    'SELECT m.nombre, d.datos FROM tagente_datos d JOIN tagente_modulo m USING (id_agente_modulo) ORDER BY d.utimestamp',
  );
  assert.deepEqual(
    history.map((r) => [r['nombre'], Number(r['datos'])]),
    [
      ['ok', 5],
      ['ok', 6],
    ],
  );
  assert.equal(await dbRetries(h, 'error'), 0);
});

test('timestamps past year 9999 fall back as invalid ones do, never reach a DATETIME', async () => {
  await reset();
  const datalist = `<module><name>dl</name><type>generic_data</type><datalist><data><value>1</value><timestamp>9999/12/31 23:00:00</timestamp></data><data><value>2</value><timestamp>2024/03/01 09:00:00</timestamp></data></datalist></module>`;
  await h.feed(
    agentXml('host1', datalist, "timezone_offset='14'").replace(
      "timestamp='2024/03/01 10:00:00'",
      "timestamp='9999/12/31 23:00:00'",
    ),
  );
  assert.deepEqual(spoolLeft(), []);
  const [agent] = await h.rows('SELECT ultimo_contacto_remoto FROM tagente');
  assert.ok(String(agent?.['ultimo_contacto_remoto']).startsWith('2024-'), 'file mtime used');
  const data = await h.rows('SELECT datos FROM tagente_datos');
  assert.deepEqual(
    data.map((r) => Number(r['datos'])),
    [2],
    'the item past 9999 skipped',
  );
});

test('bytes no column could hold (invalid UTF-8, NUL, lone surrogates) → _BADXML, never the database', async () => {
  await reset();
  const doc = (v: string) => agentXml('host1', moduleXml('s', 'generic_data_string', v));
  const utf16 = Buffer.concat([
    Buffer.from([0xff, 0xfe]),
    Buffer.from(doc('a\ud800b').replace("encoding='UTF-8'", "encoding='UTF-16'"), 'utf16le'),
  ]);
  const names = await h.feed(
    Buffer.from(doc('h\xe9'), 'latin1'), // declared UTF-8, byte 0xE9
    doc('a\u0000b'),
    doc('a&#0;b').replace('&amp;#0;', '&#0;'),
    doc('a&#xD800;b').replace('&amp;#xD800;', '&#xD800;'),
    utf16,
    doc('fine'),
  );
  assert.deepEqual(
    spoolLeft().sort(),
    names
      .slice(0, 5)
      .map((n) => `${n}_BADXML`)
      .sort(),
  );
  assert.equal((await errorEvents()).length, 5);
  assert.deepEqual(
    (await h.rows('SELECT datos FROM tagente_datos_string')).map((r) => r['datos']),
    ['fine'],
  );
  assert.equal(await dbRetries(h, 'error'), 0);
});

test('a datum past MEDIUMTEXT is cut to 16 MiB − 1 bytes; a packet that fits is passed on as is', () => {
  const xml = agentXml('host1', moduleXml('s', 'generic_data_string', 'v'));
  const parsed = parseAgentXml(Buffer.from(xml), {
    mtimeSec: 1_709_280_000,
    nowSec: 1_709_280_000,
  });
  const same = fitPacketToSchema(parsed);
  assert.equal(same.packet, parsed, 'no copy when nothing needs fitting');
  const [m] = parsed.modules;
  assert.ok(m);
  const huge = `${'é'.repeat(8 * 1024 * 1024)}x`; // 16 MiB + 1 byte
  const fitted = fitPacketToSchema({
    ...parsed,
    modules: [{ ...m, data: [{ value: huge, epoch: 1_709_280_000 }] }],
  });
  const value = fitted.packet?.modules[0]?.data[0]?.value ?? '';
  assert.equal(value.length, 8_388_607);
  assert.equal(Buffer.byteLength(value), 16_777_214); // 'é' is 2 bytes: one more would not fit
  assert.deepEqual(fitted.packet?.warnings, ["module 's' data cut to 16777215 bytes"]);
});

test('a packet with thousands of cuts names ten of them and counts the rest', () => {
  let modules = '';
  for (let i = 0; i < 30; i++) {
    modules += moduleXml(
      `m${String(i)}`,
      'generic_data',
      '1',
      `<custom_id>${'c'.repeat(300)}</custom_id>`,
    );
  }
  const parsed = parseAgentXml(Buffer.from(agentXml('host1', modules)), {
    mtimeSec: 1_709_280_000,
    nowSec: 1_709_280_000,
  });
  const warnings = fitPacketToSchema(parsed).packet?.warnings ?? [];
  assert.equal(warnings.length, 11);
  assert.equal(warnings[0], "module 'm0' custom_id cut to 255 characters");
  assert.equal(warnings[10], '20 more values cut to their columns');
});
