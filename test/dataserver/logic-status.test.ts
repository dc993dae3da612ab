// Spec §9 cases 33–39, 46–53, 69, 70: status computation, flip-flop, status events, module
// configuration rules, over the pure core.
import './logic-tz.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { agentXml, createHarness, T0, X } from './logic-fixtures.js';

type Harness = ReturnType<typeof createHarness>;

/** Feeds values 5 minutes apart to one module and returns estado after each. */
function run(h: Harness, values: string[], extra = '', type = 'generic_data', name = 'cpu') {
  return values.map((v, i) => {
    const minutes = String(i * 5).padStart(2, '0');
    h.feed(agentXml(`10:${minutes}:00`, [{ name, type, data: v, extra }]), {
      nowSec: T0 + 1000 + i,
    });
    return h.status(name).estado;
  });
}

const statusEvents = (h: Harness) => h.events.filter((e) => e.type !== 'new_agent');

describe('status computation (§4.7)', () => {
  it('33: generic_proc 1 → 0 → 1 with events, auto-validation and encoded texts', () => {
    const h = createHarness();
    assert.deepEqual(run(h, ['1', '0', '1'], '', 'generic_proc', 'sshd'), [0, 1, 0]);
    const events = statusEvents(h);
    assert.deepEqual(
      events.map((e) => [e.type, e.criticity, e.estado, e.data, e.moduleStatus]),
      [
        ['going_up_critical', 4, 1, '0', 1],
        ['going_down_normal', 2, 1, '1', 0],
      ],
    );
    assert.equal(
      events[0]?.evento,
      'Module&#x20;&#039;sshd&#039;&#x20;is&#x20;going&#x20;to&#x20;CRITICAL&#x20;&#40;0&#41;',
    );
    assert.equal(events[1]?.ackUtimestamp, T0 + 1002, 'normal event is created validated');
    assert.equal(events[0].ackUtimestamp, T0 + 1002, 'critical event validated by the next');
    assert.equal(events[0].groupId, 2);
    assert.equal(events[0].moduleId, h.module('sshd').ref.id);
  });

  it('generic_proc defaults: 0.5 critical, ≥1 and negatives normal', () => {
    const h = createHarness();
    assert.deepEqual(run(h, ['1', '0.5', '2', '-1'], '', 'generic_proc'), [0, 1, 0, 0]);
  });

  it('34: numeric thresholds up and down with the right event kinds', () => {
    const h = createHarness();
    const extra = '<min_warning>70</min_warning><min_critical>90</min_critical>';
    assert.deepEqual(run(h, ['50', '75', '95', '80', '10'], extra), [0, 2, 1, 2, 0]);
    assert.deepEqual(
      statusEvents(h).map((e) => [e.type, e.criticity, e.data]),
      [
        ['going_up_warning', 3, '75'],
        ['going_up_critical', 4, '95'],
        ['going_down_warning', 3, '80'],
        ['going_down_normal', 2, '10'],
      ],
    );
    assert.equal(h.history('cpu').length, 5);
  });

  it('35: thresholds are adopted at creation only', () => {
    const h = createHarness();
    run(h, ['1'], '<min_critical>90</min_critical>');
    h.feed(X('10:05:00', '60', '<min_critical>50</min_critical>'));
    assert.equal(h.module('cpu').config.minCritical, 90);
    assert.equal(h.status('cpu').estado, 0);
  });

  it('36: description and extended_info updates', () => {
    const h = createHarness();
    h.feed(X('10:00:00', '1', '<description>old</description>'));
    const second = h.feed(X('10:05:00', '1', '<description>new</description>'));
    assert.deepEqual(
      second.moduleConfigUpdates.map((u) => u.descripcion),
      ['new'],
    );
    const third = h.feed(X('10:10:00', '1'));
    assert.equal(third.moduleConfigUpdates.length, 0);
    assert.equal(h.module('cpu').config.description, 'new');
    const fourth = h.feed(X('10:15:00', '1', '<foo>bar</foo><zed/>'));
    assert.deepEqual(
      fourth.moduleConfigUpdates.map((u) => u.extended_info),
      ['foo: bar<br/>zed: <br/>'],
    );
    const fifth = h.feed(X('10:20:00', '1'));
    assert.deepEqual(
      fifth.moduleConfigUpdates.map((u) => [u.descripcion, u.extended_info]),
      [['new', '']],
    );
  });

  it('37: critical_inverse', () => {
    const h = createHarness();
    const extra =
      '<critical_inverse>1</critical_inverse><min_critical>10</min_critical><max_critical>20</max_critical>';
    assert.deepEqual(run(h, ['5', '15', '25'], extra), [1, 0, 1]);
  });

  it('38: string regex thresholds, and reversed with critical_inverse', () => {
    const h = createHarness();
    const type = 'generic_data_string';
    assert.deepEqual(
      run(h, ['ERROR 42', 'all good'], '<str_critical>FAIL|ERR</str_critical>', type),
      [1, 0],
    );
    const inv = createHarness();
    const extra = '<str_critical>FAIL|ERR</str_critical><critical_inverse>1</critical_inverse>';
    assert.deepEqual(run(inv, ['ERROR 42', 'all good'], extra, type), [0, 1]);
  });

  it('38: an invalid regex counts as no threshold; entity-encoded patterns are decoded', () => {
    const h = createHarness();
    const type = 'generic_data_string';
    assert.deepEqual(run(h, ['a(b', 'x'], '<str_critical>(</str_critical>', type), [0, 0]);
    const enc = createHarness();
    const extra = '<str_warning>a&amp;lt;b</str_warning>';
    assert.deepEqual(run(enc, ['a<b', 'ab'], extra, type), [2, 0]);
  });

  it('39: <status> forces the status of the datum', () => {
    const h = createHarness();
    run(h, ['1'], '<status>critical</status>');
    assert.equal(h.status('cpu').estado, 1);
  });

  it('percentage thresholds around the previous value', () => {
    const h = createHarness();
    run(h, ['100']);
    h.editModule('cpu', (m) => ({
      ...m,
      config: { ...m.config, percentageCritical: true, minCritical: 10, maxCritical: 10 },
    }));
    h.feed(X('10:05:00', '95'));
    assert.equal(h.status('cpu').estado, 0);
    h.feed(X('10:10:00', '80'));
    assert.equal(h.status('cpu').estado, 1);
  });

  it('warning escalation after warning_time consecutive warnings', () => {
    const h = createHarness();
    run(h, ['1'], '<min_warning>10</min_warning>');
    h.editModule('cpu', (m) => ({ ...m, config: { ...m.config, warningTime: 2 } }));
    const states = ['20', '20', '20', '20', '1'].map((v, i) => {
      h.feed(X(`10:${String(10 + i * 5)}:00`, v));
      return h.status('cpu').estado;
    });
    // count 0, 1, 2, 3: the fourth consecutive warning exceeds warning_time 2.
    assert.deepEqual(states, [2, 2, 2, 1, 0]);
  });
});

