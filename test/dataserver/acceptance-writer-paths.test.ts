import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { X, mod, packet, startHarness, type Harness } from './harness.js';

// Spec §9 cases that exercise the less common writer paths end to end: parent links, custom
// fields, keep-alive, incremental deltas, post-processing, ranges, name cleaning.

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

test('23: parent_agent_name links to an existing agent; an unknown one leaves it alone', async () => {
  await h.reset();
  await h.feed(X('10:00:00', '1').replace("agent_name='host1'", "agent_name='router'"));
  const [router] = await h.rows("SELECT id_agente FROM tagente WHERE nombre = 'router'");
  await h.feed(X('10:05:00', '5', { attrs: "parent_agent_name='router'" }));
  const parent = async () =>
    (await h.rows("SELECT id_parent FROM tagente WHERE nombre = 'host1'"))[0]?.['id_parent'];
  assert.equal(await parent(), router?.['id_agente']);
  await h.feed(X('10:10:00', '5', { attrs: "parent_agent_name='nope'" }));
  assert.equal(await parent(), router?.['id_agente']);
});

test('24: custom fields: known names upserted, unknown ignored', async () => {
  await h.reset();
  await h.rows('DELETE FROM tagent_custom_data');
  await h.rows('DELETE FROM tagent_custom_fields');
  await h.rows("INSERT INTO tagent_custom_fields (name) VALUES ('Serial')");
  await h.restart(); // the catalog is read at start (and every minute)
  const fields = (v: string) =>
    `<custom_fields><field><name><![CDATA[Serial]]></name><value><![CDATA[${v}]]></value></field><field><name>Nope</name><value>x</value></field></custom_fields>`;
  await h.feed(
    packet('10:00:00', fields('A') + mod('cpu', 'generic_data', '1')),
    packet('10:05:00', fields('B') + mod('cpu', 'generic_data', '1')),
  );
  const rows = await h.rows('SELECT description FROM tagent_custom_data');
  assert.deepEqual(
    rows.map((r) => r['description']),
    ['B'],
  );
});

test('69: a console-created keep-alive module is fed by every file', async () => {
  await h.reset();
  await h.feed(X('10:00:00', '5'));
  const [a] = await h.rows('SELECT id_agente FROM tagente');
  await h.rows(
    "INSERT INTO tagente_modulo (id_agente, id_tipo_modulo, nombre, id_modulo, module_interval) VALUES (?, 100, 'KeepAlive', 1, 300)",
    [a?.['id_agente']],
  );
  await h.rows(
    "INSERT INTO tagente_estado (id_agente_modulo, id_agente, datos, estado, known_status, last_status, last_known_status, last_try) SELECT id_agente_modulo, id_agente, '', 4, 4, 4, 4, '1970-01-01 00:00:00' FROM tagente_modulo WHERE id_tipo_modulo = 100",
  );
  const before = Math.floor(Date.now() / 1000);
  await h.feed(X('10:05:00', '5'));
  const [k] = await h.rows(
    'SELECT e.datos, e.estado, e.utimestamp FROM tagente_estado e JOIN tagente_modulo m USING (id_agente_modulo) WHERE m.id_tipo_modulo = 100',
  );
  assert.ok(k, 'keep-alive status row');
  assert.equal(k['datos'], '1.00000');
  assert.equal(k['estado'], 0);
  assert.ok(Number(k['utimestamp']) >= before);
});

test('45: generic_data_inc_abs stores the delta', async () => {
  await h.reset();
  const i = (t: string, v: string) => packet(t, mod('bytes', 'generic_data_inc_abs', v));
  await h.feed(i('10:00:00', '100'), i('10:05:00', '400'));
  const [s] = await h.rows('SELECT datos FROM tagente_estado');
  assert.equal(s?.['datos'], '300.00000');
});

test('43 + 42: post_process with a comma; min/max range rejects out-of-range data', async () => {
  await h.reset();
  await h.feed(
    packet('10:00:00', mod('pp', 'generic_data', '10', '<post_process>0,5</post_process>')),
  );
  assert.equal((await h.rows('SELECT datos FROM tagente_estado'))[0]?.['datos'], '5.00000');
  await h.reset();
  const r = (t: string, v: string) =>
    packet(t, mod('rng', 'generic_data', v, '<min>0</min><max>100</max>'));
  await h.feed(r('10:00:00', '50'), r('10:05:00', '150'), r('10:10:00', '-5'));
  assert.equal((await h.rows('SELECT datos FROM tagente_estado'))[0]?.['datos'], '50.00000');
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos'), 1);
});

test('51: CR and LF are removed from module names', async () => {
  await h.reset();
  await h.feed(
    packet(
      '10:00:00',
      '<module><name>cp\r\nu</name><type>generic_data</type><data>1</data></module>',
    ),
  );
  assert.deepEqual(
    (await h.rows('SELECT nombre FROM tagente_modulo')).map((r) => r['nombre']),
    ['cpu'],
  );
});

test('60: an invalid agent timestamp falls back to the file mtime', async () => {
  await h.reset();
  await h.feed(
    X('10:00:00', '5').replace("timestamp='2024/03/01 10:00:00'", "timestamp='yesterday'"),
  );
  const [a] = await h.rows('SELECT ultimo_contacto_remoto FROM tagente');
  // The harness stamps files from 2024-03-01 08:00:00 on, one second apart.
  assert.match(String(a?.['ultimo_contacto_remoto']), /^2024-03-01 08:/);
});
