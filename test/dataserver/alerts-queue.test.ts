/**
 * The queue row of spec alerts.md §5.2 (with the [NEW] UTF-8 fix, D-A3), test 37 (non-ASCII
 * data), the seeds of §1.4, and test 44 (`alert_execution events`), against real MariaDB.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  decodeQueueData,
  encodeQueuePayload,
  QueueMode,
  type AlertRecord,
} from '../../src/dataserver/alerts/index.js';
import { createAlertFixture, type AlertFixture } from './alerts-fixture.js';

type Dict = Record<string, unknown>;

/** The first line of the reference's stored `data` for the §5.2 example, with its `\n`. */
const SPEC_FIRST_LINE =
  'WyI5NS4wMDAwMCIseyJ1cGRhdGVfc2Vjb25kYXJ5X2dyb3VwcyI6MCwidW5rbm93bl9jb3VudCI6\n';

/** The §5.2 example payload (decoded), in the reference's key order where it is shown. */
const SPEC_AGENT: Dict = {
  update_secondary_groups: 0,
  unknown_count: 0,
  id_agente: 1,
  nombre: 'alert-host',
  alias: 'alert-host',
  id_grupo: 2,
  id_os: 1,
  direccion: '',
  intervalo: 300,
  server_name: 'perl-probe',
  quiet: 0,
  disabled: 0,
  cascade_protection: 0,
  update_alert_count: 0,
  fired_count: 0,
};
const SPEC_MODULE: Dict = {
  id_agente_modulo: 1,
  id_agente: 1,
  nombre: 'cpu',
  id_tipo_modulo: 1,
  descripcion: '',
  module_interval: '300',
  unit: null,
  quiet: 0,
  disabled: 0,
  module_macros: '',
  critical_instructions: '',
};
const SPEC_ALERT: AlertRecord = {
  id_template_module: 100,
  id: 100,
  id_agent_module: 1,
  id_alert_template: 100,
  name: 'Bar max 50',
  type: 'max',
  max_value: 50,
  min_value: 0,
  value: '',
  matches_value: 0,
  time_threshold: 300,
  max_alerts: 1,
  min_alerts: 0,
  times_fired: 1,
  internal_counter: 1,
  last_fired: 0,
  last_reference: 0,
  recovery_notify: 1,
  priority: 4,
  id_alert_action: 100,
  standby: 0,
  disabled: 0,
  disable_event: 0,
  field1: 'T1',
  field2: 'T2',
  field3: null,
};

let f: AlertFixture;
before(async () => {
  f = await createAlertFixture();
});
after(() => f.close());

test('§5.2 encoder: the example payload gives the reference first line byte for byte, MIME framing', () => {
  const data = encodeQueuePayload({
    value: '95.00000',
    agent: SPEC_AGENT,
    module: SPEC_MODULE,
    forcedStatus: null,
    alert: SPEC_ALERT,
    mode: QueueMode.Fired,
    timestamp: '2026/12/06 06:58:33',
    forced: 0,
    macros: { _modulelaststatuschange_: 1796540298 },
  });
  assert.equal(data.slice(0, SPEC_FIRST_LINE.length), SPEC_FIRST_LINE);
  const lines = data.split('\n');
  assert.equal(lines.pop(), '', 'the last line ends in \\n too');
  for (const line of lines.slice(0, -1)) assert.equal(line.length, 76);
  assert.ok((lines.at(-1)?.length ?? 0) <= 76);
  assert.deepEqual(decodeQueueData(data), [
    '95.00000',
    SPEC_AGENT,
    { ...SPEC_MODULE, status: null },
    SPEC_ALERT,
    1,
    '2026/12/06 06:58:33',
    0,
    { _modulelaststatuschange_: 1796540298 },
  ]);
});

