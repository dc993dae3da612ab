// Spec §9 cases 25–32, 40–45, 58, 59, 61, 63: module creation, THE COMPACTION RULE, value
// conversion, incremental types, datalists and ordering, over the pure core.
import './logic-tz.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { agentXml, createHarness, T0, X } from './logic-fixtures.js';

const at = (h: ReturnType<typeof createHarness>, time: string, value: string, extra = '') =>
  h.feed(X(time, value, extra), { nowSec: T0 + 5000 });

describe('module creation and first datum (§4.3, case 25)', () => {
  it('creates cpu, its status row and one history row; NOT INIT → NORMAL is silent', () => {
    const h = createHarness({ serverId: 7 });
    const out = h.feed(X('10:00:00', '5'), { nowSec: T0 + 3 });
    assert.equal(out.newModules.length, 1);
    const row = out.newModules[0];
    assert.ok(row);
    assert.equal(row.id_tipo_modulo, 1);
    assert.equal(row.nombre, 'cpu');
    assert.equal(row.id_modulo, 1);
    assert.equal(row.module_interval, 300);
    assert.equal(row.agentRef, out.newAgent?.ref);
    assert.equal(row.str_warning, null, 'absent tags leave str_* NULL (§4.3)');
    assert.equal(row.str_critical, null);
    assert.equal(h.module('cpu').config.historyData, true);
    const [write] = out.statusWrites;
    assert.ok(write);
    assert.equal(write.insert, true);
    assert.equal(write.ref, row.ref);
    assert.deepEqual(
      { ...h.status('cpu') },
      {
        datos: '5.00000',
        estado: 0,
        knownStatus: 0,
        lastStatus: 0,
        lastKnownStatus: 0,
        statusChanges: 0,
        timestamp: '2024-03-01 10:00:00',
        lastTry: '2024-03-01 10:00:00',
        lastTryEpoch: T0,
        utimestamp: T0 + 3,
        currentInterval: 300,
        runningBy: 7,
        lastExecutionTry: T0,
        lastError: 0,
        ffStartUtimestamp: 0,
        ffNormal: 0,
        ffWarning: 0,
        ffCritical: 0,
        lastStatusChange: T0,
        warningCount: 0,
      },
    );
    assert.deepEqual(h.history('cpu'), [['5.00000', T0]]);
    assert.deepEqual(
      h.events.map((e) => e.type),
      ['new_agent'],
    );
    assert.equal(out.newAgent?.update_module_count, 1);
  });

  it('second packet UPDATEs the status row (no insert) and references the filled ids', () => {
    const h = createHarness();
    h.feed(X('10:00:00', '5'));
    const out = h.feed(X('10:05:00', '6'));
    const [write] = out.statusWrites;
    assert.ok(write);
    assert.equal(write.insert, false);
    assert.ok(write.ref.id > 0 && write.statusRef.id > 0 && write.agentRef.id > 0);
    assert.equal(out.numericHistory[0]?.ref.id, h.module('cpu').ref.id);
  });
});

