import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { X, mod, packet, startHarness, type Harness } from './harness.js';

// Spec §9, cases 26–53 (modules, values, status, events) from spool files to rows.

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

const T = (min: number, sec = 0) =>
  `10:${String(min).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
const history = async () =>
  (await h.rows('SELECT datos, utimestamp FROM tagente_datos ORDER BY utimestamp, datos')).map(
    (r) => [Number(r['datos']), Number(r['utimestamp'])],
  );
const status = async (cols = 'datos, estado') => ({
  ...(await h.rows(`SELECT ${cols} FROM tagente_estado`))[0],
});
const events = async () =>
  (
    await h.rows(
      'SELECT event_type, criticity, estado, data, evento, ack_utimestamp > 0 AS acked FROM tevento WHERE event_type <> ? ORDER BY id_evento',
      ['new_agent'],
    )
  ).map((r): Record<string, unknown> => ({ ...r, acked: Number(r['acked']) }));

test('26: repeated equal values give one history row; the status row follows every datum', async () => {
  await h.reset();
  await h.feed(X(T(0), '5'), X(T(5), '5'), X(T(10), '5'));
  assert.deepEqual(await history(), [[5, 1709287200]]);
  const s = await status('timestamp, last_execution_try, last_try');
  assert.deepEqual(
    { ...s, last_execution_try: Number(s['last_execution_try']) },
    {
      timestamp: '2024-03-01 10:10:00',
      last_execution_try: 1709287800,
      last_try: '2024-03-01 10:00:00',
    },
  );
});

test('27: compaction compares the %.5f stored form', async () => {
  await h.reset();
  await h.feed(X(T(0), '5'), X(T(1), '5.0'), X(T(2), '5,0'), X(T(3), ' 5 '), X(T(4), '5.000001'));
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos'), 1);
  await h.feed(X(T(5), '5.00001'));
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos'), 2);
});

test('28: change then return stores three rows', async () => {
  await h.reset();
  await h.feed(X(T(0), '5'), X(T(5), '6'), X(T(10), '5'));
  assert.deepEqual(
    (await history()).map(([v]) => v),
    [5, 6, 5],
  );
});

test('29: one row per 24 h even when the value does not change', async () => {
  await h.reset();
  await h.feed(
    X('10:00:00', '5'),
    X('10:00:00', '5', { date: '2024/03/02' }),
    X('10:00:01', '5', { date: '2024/03/02' }),
  );
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos'), 2);
});

test('30: history_data 0 stores nothing but keeps the status row current', async () => {
  await h.reset();
  await h.feed(X(T(0), '5'));
  await h.rows('UPDATE tagente_modulo SET history_data = 0');
  await h.rows('DELETE FROM tagente_datos');
  await h.restart();
  await h.feed(X(T(5), '6'));
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos'), 0);
  assert.equal((await status())['datos'], '6.00000');
});

test('31: async types always store, even equal values', async () => {
  await h.reset();
  await h.feed(
    packet(T(0), mod('q', 'async_data', '5')),
    packet(T(5), mod('q', 'async_data', '5')),
  );
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos'), 2);
});

test('32: string compaction is byte for byte', async () => {
  await h.reset();
  const s = (t: string, v: string) => packet(t, mod('st', 'generic_data_string', v));
  await h.feed(s(T(0), 'OK'), s(T(5), 'OK'), s(T(10), 'FAIL'), s(T(15), 'ok'));
  const rows = await h.rows('SELECT datos FROM tagente_datos_string ORDER BY utimestamp');
  assert.deepEqual(
    rows.map((r) => r['datos']),
    ['OK', 'FAIL', 'ok'],
  );
});

test('33: generic_proc transitions, events and auto-validation', async () => {
  await h.reset();
  const p = (t: string, v: string) => packet(t, mod('sshd', 'generic_proc', v));
  await h.feed(p(T(0), '1'));
  assert.deepEqual(await events(), []);
  await h.feed(p(T(5), '0'));
  assert.equal((await status())['estado'], 1);
  await h.feed(p(T(10), '1'));
  assert.equal((await status())['estado'], 0);
  assert.deepEqual(await events(), [
    {
      event_type: 'going_up_critical',
      criticity: 4,
      estado: 1,
      data: '0',
      acked: 1,
      evento:
        'Module&#x20;&#039;sshd&#039;&#x20;is&#x20;going&#x20;to&#x20;CRITICAL&#x20;&#40;0&#41;',
    },
    {
      event_type: 'going_down_normal',
      criticity: 2,
      estado: 1,
      data: '1',
      acked: 1,
      evento:
        'Module&#x20;&#039;sshd&#039;&#x20;is&#x20;going&#x20;to&#x20;NORMAL&#x20;&#40;1&#41;',
    },
  ]);
});

test('34: numeric thresholds drive warning/critical transitions with one event each', async () => {
  await h.reset();
  const th = '<min_warning>70</min_warning><min_critical>90</min_critical>';
  const values = ['50', '75', '95', '80', '10'];
  await h.feed(...values.map((v, i) => packet(T(i * 5), mod('cpu', 'generic_data', v, th))));
  assert.deepEqual(
    (await events()).map((e) => [e['event_type'], e['criticity'], e['data']]),
    [
      ['going_up_warning', 3, '75'],
      ['going_up_critical', 4, '95'],
      ['going_down_warning', 3, '80'],
      ['going_down_normal', 2, '10'],
    ],
  );
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos'), 5);
  assert.equal((await status())['estado'], 0);
});

test('35: thresholds are adopted at creation only', async () => {
  await h.reset();
  await h.feed(packet(T(0), mod('cpu', 'generic_data', '5', '<min_critical>90</min_critical>')));
  await h.feed(packet(T(5), mod('cpu', 'generic_data', '60', '<min_critical>50</min_critical>')));
  assert.equal((await h.rows('SELECT min_critical FROM tagente_modulo'))[0]?.['min_critical'], 90);
  assert.equal((await status())['estado'], 0);
});

test('35: unit stays NULL unless the packet has the tag, as the reference leaves it', async () => {
  await h.reset();
  await h.feed(
    packet(
      T(0),
      mod('absent', 'generic_data', '5') +
        mod('empty', 'generic_data', '5', '<unit></unit>') +
        mod('set', 'generic_data', '5', '<unit>%</unit>'),
    ),
  );
  const rows = await h.rows('SELECT nombre, unit FROM tagente_modulo ORDER BY nombre');
  assert.deepEqual(
    rows.map((r) => ({ ...r })),
    [
      { nombre: 'absent', unit: null },
      { nombre: 'empty', unit: '' },
      { nombre: 'set', unit: '%' },
    ],
  );
});

test('35: str_warning and str_critical stay NULL unless the packet has the tag, as the reference leaves them', async () => {
  await h.reset();
  const s = (name: string, data: string, tags = '') => mod(name, 'generic_data_string', data, tags);
  await h.feed(
    packet(
      T(0),
      s('absent', 'FAIL') +
        s('empty', 'FAIL', '<str_warning></str_warning>') +
        s('set', 'ok', '<str_critical>FAIL</str_critical>'),
    ),
  );
  const rows = await h.rows(
    'SELECT nombre, str_warning, str_critical FROM tagente_modulo ORDER BY nombre',
  );
  assert.deepEqual(
    rows.map((r) => ({ ...r })),
    [
      { nombre: 'absent', str_warning: null, str_critical: null },
      { nombre: 'empty', str_warning: '', str_critical: null },
      { nombre: 'set', str_warning: null, str_critical: 'FAIL' },
    ],
  );
  // NULL is no threshold, from the cache and after a reload alike.
  const estado = async () =>
    (
      await h.rows(
        'SELECT m.nombre, e.estado FROM tagente_estado e JOIN tagente_modulo m USING (id_agente_modulo) ORDER BY m.nombre',
      )
    ).map((r) => [r['nombre'], r['estado']]);
  await h.feed(packet(T(5), s('absent', 'FAIL') + s('set', 'FAIL')));
  assert.deepEqual(await estado(), [
    ['absent', 0],
    ['empty', 0],
    ['set', 1],
  ]);
  await h.restart();
  await h.feed(packet(T(10), s('absent', 'FAIL') + s('empty', 'FAIL') + s('set', 'ok')));
  assert.deepEqual(await estado(), [
    ['absent', 0],
    ['empty', 0],
    ['set', 0],
  ]);
});

test('44: generic_data_inc: first sample, rate, reset, compacted rate', async () => {
  await h.reset();
  const i = (t: string, v: string) => packet(t, mod('ifin', 'generic_data_inc', v));
  await h.feed(i(T(0), '100'));
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos'), 0);
  assert.equal((await status())['estado'], 4);
  await h.feed(i(T(5), '400'));
  assert.deepEqual(await status(), { datos: '1.00000', estado: 0 });
  await h.feed(i(T(10), '200'));
  const [inc] = await h.rows('SELECT datos, utimestamp FROM tagente_datos_inc');
  assert.deepEqual([Number(inc?.['datos']), Number(inc?.['utimestamp'])], [200, 1709287200 + 600]);
  await h.feed(i(T(15), '500'));
  assert.deepEqual(
    (await history()).map(([v]) => v),
    [1],
  );
});

test('46: flip-flop protection needs min_ff_event extra data before changing status', async () => {
  await h.reset();
  const tags = '<min_ff_event>2</min_ff_event><min_critical>50</min_critical>';
  const f = (t: string, v: string) => packet(t, mod('ff', 'generic_data', v, tags));
  await h.feed(f(T(0), '1'), f(T(5), '60'), f(T(10), '60'));
  assert.deepEqual(await status('estado, status_changes'), { estado: 0, status_changes: 1 });
  await h.feed(f(T(15), '60'));
  assert.deepEqual(await status('estado, status_changes'), { estado: 1, status_changes: 2 });
  assert.equal((await events()).length, 1);
});

test('40: invalid numeric data is rejected without touching datos or status', async () => {
  await h.reset();
  await h.feed(X(T(0), '5'), X(T(5), 'abc'), X(T(10), '0x10'), X(T(15), 'inf'));
  assert.deepEqual(await status(), { datos: '5.00000', estado: 0 });
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos'), 1);
});

test('49: a disabled module changes nothing', async () => {
  await h.reset();
  await h.feed(X(T(0), '5'));
  await h.rows('UPDATE tagente_modulo SET disabled = 1');
  await h.restart();
  await h.feed(X(T(5), '7'));
  assert.equal((await status())['datos'], '5.00000');
});

test('50: an unknown module type skips that module only', async () => {
  await h.reset();
  await h.feed(packet(T(0), mod('w', 'weird', '1') + mod('ok', 'generic_data', '1')));
  const names = await h.rows('SELECT nombre FROM tagente_modulo');
  assert.deepEqual(
    names.map((r) => r['nombre']),
    ['ok'],
  );
});

test('52: a quiet module changes status without events', async () => {
  await h.reset();
  const q = (t: string, v: string) => packet(t, mod('sshd', 'generic_proc', v, '<quiet>1</quiet>'));
  await h.feed(q(T(0), '1'), q(T(5), '0'));
  assert.equal((await status())['estado'], 1);
  assert.deepEqual(await events(), []);
});

test('53: event_auto_validation 0 keeps the critical event new', async () => {
  await h.reset({ event_auto_validation: '0' });
  const p = (t: string, v: string) => packet(t, mod('sshd', 'generic_proc', v));
  await h.feed(p(T(0), '1'), p(T(5), '0'), p(T(10), '1'));
  assert.deepEqual(
    (await events()).map((e) => [e['event_type'], e['estado']]),
    [
      ['going_up_critical', 0],
      ['going_down_normal', 1],
    ],
  );
});