describe('flip-flop and transitions (§4.8, §5.1)', () => {
  it('46: min_ff_event 2 needs three consecutive data', () => {
    const h = createHarness();
    const extra = '<min_ff_event>2</min_ff_event><min_critical>50</min_critical>';
    const changes: number[] = [];
    const states = ['1', '60', '60', '60'].map((v, i) => {
      h.feed(X(`10:0${String(i)}:00`, v, extra));
      changes.push(h.status('cpu').statusChanges);
      return h.status('cpu').estado;
    });
    assert.deepEqual(states, [0, 0, 0, 1]);
    assert.deepEqual(changes, [0, 0, 1, 2]);
    assert.deepEqual(
      statusEvents(h).map((e) => e.type),
      ['going_up_critical'],
    );
  });

  it('47: flip-flop does not delay the first datum of a NOT INIT module', () => {
    const h = createHarness();
    run(h, ['60'], '<min_ff_event>2</min_ff_event><min_critical>50</min_critical>');
    const s = h.status('cpu');
    assert.equal(s.estado, 0);
    assert.equal(s.lastStatus, 1);
    assert.equal(statusEvents(h).length, 0);
  });

  it('each_ff uses the per-status threshold', () => {
    const h = createHarness();
    const extra =
      '<each_ff>1</each_ff><min_ff_event_critical>1</min_ff_event_critical><min_critical>50</min_critical>';
    assert.deepEqual(run(h, ['1', '60', '60', '1'], extra), [0, 0, 1, 0]);
  });

  for (const unknownEvents of [true, false]) {
    it(`48: recovery from UNKNOWN (unknown_events ${String(unknownEvents)})`, () => {
      const h = createHarness({ config: { unknownEvents } });
      run(h, ['5']);
      h.editModule('cpu', (m) => ({
        ...m,
        status: m.status === undefined ? undefined : { ...m.status, estado: 3, lastStatus: 3 },
      }));
      h.feed(X('10:05:00', '5'));
      assert.equal(h.status('cpu').estado, 0);
      assert.deepEqual(
        statusEvents(h).map((e) => [e.type, e.criticity]),
        unknownEvents ? [['going_down_normal', 2]] : [],
      );
    });
  }

  it('49: a disabled module ignores data', () => {
    const h = createHarness();
    run(h, ['5']);
    h.editModule('cpu', (m) => ({ ...m, config: { ...m.config, disabled: true } }));
    const out = h.feed(X('10:05:00', '6'));
    assert.equal(out.statusWrites.length, 0);
    assert.equal(out.numericHistory.length, 0);
    assert.equal(h.status('cpu').datos, '5.00000');
  });

  it('50: unknown module type: not created, the other module still processed', () => {
    const h = createHarness();
    const out = h.feed(
      agentXml('10:00:00', [
        { name: 'odd', type: 'weird', data: '1' },
        { name: 'cpu', data: '2' },
      ]),
    );
    assert.deepEqual(
      out.newModules.map((m) => m.nombre),
      ['cpu'],
    );
    assert.match(out.warnings.join('\n'), /invalid module type 'weird'/);
    assert.equal(h.status('cpu').datos, '2.00000');
  });

  it('51: CR/LF are removed from module names', () => {
    const h = createHarness();
    h.feed(agentXml('10:00:00', '<module><name>cp\r\nu</name><data>1</data></module>'));
    assert.equal(h.module('cpu').nameEncoded, 'cpu');
  });

  it('52: a quiet module changes status without events', () => {
    const h = createHarness();
    assert.deepEqual(run(h, ['1', '0', '1'], '<quiet>1</quiet>', 'generic_proc'), [0, 1, 0]);
    assert.equal(statusEvents(h).length, 0);
  });

  it('53: event_auto_validation 0 keeps the critical event open', () => {
    const h = createHarness({ config: { eventAutoValidation: false } });
    run(h, ['1', '0', '1'], '', 'generic_proc');
    assert.deepEqual(
      statusEvents(h).map((e) => e.estado),
      [0, 1],
    );
  });

  it('two changes of one module in one packet: the first event is validated in the outcome', () => {
    const h = createHarness();
    run(h, ['1'], '', 'generic_proc');
    const out = h.feed(
      agentXml(
        '10:05:00',
        '<module><name>cpu</name><type>generic_proc</type><datalist>' +
          '<data><value>0</value><timestamp>2024/03/01 10:05:00</timestamp></data>' +
          '<data><value>1</value><timestamp>2024/03/01 10:06:00</timestamp></data>' +
          '</datalist></module>',
      ),
    );
    assert.deepEqual(
      out.events.map((e) => [e.event_type, e.estado]),
      [
        ['going_up_critical', 1],
        ['going_down_normal', 1],
      ],
    );
  });

  it('warm-up and storm protection suppress status events', () => {
    const warm = createHarness({ config: { warmupEventInterval: 10_000 }, startedAtSec: T0 });
    run(warm, ['1', '0'], '', 'generic_proc');
    assert.equal(statusEvents(warm).length, 0);
    const storm = createHarness({ config: { eventStormProtection: true } });
    run(storm, ['1', '0'], '', 'generic_proc');
    assert.equal(statusEvents(storm).length, 0);
  });

  it('graph_precision formats event data; precision 0 keeps integer zeros (D-14)', () => {
    const h = createHarness({ config: { graphPrecision: 0 } });
    run(h, ['1', '100'], '<min_critical>90</min_critical>');
    assert.equal(statusEvents(h)[0]?.data, '100');
    const p2 = createHarness({ config: { graphPrecision: 2 } });
    run(p2, ['1', '95.456'], '<min_critical>90</min_critical>');
    assert.equal(statusEvents(p2)[0]?.data, '95.46');
  });
});