describe('THE COMPACTION RULE (§5)', () => {
  it('26: equal values give one row; timestamp moves, last_try stays', () => {
    const h = createHarness();
    at(h, '10:00:00', '5');
    at(h, '10:05:00', '5');
    const last = at(h, '10:10:00', '5');
    assert.deepEqual(h.history('cpu'), [['5.00000', T0]]);
    const s = h.status('cpu');
    assert.equal(s.timestamp, '2024-03-01 10:10:00');
    assert.equal(s.lastExecutionTry, T0 + 600);
    assert.equal(s.lastTry, '2024-03-01 10:00:00');
    assert.equal(s.utimestamp, T0 + 5000);
    assert.equal(last.statusWrites.length, 1);
    assert.equal(last.stats.compacted, 1);
  });

  it('27: compaction compares the %.5f form', () => {
    const h = createHarness();
    for (const [i, v] of ['5', '5.0', '5,0', ' 5 ', '5.000001'].entries()) {
      at(h, `10:0${String(i)}:00`, v);
    }
    assert.equal(h.history('cpu').length, 1);
    at(h, '10:09:00', '5.00001');
    assert.deepEqual(
      h.history('cpu').map(([v]) => v),
      ['5.00000', '5.00001'],
    );
  });

  it('28: change then return gives three rows', () => {
    const h = createHarness();
    at(h, '10:00:00', '5');
    at(h, '10:05:00', '6');
    at(h, '10:10:00', '5');
    assert.deepEqual(h.history('cpu'), [
      ['5.00000', T0],
      ['6.00000', T0 + 300],
      ['5.00000', T0 + 600],
    ]);
  });

  it('29: 24 h rule — exactly 86,400 s compacts, one second more stores', () => {
    const h = createHarness();
    at(h, '2024/03/01 10:00:00', '5');
    at(h, '2024/03/02 10:00:00', '5');
    assert.equal(h.history('cpu').length, 1);
    at(h, '2024/03/02 10:00:01', '5');
    assert.deepEqual(h.history('cpu'), [
      ['5.00000', T0],
      ['5.00000', T0 + 86_401],
    ]);
    assert.equal(h.status('cpu').lastTry, '2024-03-02 10:00:01');
  });

  it('30: history_data 0 stores nothing; datos follows, last_try stays 1970', () => {
    const h = createHarness();
    h.feed(X('09:55:00', 'not yet')); // creates cpu NOT INIT, no datum accepted
    h.editModule('cpu', (m) => ({ ...m, config: { ...m.config, historyData: false } }));
    at(h, '10:00:00', '5');
    at(h, '10:05:00', '6');
    assert.deepEqual(h.history('cpu'), []);
    assert.equal(h.status('cpu').datos, '6.00000');
    assert.equal(h.status('cpu').lastTry, '1970-01-01 00:00:00');
    assert.equal(h.status('cpu').estado, 0);
  });

  it('31: async always stores, even equal values and with history_data 0', () => {
    const h = createHarness();
    h.feed(X('10:00:00', '5', '', 'async_data'));
    assert.equal(h.outcomes[0]?.statusWrites[0]?.insert, true);
    h.feed(X('10:05:00', '5', '', 'async_data'));
    assert.equal(h.history('cpu').length, 2);
    h.editModule('cpu', (m) => ({ ...m, config: { ...m.config, historyData: false } }));
    h.feed(X('10:10:00', '5', '', 'async_data'));
    assert.deepEqual(
      h.history('cpu').map(([, t]) => t),
      [T0, T0 + 300, T0 + 600],
    );
  });

  it('31: async modules are created NORMAL (estado 0 before the first datum)', () => {
    const h = createHarness();
    const out = h.feed(X('10:00:00', 'x', '', 'async_data'));
    // 'x' is rejected, so the row keeps its creation values.
    const write = out.statusWrites[0];
    assert.equal(write?.insert, true);
    assert.equal(write.status.estado, 0);
    assert.equal(write.status.datos, '');
  });

  it('32: string compaction is byte-exact (case significant), values raw', () => {
    const h = createHarness();
    for (const [i, v] of ['OK', 'OK', 'FAIL', 'ok', 'a&b <c>'].entries()) {
      h.feed(X(`10:0${String(i)}:00`, v, '', 'generic_data_string'));
    }
    assert.deepEqual(
      h.history('cpu').map(([v]) => v),
      ['OK', 'FAIL', 'ok', 'a&b <c>'],
    );
    assert.equal(h.outcomes.at(-1)?.stringHistory.length, 1);
    assert.equal(h.outcomes.at(-1)?.numericHistory.length, 0);
  });

  it('status changes are not a reason to store (thresholds edited in the console)', () => {
    const h = createHarness();
    at(h, '10:00:00', '50');
    h.editModule('cpu', (m) => ({ ...m, config: { ...m.config, minCritical: 40 } }));
    at(h, '10:05:00', '50');
    assert.equal(h.status('cpu').estado, 1);
    assert.equal(h.history('cpu').length, 1);
  });
});