test('§5.2 a row written through the database matches the example: fields, types, shadowing', async () => {
  const a = await f.fresh({
    name: 'Bar max 50',
    type: 'max',
    max_value: 50,
    min_value: 0,
    time_threshold: 300,
    field1: 'T1',
    field2: 'T2',
    field3: null,
    id_alert_action: f.actionId,
    priority: 4,
  });
  await f.send(f.cpu, 95, { timestampText: '2026/12/06 06:58:33' });
  const [row] = await f.queue();
  assert.ok(row);
  const data = String(row.row['data']);
  assert.ok(data.startsWith('WyI5NS4wMDAwMCIseyJ'), 'starts with ["95.00000",{"');
  assert.match(data, /^([A-Za-z0-9+/]{76}\n)*[A-Za-z0-9+/=]{1,76}\n$/);
  const [value, agent, module, alert, mode, timestamp, forced, macros] = row.dec as [
    string,
    Dict,
    Dict,
    Dict,
    number,
    string,
    number,
    Dict,
  ];
  assert.equal(value, '95.00000');
  assert.equal(mode, 1);
  assert.equal(timestamp, '2026/12/06 06:58:33');
  assert.equal(forced, 0);
  assert.equal(typeof macros['_modulelaststatuschange_'], 'number');
  for (const key of Object.keys(SPEC_AGENT)) assert.ok(key in agent, `agent.${key}`);
  for (const key of Object.keys(SPEC_MODULE)) assert.ok(key in module, `module.${key}`);
  assert.equal(module['status'], null);
  assert.equal(typeof agent['ultimo_contacto'], 'string', 'DATETIME as text');
  for (const key of Object.keys(SPEC_ALERT)) assert.ok(key in alert, `alert.${key}`);
  const [tpl] = await f.sql('SELECT id_alert_template FROM talert_template_modules WHERE id = ?', [
    a,
  ]);
  assert.equal(alert['id_template_module'], a);
  assert.equal(
    alert['id'],
    Number(tpl?.['id_alert_template']),
    'the template id shadows the alert id',
  );
  assert.equal(alert['priority'], 4, "the template's priority shadows the alert's (0)");
  // Every other value of the example, ids aside (ours come from this database).
  const ids = [
    'id_template_module',
    'id',
    'id_agent_module',
    'id_alert_template',
    'id_alert_action',
  ];
  for (const [key, expected] of Object.entries(SPEC_ALERT).filter(([k]) => !ids.includes(k)))
    assert.deepEqual(alert[key], expected, `alert.${key}`);
});

test('§8.37 non-ASCII data (é, ✓, emoji) gives a valid UTF-8 row; later data still processed', async () => {
  const a = await f.fresh(
    { type: 'regex', value: 'caf', matches_value: 1 },
    { id_agent_module: f.log },
  );
  await f.sql('UPDATE tagente_modulo SET descripcion = ? WHERE id_agente_modulo = ?', [
    'Température ✓ 🚀',
    f.log,
  ]);
  await f.send(f.log, 'café ✓ 🚀');
  const [row] = await f.queue();
  assert.ok(row);
  const bytes = Buffer.from(String(row.row['data']).replace(/\n/g, ''), 'base64');
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); // throws on bad UTF-8
  assert.ok(text.includes('café ✓ 🚀'));
  assert.equal(row.dec[0], 'café ✓ 🚀');
  assert.equal((row.dec[2] as Dict)['descripcion'], 'Température ✓ 🚀');
  f.clock.advance(1);
  await f.send(f.log, 'plain');
  assert.deepEqual(await f.counters(a), [0, 0], 'recovered by the next datum');
  assert.equal((await f.queue()).length, 2);
});

test('§1.4 seeds: commands, actions, templates and calendar, names entity-encoded', async () => {
  const [tpl] = await f.sql('SELECT * FROM talert_templates WHERE id = 1');
  assert.equal(tpl?.['name'], 'Critical&#x20;condition');
  assert.equal(tpl['type'], 'critical');
  assert.equal(Number(tpl['id_alert_action']), 1);
  assert.equal(Number(tpl['priority']), 4);
  assert.equal(Number(tpl['recovery_notify']), 1);
  assert.equal(Number(tpl['time_threshold']), 86400);
  const [manual] = await f.sql('SELECT * FROM talert_templates WHERE id = 2');
  assert.deepEqual(
    [manual?.['type'], manual?.['min_value'], manual?.['max_value'], manual?.['id_alert_action']],
    ['max_min', 1, 0, null],
  );
  const [warning] = await f.sql('SELECT * FROM talert_templates WHERE id = 3');
  assert.deepEqual([warning?.['type'], Number(warning?.['priority'])], ['warning', 3]);
  const [action] = await f.sql('SELECT * FROM talert_actions WHERE id = 3');
  assert.equal(action?.['name'], 'Monitoring&#x20;Event');
  assert.equal(Number(action['id_alert_command']), 3);
  assert.equal(action['field2'], 'alert_fired');
  assert.equal(action['field5'], '4');
  assert.equal(action['field2_recovery'], 'alert_ceased');
  const [cmd] = await f.sql('SELECT * FROM talert_commands WHERE id = 3');
  assert.deepEqual([cmd?.['name'], Number(cmd?.['internal'])], ['Monitoring&#x20;Event', 1]);
  const [calendar] = await f.sql('SELECT name FROM talert_calendar WHERE id = 1');
  assert.equal(calendar?.['name'], 'Default');
  for (const table of [
    'talert_template_modules',
    'talert_execution_queue',
    'talert_special_days',
  ]) {
    const [n] = await f.sql(`SELECT COUNT(*) AS n FROM ${table}`);
    assert.ok(Number(n?.['n']) >= 0);
  }
});
