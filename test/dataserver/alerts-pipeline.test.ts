/**
 * Spec alerts.md §8 through the whole dataserver pipeline (spool file → parse → batch → rows),
 * real MariaDB with the Pandora schema and seeds: the pipeline tests 32–36, the parts of 1, 17,
 * 18 and 35 the batch owns (flip-flop, `<alert_template>` parsing, attach on creation), and
 * the no-alert path. `alert_config_refresh 0`: definitions are read for every batch.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeQueueData } from '../../src/dataserver/alerts/index.js';
import { safeInput } from '../../src/pandora/index.js';
import { startHarness, type Harness, type Row } from './harness.js';

type Dict = Record<string, unknown>;

/** Data time text as an agent sends it, `seconds` from now (UTC). */
function agentTime(seconds = 0): string {
  const d = new Date((Math.floor(Date.now() / 1000) + seconds) * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${String(d.getUTCFullYear())}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

function agentFile(modules: string, time = agentTime()): string {
  return `<?xml version='1.0' encoding='UTF-8'?>
<agent_data agent_name='host1' group='Servers' os_name='Linux' interval='300' timestamp='${time}'>
${modules}
</agent_data>`;
}

const cpu = (v: string | number) =>
  `<module><name>cpu</name><type>generic_data</type><data>${String(v)}</data></module>`;
const load = (v: string | number) =>
  `<module><name>load</name><type>generic_data</type><min_warning>70</min_warning><min_critical>90</min_critical><data>${String(v)}</data></module>`;

const TMAX: Dict = {
  name: safeInput('Tmax'),
  type: 'max',
  max_value: 50,
  time_threshold: 86400,
  max_alerts: 1,
  min_alerts: 0,
  recovery_notify: 1,
  priority: 4,
  schedule: null,
};

let h: Harness;
let cpuId = 0;
let loadId = 0;
let current = 0;

async function sql(text: string, values: unknown[] = []): Promise<Row[]> {
  return h.rows(text, values);
}

async function insert(table: string, row: Dict): Promise<number> {
  const [res] = await h.pool.query(
    `INSERT INTO ${table} (${Object.keys(row)
      .map((c) => `\`${c}\``)
      .join(', ')}) VALUES (?)`,
    [Object.values(row)],
  );
  return (res as { insertId: number }).insertId;
}

/** Clears alerts, queue and events; a template (Tmax + overrides) attached to `module`. */
async function fresh(template: Dict = {}, module = cpuId): Promise<number> {
  await sql('DELETE FROM talert_template_modules');
  await sql('DELETE FROM talert_execution_queue');
  await sql('DELETE FROM tevento');
  const templateId = await insert('talert_templates', {
    ...TMAX,
    name: safeInput(`T${String(Date.now())}${String(Math.random())}`),
    ...template,
  });
  current = await insert('talert_template_modules', {
    id_agent_module: module,
    id_alert_template: templateId,
  });
  return current;
}

async function counters(alertId = current): Promise<[number, number]> {
  const [row] = await sql(
    'SELECT times_fired, internal_counter FROM talert_template_modules WHERE id = ?',
    [alertId],
  );
  return [Number(row?.['times_fired']), Number(row?.['internal_counter'])];
}

async function queue(): Promise<unknown[][]> {
  const rows = await sql('SELECT data FROM talert_execution_queue ORDER BY id');
  return rows.map((r) => decodeQueueData(String(r['data'])) as unknown[]);
}

/** One file per value for `cpu`, each processed before the next; counters after each. */
async function seq(...values: (string | number)[]): Promise<[number, number][]> {
  const out: [number, number][] = [];
  for (const v of values) {
    await h.feed(agentFile(cpu(v)));
    out.push(await counters());
  }
  return out;
}

before(async () => {
  h = await startHarness({ alert_config_refresh: '0' });
  await h.feed(agentFile(cpu(10) + load(10)));
  const mods = await sql('SELECT id_agente_modulo AS id, nombre FROM tagente_modulo');
  cpuId = Number(mods.find((m) => m['nombre'] === 'cpu')?.['id']);
  loadId = Number(mods.find((m) => m['nombre'] === 'load')?.['id']);
  assert.ok(cpuId > 0 && loadId > 0);
});
after(() => h.close());

describe('§8 basic cycle through the pipeline', () => {
  test('1: fire — counters, one queue row with the datum, the rows and the status change', async () => {
    const a = await fresh();
    const [before] = await sql(
      'SELECT last_status_change FROM tagente_estado WHERE id_agente_modulo = ?',
      [cpuId],
    );
    const time = agentTime();
    assert.deepEqual(await seq(95), [[1, 1]]);
    const rows = await queue();
    assert.equal(rows.length, 1);
    const [value, agent, module, alert, mode, timestamp, forced, macros] = rows[0] as [
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
    assert.equal(forced, 0);
    assert.equal(timestamp, time, "the agent's timestamp text, unchanged");
    assert.equal(alert['id_template_module'], a);
    assert.equal(alert['times_fired'], 1);
    assert.equal(alert['internal_counter'], 1);
    assert.equal(alert['priority'], 4);
    assert.equal(module['id_agente_modulo'], cpuId);
    assert.equal(module['status'], null);
    assert.equal(agent['nombre'], 'host1');
    assert.equal(macros['_modulelaststatuschange_'], Number(before?.['last_status_change']));
    const [flag] = await sql("SELECT update_alert_count FROM tagente WHERE nombre = 'host1'");
    assert.equal(Number(flag?.['update_alert_count']), 1);
    const alertEvents = await sql("SELECT id_evento FROM tevento WHERE event_type LIKE 'alert%'");
    assert.equal(alertEvents.length, 0);
  });

  test('3: hold then recover — a second row in recovered mode', async () => {
    await fresh();
    assert.deepEqual(await seq(95, 96, 10), [
      [1, 1],
      [1, 2],
      [0, 0],
    ]);
    const rows = await queue();
    assert.equal(rows.length, 2);
    assert.deepEqual([rows[1]?.[0], rows[1]?.[4]], ['10.00000', 0]);
    assert.equal((rows[1]?.[3] as Dict)['internal_counter'], 2);
  });
});

describe('§8 pipeline', () => {
  test('32: a rejected datum (abc on cpu) changes nothing', async () => {
    await fresh({ type: 'always' }); // would fire on any evaluated datum
    assert.deepEqual(await seq('abc'), [[0, 0]]);
    assert.equal((await queue()).length, 0);
  });

  test('33: a compacted datum is still evaluated', async () => {
    await fresh();
    const stored = async () =>
      Number(
        (
          await sql('SELECT COUNT(*) AS n FROM tagente_datos WHERE id_agente_modulo = ?', [cpuId])
        )[0]?.['n'],
      );
    const before = await stored();
    assert.deepEqual(await seq(95, 95), [
      [1, 1],
      [1, 2],
    ]);
    assert.equal(await stored(), before + 1, 'the second 95 was compacted, not stored');
  });

  test('34: a datalist of 95, 96, 10 is evaluated item by item, in order', async () => {
    await fresh();
    const items = [95, 96, 10]
      .map(
        (v, i) => `<data><value>${String(v)}</value><timestamp>${agentTime(i)}</timestamp></data>`,
      )
      .join('');
    await h.feed(
      agentFile(
        `<module><name>cpu</name><type>generic_data</type><datalist>${items}</datalist></module>`,
      ),
    );
    assert.deepEqual(await counters(), [0, 0]);
    const rows = await queue();
    assert.deepEqual(
      rows.map((r) => [r[0], r[4]]),
      [
        ['95.00000', 1],
        ['10.00000', 0],
      ],
    );
  });

  test('36: an out-of-order datum matching the condition changes nothing (D-A5)', async () => {
    await fresh();
    await h.feed(agentFile(cpu(10), agentTime(60)));
    await h.feed(agentFile(cpu(95), agentTime(-3600)));
    assert.deepEqual(await counters(), [0, 0]);
    assert.equal((await queue()).length, 0);
  });
});

describe('§8 attach on creation and status types', () => {
  test('35: <alert_template> twice and an unknown name → one alert, creating datum evaluated', async () => {
    await fresh();
    const name = 'disk35';
    await h.feed(
      agentFile(
        `<module><name>${name}</name><type>generic_data</type><min_critical>90</min_critical>` +
          '<alert_template>Critical condition</alert_template>' +
          '<alert_template>Critical condition</alert_template>' +
          `<alert_template>Nope</alert_template><data>95</data></module>`,
      ),
    );
    const alerts = await sql(
      'SELECT a.* FROM talert_template_modules a JOIN tagente_modulo m ON m.id_agente_modulo = a.id_agent_module WHERE m.nombre = ?',
      [name],
    );
    assert.equal(alerts.length, 1);
    const [a] = alerts as [Row];
    assert.equal(Number(a['id_alert_template']), 1);
    assert.ok(Math.abs(Number(a['last_reference']) - Date.now() / 1000) <= 5);
    assert.deepEqual(await counters(Number(a['id'])), [1, 1], 'the creating datum fired it');
    const rows = await queue();
    assert.equal(rows.length, 1);
    assert.equal((rows[0]?.[2] as Dict)['nombre'], name);
  });

  test('17: onchange attached at creation: first datum fires; same value no; new value fires', async () => {
    await fresh();
    for (const matches of [1, 0]) {
      const templateName = `OC${String(matches)}`;
      await insert('talert_templates', {
        ...TMAX,
        name: safeInput(templateName),
        type: 'onchange',
        matches_value: matches,
      });
      const module = `m2_${String(matches)}`;
      const feed = (v: number) =>
        h.feed(
          agentFile(
            `<module><name>${module}</name><type>generic_data</type>` +
              `<alert_template>${templateName}</alert_template><data>${String(v)}</data></module>`,
          ),
        );
      await feed(5);
      const [a] = await sql(
        'SELECT a.id FROM talert_template_modules a JOIN tagente_modulo m ON m.id_agente_modulo = a.id_agent_module WHERE m.nombre = ?',
        [module],
      );
      const id = Number(a?.['id']);
      if (matches === 1) {
        assert.deepEqual(await counters(id), [1, 1], "previous value '' → changed");
        await sql(
          'UPDATE talert_template_modules SET times_fired = 0, internal_counter = 0 WHERE id = ?',
          [id],
        );
        await feed(5);
        assert.deepEqual(await counters(id), [0, 0], 'unchanged value');
        await feed(6);
        assert.deepEqual(await counters(id), [1, 1], 'changed value');
      } else {
        assert.deepEqual(await counters(id), [0, 0], 'a change does not fire with 0');
        await feed(5);
        assert.deepEqual(await counters(id), [1, 1], 'the same value fires with 0');
      }
    }
  });

  test('18: status types on load; flip-flop holds the status and the alert', async () => {
    const cases: [string, number, number][] = [
      ['warning', 75, 1],
      ['critical', 75, 0],
      ['not_normal', 75, 1],
      ['critical', 95, 1],
    ];
    for (const [type, value, fires] of cases) {
      await fresh({ type }, loadId);
      await h.feed(agentFile(load(10)));
      await h.feed(agentFile(load(value)));
      assert.equal((await counters())[0], fires, `${type} on ${String(value)}`);
    }
    await fresh({ type: 'critical' }, loadId);
    await h.feed(agentFile(load(10)));
    await sql('UPDATE tagente_modulo SET min_ff_event = 2 WHERE id_agente_modulo = ?', [loadId]);
    await h.restart(); // the cached module settings are reloaded
    try {
      await h.feed(agentFile(load(95)));
      const [st] = await sql('SELECT estado FROM tagente_estado WHERE id_agente_modulo = ?', [
        loadId,
      ]);
      assert.equal(Number(st?.['estado']), 0, 'flip-flop keeps NORMAL');
      assert.deepEqual(await counters(), [0, 0]);
    } finally {
      await sql('UPDATE tagente_modulo SET min_ff_event = 0 WHERE id_agente_modulo = ?', [loadId]);
      await h.restart();
    }
  });
});

describe('§8.30 warm-up in the running server', () => {
  test('started notices at start; no evaluation inside the interval; one ended notice after', async () => {
    await fresh();
    await h.restart({ warmup_alert_interval: '2' });
    try {
      const notices = async (text: string) =>
        (
          await sql(
            "SELECT criticity, id_agente, id_grupo FROM tevento WHERE event_type = 'system' AND evento = ?",
            [safeInput(text)],
          )
        ).map((r) => [Number(r['criticity']), Number(r['id_agente']), Number(r['id_grupo'])]);
      assert.deepEqual(await notices('Warmup mode for alerts started.'), [[0, 0, 0]]);
      assert.deepEqual(await notices('Warmup mode for events started.'), [[0, 0, 0]]);
      assert.deepEqual(await seq(95), [[0, 0]], 'inside the interval');
      await new Promise((r) => setTimeout(r, 2200));
      assert.deepEqual(await seq(96, 97), [
        [1, 1],
        [1, 2],
      ]);
      assert.deepEqual(await notices('Warmup mode for alerts ended.'), [[0, 0, 0]], 'once');
    } finally {
      await h.restart();
    }
  });
});

describe('the no-alert path', () => {
  test('data of modules without alerts write no alert row and count no evaluation', async () => {
    await sql('DELETE FROM talert_template_modules');
    await sql('DELETE FROM talert_execution_queue');
    await h.feed(agentFile(cpu(99) + load(99)));
    assert.equal((await queue()).length, 0);
    const metric = await h.registry.getSingleMetric('pandora_alerts_evaluated_total')?.get();
    const before = metric?.values[0]?.value ?? 0;
    await h.feed(agentFile(cpu(98)));
    const again = await h.registry.getSingleMetric('pandora_alerts_evaluated_total')?.get();
    assert.equal(again?.values[0]?.value ?? 0, before);
  });

  test('evaluations and fires are counted after commit', async () => {
    await fresh();
    await h.feed(agentFile(cpu(10)));
    await h.feed(agentFile(cpu(95)));
    const results = await h.registry.getSingleMetric('pandora_alerts_results_total')?.get();
    const fired = results?.values.find((v) => v.labels['result'] === 'fired')?.value ?? 0;
    assert.ok(fired >= 1);
    const evaluated = await h.registry.getSingleMetric('pandora_alerts_evaluated_total')?.get();
    assert.ok((evaluated?.values[0]?.value ?? 0) >= 2);
  });
});