describe('value conversion (§4.6)', () => {
  for (const bad of ['abc', '0x10', '', 'inf', 'NaN', '1,000.5', '12abc', '1_000', '.', '+-1']) {
    it(`40: '${bad}' is rejected: no row, datos and estado unchanged, try time refreshed`, () => {
      const h = createHarness();
      at(h, '10:00:00', '5');
      const out = h.feed(X('10:05:00', bad), { nowSec: T0 + 9999 });
      assert.equal(out.numericHistory.length, 0);
      assert.equal(out.events.length, 0);
      const s = h.status('cpu');
      assert.equal(s.datos, '5.00000');
      assert.equal(s.estado, 0);
      assert.equal(s.lastExecutionTry, T0 + 9999);
      assert.equal(s.currentInterval, 300);
      assert.equal(s.timestamp, '2024-03-01 10:00:00');
      assert.equal(out.stats.rejected, 1);
    });
  }

  it('40: a rejected first datum leaves a new module NOT INIT with datos empty', () => {
    const h = createHarness();
    const out = h.feed(X('10:00:00', 'abc'));
    assert.equal(out.newModules.length, 1);
    assert.equal(h.status('cpu').estado, 4);
    assert.equal(h.status('cpu').datos, '');
  });

  it('41: empty string on a string module is rejected', () => {
    const h = createHarness();
    h.feed(X('10:00:00', 'up', '', 'generic_data_string'));
    h.feed(X('10:05:00', '', '', 'generic_data_string'));
    assert.equal(h.status('cpu').datos, 'up');
    assert.equal(h.history('cpu').length, 1);
  });

  const numericForms: [string, string][] = [
    ['5,5', '5.50000'],
    ['-.5', '-0.50000'],
    ['+3', '3.00000'],
    ['5.', '5.00000'],
    ['1e3', '1000.00000'],
    ['1.5e-3', '0.00150'],
    ['5\n', '5.00000'],
    ['-0', '-0.00000'],
    ['0.015625', '0.01562'],
    ['0.000015', '0.00002'],
    ['1e22', '10000000000000000000000.00000'],
  ];
  for (const [raw, stored] of numericForms) {
    it(`'${JSON.stringify(raw)}' is stored as ${stored}`, () => {
      const h = createHarness();
      h.feed(X('10:00:00', raw));
      assert.equal(h.status('cpu').datos, stored);
    });
  }

  it('42: min/max accepted range', () => {
    const h = createHarness();
    at(h, '10:00:00', '50', '<min>0</min><max>100</max>');
    at(h, '10:01:00', '150');
    at(h, '10:02:00', '-5');
    assert.equal(h.status('cpu').datos, '50.00000');
    const one = createHarness();
    at(one, '10:00:00', '50', '<min>10</min>');
    at(one, '10:01:00', '5');
    assert.equal(one.status('cpu').datos, '50.00000');
    at(one, '10:02:00', '500');
    assert.equal(one.status('cpu').datos, '500.00000');
  });

  it('43: post_process with a decimal comma', () => {
    const h = createHarness();
    at(h, '10:00:00', '10', '<post_process>0,5</post_process>');
    assert.equal(h.status('cpu').datos, '5.00000');
    assert.equal(h.module('cpu').config.postProcess, 0.5);
  });

  it('44: generic_data_inc: first sample, rate, counter reset, compacted rate', () => {
    const h = createHarness();
    const inc = (time: string, v: string) => h.feed(X(time, v, '', 'generic_data_inc'));
    const first = inc('10:00:00', '100');
    assert.equal(first.numericHistory.length, 0);
    assert.equal(h.status('cpu').estado, 4);
    assert.deepEqual(
      first.incrementalWrites.map((w) => [w.insert, w.sample]),
      [[true, { datos: 100, utimestamp: T0 }]],
    );
    inc('10:05:00', '400');
    assert.equal(h.status('cpu').datos, '1.00000');
    assert.equal(h.status('cpu').estado, 0);
    const reset = inc('10:10:00', '200');
    assert.equal(reset.numericHistory.length, 0);
    assert.deepEqual(
      reset.incrementalWrites.map((w) => [w.insert, w.sample]),
      [[false, { datos: 200, utimestamp: T0 + 600 }]],
    );
    inc('10:15:00', '500');
    assert.deepEqual(h.history('cpu'), [['1.00000', T0 + 300]]);
    const old = inc('10:01:00', '900');
    assert.equal(old.incrementalWrites.length, 0, 'older sample leaves tagente_datos_inc alone');
  });

  it('45: generic_data_inc_abs gives the absolute delta', () => {
    const h = createHarness();
    h.feed(X('10:00:00', '100', '', 'generic_data_inc_abs'));
    h.feed(X('10:05:00', '400', '', 'generic_data_inc_abs'));
    assert.equal(h.status('cpu').datos, '300.00000');
  });
});

