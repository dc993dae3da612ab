import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { X, dropFile, mod, packet, startHarness, type Harness } from './harness.js';

// Spec §9, cases 1–25 (files, parsing, agents) from spool files to rows, on a real MariaDB.

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

async function reset(overrides: Record<string, string> = {}): Promise<void> {
  for (const t of [
    'tagente',
    'tagente_modulo',
    'tagente_estado',
    'tagente_datos',
    'tagente_datos_string',
    'tevento',
    'taddress',
    'taddress_agent',
    'tagente_datos_inc',
    'tingest_ledger',
  ]) {
    await h.db.pool.query(`DELETE FROM ${t}`);
  }
  await h.restart(overrides); // empty cache
}

const count = async (sql: string, values: unknown[] = []) =>
  Number((await h.rows(sql, values))[0]?.['n']);

test('1: the name filter leaves non-data files alone and consumes a_1.data', async () => {
  await reset();
  for (const name of ['a.data', 'a_1.DATA', 'a_1.data.part', 'a_1.data_BADXML'])
    dropFile(h.dir, name, X('10:00:00', '5'));
  dropFile(h.dir, 'a_1.data', X('10:00:00', '5'));
  await h.ds.drain();
  const left = readdirSync(h.dir)
    .filter((n) => !n.startsWith('.'))
    .sort();
  assert.deepEqual(left, ['a.data', 'a_1.DATA', 'a_1.data.part', 'a_1.data_BADXML']);
  assert.equal(await count('SELECT COUNT(*) n FROM tagente'), 1);
});

for (const [label, content] of [
  ['2: malformed XML', X('10:00:00', '5').replace('</agent_data>', '')],
  ['3: empty file', ''],
  [
    '6: invalid UTF-8 byte',
    Buffer.concat([Buffer.from(X('10:00:00', '5').replace("'5'", '')), Buffer.from([0xe9])]),
  ],
  [
    '9: XML bomb',
    `<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><agent_data agent_name='host1'>&lol2;</agent_data>`,
  ],
  [
    '10: external entity',
    `<?xml version='1.0'?><!DOCTYPE x [<!ENTITY x SYSTEM "file:///etc/passwd">]><agent_data agent_name='host1'><module><name>a</name><data>&x;</data></module></agent_data>`,
  ],
  [
    '12: root not agent_data',
    `<?xml version='1.0'?><foo agent_name='x'><module><name>a</name><data>1</data></module></foo>`,
  ],
] as const) {
  test(`${label} → <name>_BADXML, one error event, nothing else`, async () => {
    await reset();
    const bytes = typeof content === 'string' && label.startsWith('6') ? content : content;
    const [name] = await h.feed(bytes);
    assert.ok(existsSync(join(h.dir, `${name}_BADXML`)), 'renamed _BADXML');
    assert.equal(readdirSync(h.config.incomingDir + '/.processing/pandora01').length, 0);
    const events = await h.rows(
      'SELECT event_type, criticity, id_agente, id_grupo, estado, evento FROM tevento',
    );
    assert.equal(events.length, 1);
    assert.deepEqual(
      { ...events[0] },
      {
        event_type: 'error',
        criticity: 0,
        id_agente: 0,
        id_grupo: 0,
        estado: 0,
        evento: `Unable&#x20;to&#x20;process&#x20;XML&#x20;data&#x20;file&#x20;&#039;${name}&#039;.`,
      },
    );
    assert.equal(await count('SELECT COUNT(*) n FROM tagente'), 0);
  });
}

test('11: an oversized file goes to _BADXML unparsed', async () => {
  await reset({ max_xml_size: '1000' });
  const [name] = await h.feed(
    X('10:00:00', '5', { module: `<description>${'x'.repeat(1500)}</description>` }),
  );
  assert.ok(existsSync(join(h.dir, `${name}_BADXML`)));
  await h.restart({ max_xml_size: String(16 * 1024 * 1024) });
});