describe('other module rules', () => {
  it('69: keep-alive modules get "1" at server time on every packet', () => {
    const h = createHarness();
    run(h, ['5']);
    const cpu = h.module('cpu');
    assert.ok(cpu.status);
    // A console-created keep_alive module, as the cache would load it (CRITICAL: agent was down).
    h.putModule({
      ...cpu,
      ref: { id: 999 },
      statusRef: { id: 998 },
      nameEncoded: 'KeepAlive',
      config: { ...cpu.config, typeId: 100, typeName: 'keep_alive' },
      status: { ...cpu.status, estado: 1, knownStatus: 1, lastKnownStatus: 1, datos: '0.00000' },
    });
    const out = h.feed(X('10:05:00', '5'), { nowSec: T0 + 7777 });
    const ka = h.status('KeepAlive');
    assert.equal(ka.datos, '1.00000');
    assert.equal(ka.estado, 0);
    assert.equal(ka.utimestamp, T0 + 7777);
    assert.equal(ka.lastExecutionTry, T0 + 7777);
    assert.deepEqual(
      out.events.map((e) => [e.event_type, e.moduleRef?.id]),
      [['going_down_normal', 999]],
    );
    assert.deepEqual(
      out.numericHistory.map((r) => [r.ref.id, r.datos, r.utimestamp]),
      [[999, '1.00000', T0 + 7777]],
    );
  });

  it('70: empty numeric elements coerce to 0 for strict SQL mode', () => {
    const h = createHarness();
    const out = h.feed(
      X(
        '10:00:00',
        '5',
        '<min_critical></min_critical><unit></unit><min_ff_event>x</min_ff_event>',
      ),
    );
    const row = out.newModules[0];
    assert.equal(row?.min_critical, 0);
    assert.equal(row.unit, '');
    assert.equal(row.min_ff_event, 0);
    assert.equal(h.status('cpu').datos, '5.00000');
  });

  it('creation adopts module_group, tags, crontab, flags and interval multiplier', () => {
    const h = createHarness();
    const out = h.feed(
      X(
        '10:00:00',
        '5',
        '<module_group>System</module_group><tags>linux,web, web,nope</tags>' +
          '<crontab>*/5 * * * *</crontab><module_interval>2</module_interval>' +
          '<warning_inverse>yes</warning_inverse><disabled>0</disabled><custom_id>c1</custom_id>',
      ),
    );
    const row = out.newModules[0];
    assert.ok(row);
    assert.equal(row.id_module_group, 4);
    assert.deepEqual(row.tagIds, [1, 2]);
    assert.equal(h.module('cpu').config.tags, 'linux,web');
    assert.equal(row.cron_interval, '*/5 * * * *');
    assert.equal(row.module_interval, 600);
    assert.equal(row.warning_inverse, 0);
    assert.equal(row.custom_id, 'c1');
  });

  it('module_parent links siblings after all modules; unlink clears', () => {
    const h = createHarness();
    const out = h.feed(
      agentXml('10:00:00', [
        { name: 'child', data: '1', extra: '<module_parent>parent</module_parent>' },
        { name: 'parent', data: '1' },
      ]),
    );
    assert.equal(out.parentLinks.length, 1);
    assert.equal(out.parentLinks[0]?.parentRef, h.module('parent').ref);
    const linkPacket = (time: string) =>
      h.feed(
        agentXml(time, [
          { name: 'child', data: '1', extra: '<module_parent>parent</module_parent>' },
          { name: 'parent', data: '1' },
        ]),
      );
    // The parent's id was unknown (0) when the first link was computed: written once more.
    assert.equal(linkPacket('10:05:00').parentLinks.length, 1);
    assert.equal(linkPacket('10:06:00').parentLinks.length, 0, 'unchanged link not rewritten');
    const unlink = h.feed(
      agentXml('10:10:00', [
        { name: 'child', data: '1', extra: '<module_parent_unlink>1</module_parent_unlink>' },
      ]),
    );
    assert.deepEqual(
      unlink.parentLinks.map((l) => l.parentRef),
      [null],
    );
  });

  it('an internal error in one module skips that module only (§2.3 error boundary)', () => {
    const h = createHarness({
      catalog: (base) => ({
        ...base,
        tagIdByName: (name) => {
          if (name === 'boom') throw new Error('tag lookup failed');
          return base.tagIdByName(name);
        },
      }),
    });
    const out = h.feed(
      agentXml('10:00:00', [
        { name: 'bad', data: '1', extra: '<tags>boom</tags>' },
        { name: 'cpu', data: '2' },
      ]),
    );
    assert.deepEqual(
      out.newModules.map((m) => m.nombre),
      ['cpu'],
    );
    assert.match(out.warnings.join('\n'), /module 'bad' skipped after an internal error/);
    assert.equal(h.status('cpu').datos, '2.00000');
  });

  it('D-7: a missing status row is recreated and the datum processed', () => {
    const h = createHarness();
    run(h, ['5']);
    h.editModule('cpu', (m) => ({ ...m, status: undefined }));
    const out = h.feed(X('10:05:00', '6'));
    assert.equal(out.statusWrites[0]?.insert, true);
    assert.equal(h.status('cpu').datos, '6.00000');
  });

  it('D-5: an existing module keeps its stored type whatever the XML says', () => {
    const h = createHarness();
    run(h, ['5']);
    h.feed(X('10:05:00', 'text', '', 'generic_data_string'));
    assert.equal(h.status('cpu').datos, '5.00000');
    assert.equal(h.strings.length, 0);
  });
});