describe('datalists, ordering and timestamps', () => {
  const datalist = (type: string) =>
    `<module><name>log</name><type>${type}</type><datalist>` +
    `<data><value><![CDATA[a]]></value><timestamp>2024/03/01 09:58:10</timestamp></data>` +
    `<data><value><![CDATA[a]]></value><timestamp>2024/03/01 09:59:00</timestamp></data>` +
    `<data><value><![CDATA[b]]></value><timestamp>2024/03/01 09:59:40</timestamp></data>` +
    `</datalist></module>`;

  it('58: async_string datalist stores every item; status is the last one', () => {
    const h = createHarness();
    const out = h.feed(agentXml('10:00:00', datalist('async_string')));
    assert.deepEqual(h.history('log'), [
      ['a', T0 - 110],
      ['a', T0 - 60],
      ['b', T0 - 20],
    ]);
    assert.equal(h.status('log').datos, 'b');
    assert.equal(h.status('log').timestamp, '2024-03-01 09:59:40');
    assert.equal(out.statusWrites.length, 1, 'one status write per module per packet');
    assert.equal(out.newModules.length, 1);
  });

  it('58: generic_data_string datalist compacts equal neighbours', () => {
    const h = createHarness();
    h.feed(agentXml('10:00:00', datalist('generic_data_string')));
    assert.deepEqual(
      h.history('log').map(([v]) => v),
      ['a', 'b'],
    );
  });

  it('an empty datalist creates and processes nothing', () => {
    const h = createHarness();
    const out = h.feed(
      agentXml(
        '10:00:00',
        '<module><name>log</name><type>async_string</type><datalist></datalist></module>',
      ),
    );
    assert.equal(out.newModules.length, 0);
    assert.equal(out.stats.data, 0);
  });

  it('59: out-of-order datum: status row untouched, value stored', () => {
    const h = createHarness();
    at(h, '10:00:00', '5');
    at(h, '10:05:00', '5');
    at(h, '10:10:00', '5');
    const out = at(h, '09:55:00', '7');
    assert.equal(out.statusWrites.length, 0);
    assert.equal(h.status('cpu').datos, '5.00000');
    assert.deepEqual(h.history('cpu'), [
      ['5.00000', T0],
      ['7.00000', T0 - 300],
    ]);
  });

  it('61: a module-level <timestamp> is ignored by default (D-4)', () => {
    const h = createHarness();
    h.feed(X('10:00:00', '5', '<timestamp>1700000000</timestamp>'));
    assert.deepEqual(h.history('cpu'), [['5.00000', T0]]);
    const honour = createHarness({ parse: { useModuleTimestamp: true } });
    honour.feed(X('10:00:00', '5', '<timestamp>1700000000</timestamp>'));
    assert.deepEqual(honour.history('cpu'), [['5.00000', 1700000000]]);
  });

  it('63: LIFO stale data is inserted without touching the status row', () => {
    const h = createHarness({ config: { dataserverLifo: true } });
    h.feed(X('10:05:00', '6'), { nowSec: T0 + 301 });
    const stale = h.feed(X('10:00:00', '5'), { nowSec: T0 + 302 });
    assert.equal(stale.statusWrites.length, 0);
    assert.equal(h.status('cpu').datos, '6.00000');
    assert.deepEqual(h.history('cpu'), [
      ['6.00000', T0 + 300],
      ['5.00000', T0],
    ]);
  });

  it('an invalid datalist item timestamp skips that item only', () => {
    const h = createHarness();
    const out = h.feed(
      agentXml(
        '10:00:00',
        '<module><name>log</name><type>async_string</type><datalist>' +
          '<data><value>a</value><timestamp>never</timestamp></data>' +
          '<data><value>b</value></data></datalist></module>',
      ),
    );
    assert.deepEqual(h.history('log'), [['b', T0]]);
    assert.match(out.warnings.join('\n'), /invalid datalist timestamp/);
  });
});