test('4/5/13: a missing or empty agent name deletes the file, no rows, no event', async () => {
  await reset();
  const names = await h.feed(
    X('10:00:00', '5').replace("agent_name='host1'", ''),
    X('10:00:00', '5').replace("agent_name='host1'", "agent_name=''"),
    X('10:00:00', '5')
      .replace("agent_name='host1'", '')
      .replace('<module>', '<agent_name>x</agent_name><module>'),
  );
  for (const n of names)
    assert.ok(!existsSync(join(h.dir, n)) && !existsSync(join(h.dir, `${n}_BADXML`)));
  assert.equal(await count('SELECT COUNT(*) n FROM tagente'), 0);
  assert.equal(await count('SELECT COUNT(*) n FROM tevento'), 0);
});

test('14 + 25: creation of agent, module, status row and first datum', async () => {
  await reset();
  const before = Math.floor(Date.now() / 1000);
  await h.feed(X('10:00:00', '5'));
  const [a] = await h.rows('SELECT * FROM tagente');
  assert.ok(a);
  assert.equal(a['nombre'], 'host1');
  assert.equal(a['alias'], 'host1');
  assert.equal(a['id_grupo'], 2);
  assert.equal(a['id_os'], 1);
  assert.equal(a['modo'], 1);
  assert.equal(a['intervalo'], 300);
  assert.equal(a['server_name'], 'pandora01');
  assert.equal(a['ultimo_contacto_remoto'], '2024-03-01 10:00:00');
  assert.equal(a['update_module_count'], 1);
  const events = await h.rows('SELECT event_type, criticity, id_grupo, evento FROM tevento');
  assert.deepEqual(
    events.map((e) => ({ ...e })),
    [
      {
        event_type: 'new_agent',
        criticity: 2,
        id_grupo: 2,
        evento: 'Agent&#x20;&#91;host1&#93;&#x20;created&#x20;by&#x20;pandora01'
          .replace('&#91;', '[')
          .replace('&#93;', ']'),
      },
    ],
  );
  const [m] = await h.rows('SELECT * FROM tagente_modulo');
  assert.ok(m);
  assert.equal(m['id_tipo_modulo'], 1);
  assert.equal(m['nombre'], 'cpu');
  assert.equal(m['id_modulo'], 1);
  assert.equal(m['module_interval'], 300);
  assert.equal(m['history_data'], 1);
  const [e] = await h.rows('SELECT * FROM tagente_estado');
  assert.ok(e);
  assert.equal(e['datos'], '5.00000');
  for (const c of ['estado', 'known_status', 'last_status', 'last_known_status', 'status_changes'])
    assert.equal(e[c], 0, c);
  assert.equal(e['timestamp'], '2024-03-01 10:00:00');
  assert.equal(e['last_try'], '2024-03-01 10:00:00');
  assert.equal(Number(e['last_execution_try']), 1709287200);
  assert.equal(e['current_interval'], 300);
  assert.equal(e['running_by'], h.ds.serverId);
  assert.ok(Number(e['utimestamp']) >= before);
  assert.equal(Number(e['last_status_change']), 1709287200);
  const data = await h.rows('SELECT datos, utimestamp FROM tagente_datos');
  assert.deepEqual(
    data.map((r) => [r['datos'], Number(r['utimestamp'])]),
    [[5, 1709287200]],
  );
});

test('7: ISO-8859-1 agent name is stored encoded and found again from UTF-8', async () => {
  await reset();
  const latin = Buffer.concat([
    Buffer.from("<?xml version='1.0' encoding='ISO-8859-1'?><agent_data agent_name='h"),
    Buffer.from([0xe9]),
    Buffer.from(
      "' group='Servers' timestamp='2024/03/01 10:00:00'><module><name>cpu</name><data>1</data></module></agent_data>",
    ),
  ]);
  await h.feed(
    latin,
    "<?xml version='1.0' encoding='UTF-8'?><agent_data agent_name='hé' group='Servers' timestamp='2024/03/01 10:05:00'><module><name>cpu</name><data>2</data></module></agent_data>",
  );
  const agents = await h.rows('SELECT nombre FROM tagente');
  assert.deepEqual(
    agents.map((r) => r['nombre']),
    ['h&eacute;'],
  );
});

test('15: alias and encoding; a name differing only in case maps to the same agent', async () => {
  await reset();
  const base = (name: string, t: string) =>
    `<?xml version='1.0'?><agent_data agent_name='${name}' agent_alias='DB main' group='Servers' timestamp='2024/03/01 ${t}'>${mod('cpu', 'generic_data', '1')}</agent_data>`;
  await h.feed(
    base('db (main)', '10:00:00'),
    base('db (main)', '10:05:00'),
    base('DB (MAIN)', '10:10:00'),
  );
  const agents = await h.rows('SELECT nombre, alias FROM tagente');
  assert.deepEqual(
    agents.map((r) => ({ ...r })),
    [{ nombre: 'db&#x20;&#40;main&#41;', alias: 'DB&#x20;main' }],
  );
  assert.equal(await count('SELECT COUNT(*) n FROM tagente_modulo'), 1);
});

test('16: unknown group falls back to autocreate_group', async () => {
  await reset();
  await h.feed(X('10:00:00', '5').replace("group='Servers'", "group='Nope'"));
  assert.equal((await h.rows('SELECT id_grupo FROM tagente'))[0]?.['id_grupo'], 10);
});

test('17: autocreate 0 writes nothing and deletes the file', async () => {
  await reset({ autocreate: '0' });
  const [name] = await h.feed(X('10:00:00', '5'));
  assert.ok(!existsSync(join(h.dir, name ?? '')));
  assert.equal(await count('SELECT COUNT(*) n FROM tagente'), 0);
  assert.equal(await count('SELECT COUNT(*) n FROM tevento'), 0);
  await h.restart();
});

test('18: learning mode updates interval, versions and module interval, not os/group', async () => {
  await reset();
  await h.feed(X('10:00:00', '5'));
  await h.feed(
    X('10:05:00', '6', { attrs: "version='7.1' os_version='X'" })
      .replace("interval='300'", "interval='60'")
      .replace("os_name='Linux'", "os_name='Windows'")
      .replace("group='Servers'", "group='Unknown'"),
  );
  const [a] = await h.rows(
    'SELECT intervalo, agent_version, os_version, id_os, id_grupo FROM tagente',
  );
  assert.deepEqual(
    { ...a },
    { intervalo: 60, agent_version: '7.1', os_version: 'X', id_os: 1, id_grupo: 2 },
  );
  assert.equal(
    (await h.rows('SELECT module_interval FROM tagente_modulo'))[0]?.['module_interval'],
    60,
  );
});

test('20/21: a disabled agent is left alone; an autodisable one comes back', async () => {
  await reset();
  await h.feed(X('10:00:00', '5'));
  await h.db.pool.query('UPDATE tagente SET disabled = 1, modo = 1');
  await h.restart();
  await h.feed(X('10:05:00', '6'));
  const [a] = await h.rows('SELECT ultimo_contacto_remoto, disabled FROM tagente');
  assert.equal(a?.['ultimo_contacto_remoto'], '2024-03-01 10:00:00');
  await h.db.pool.query('UPDATE tagente SET modo = 2');
  await h.restart();
  await h.feed(X('10:10:00', '7'));
  const [b] = await h.rows('SELECT ultimo_contacto_remoto, disabled FROM tagente');
  assert.deepEqual({ ...b }, { ultimo_contacto_remoto: '2024-03-01 10:10:00', disabled: 0 });
  assert.equal(await count('SELECT COUNT(*) n FROM tagente_datos'), 2);
});

test('22: addresses: main address, taddress rows, no duplicates on repeat', async () => {
  await reset();
  const attrs = { attrs: "address='10.0.0.1, 10.0.0.2'" };
  await h.feed(X('10:00:00', '5', attrs));
  await h.restart();
  await h.feed(X('10:05:00', '5', attrs));
  assert.equal((await h.rows('SELECT direccion FROM tagente'))[0]?.['direccion'], '10.0.0.1');
  assert.deepEqual(
    (await h.rows('SELECT ip FROM taddress ORDER BY ip')).map((r) => r['ip']),
    ['10.0.0.1', '10.0.0.2'],
  );
  assert.equal(await count('SELECT COUNT(*) n FROM taddress_agent'), 2);
});

test('70: strict mode: empty numeric and text tags create the module', async () => {
  await reset();
  await h.feed(
    packet(
      '10:00:00',
      mod('cpu', 'generic_data', '5', '<min_critical></min_critical><unit></unit>'),
    ),
  );
  const [m] = await h.rows('SELECT min_critical, unit FROM tagente_modulo');
  assert.deepEqual({ ...m }, { min_critical: 0, unit: '' });
  assert.equal(await count('SELECT COUNT(*) n FROM tagente_datos'), 1);
});
