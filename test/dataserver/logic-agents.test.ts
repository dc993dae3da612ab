// Spec §9 cases 14–24 (agents) and 54–57, 60 (agent timestamps) over the pure core.
import './logic-tz.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { agentXml, createHarness, T0, X } from './logic-fixtures.js';

describe('agent auto-creation (§3.3)', () => {
  it('14: creates host1 with the reference columns and a new_agent event', () => {
    const h = createHarness();
    const out = h.feed(X('10:00:00', '5'), { nowSec: T0 + 30 });
    const row = out.newAgent;
    assert.ok(row);
    assert.equal(row.nombre, 'host1');
    assert.equal(row.alias, 'host1');
    assert.equal(row.id_grupo, 2);
    assert.equal(row.id_os, 1);
    assert.equal(row.modo, 1);
    assert.equal(row.intervalo, 300);
    assert.equal(row.server_name, 'pandora01');
    assert.equal(row.ultimo_contacto_remoto, '2024-03-01 10:00:00');
    assert.equal(row.ultimo_contacto, '2024-03-01 10:00:30');
    assert.equal(row.update_module_count, 1);
    assert.equal(out.agentUpdate, undefined);
    assert.equal(h.events.length, 1);
    const [event] = h.events;
    assert.equal(event?.type, 'new_agent');
    assert.equal(event.criticity, 2);
    assert.equal(event.groupId, 2);
    assert.equal(event.agentId, row.ref.id);
    assert.equal(event.evento, 'Agent&#x20;[host1]&#x20;created&#x20;by&#x20;pandora01');
  });

  it('15: encodes name and alias; later files find the agent case-insensitively', () => {
    const h = createHarness();
    const first = h.feed(
      agentXml('10:00:00', [{ data: '1' }], { agent_name: 'db (main)', agent_alias: 'DB main' }),
    );
    assert.equal(first.newAgent?.nombre, 'db&#x20;&#40;main&#41;');
    assert.equal(first.newAgent.alias, 'DB&#x20;main');
    const second = h.feed(agentXml('10:05:00', [{ data: '1' }], { agent_name: 'db (main)' }));
    assert.equal(second.newAgent, undefined);
    const third = h.feed(agentXml('10:10:00', [{ data: '1' }], { agent_name: 'DB (MAIN)' }));
    assert.equal(third.newAgent, undefined);
    assert.equal(third.agentUpdate?.ref, first.newAgent.ref);
    assert.equal(h.agentRows.size, 1);
    assert.equal(h.moduleRows.size, 1);
  });

  const groupCases: {
    name: string;
    attrs: Record<string, string>;
    config: Record<string, unknown>;
    group: number | undefined;
  }[] = [
    { name: 'unknown group → autocreate_group', attrs: { group: 'Nope' }, config: {}, group: 10 },
    {
      name: 'autocreate_group_force wins over the agent group',
      attrs: { group: 'Servers' },
      config: { autocreateGroupForce: true },
      group: 10,
    },
    {
      name: 'autocreate_group_name is looked up by name',
      attrs: { group: 'Nope' },
      config: { autocreateGroupName: 'Databases' },
      group: 8,
    },
    {
      name: 'autocreate_group id that does not exist is skipped',
      attrs: { group: 'Nope' },
      config: { autocreateGroup: 99 },
      group: undefined,
    },
  ];
  for (const c of groupCases) {
    it(`16: ${c.name}`, () => {
      const h = createHarness({ config: c.config });
      const out = h.feed(agentXml('10:00:00', [{ data: '1' }], c.attrs));
      assert.equal(out.newAgent?.id_grupo, c.group);
    });
  }

  it('16: no valid group → no agent, error event, dropped', () => {
    const h = createHarness({ config: { autocreateGroup: -1 } });
    const xml = X('10:00:00', '5').replace("group='Servers' ", '');
    const out = h.feed(xml);
    assert.equal(out.dropped, 'no-valid-group');
    assert.equal(out.newAgent, undefined);
    assert.equal(out.statusWrites.length, 0);
    assert.deepEqual(
      h.events.map((e) => [e.type, e.criticity, e.agentId, e.groupId, e.evento]),
      [
        [
          'error',
          0,
          0,
          0,
          'Unable&#x20;to&#x20;create&#x20;agent&#x20;&#039;host1&#039;:&#x20;No&#x20;valid&#x20;group&#x20;found.',
        ],
      ],
    );
  });

  it('17: autocreate 0 → nothing at all', () => {
    const h = createHarness({ config: { autocreate: false } });
    const out = h.feed(X('10:00:00', '5'));
    assert.equal(out.dropped, 'autocreate-off');
    assert.equal(out.events.length, 0);
    assert.equal(h.agents.size, 0);
  });

  const osCases: [string, number][] = [
    ['', 10],
    ['Windows Server 2019', 9],
    ['linux', 1],
    ['SunOS', 2],
    ['FreeBSD', 4],
    ['Darwin', 8],
    ['z/OS mainframe', 16],
    ['Plan 9', 10],
  ];
  for (const [os, id] of osCases) {
    it(`OS mapping '${os}' → id_os ${String(id)}`, () => {
      const h = createHarness();
      const out = h.feed(agentXml('10:00:00', [{ data: '1' }], { os_name: os }));
      assert.equal(out.newAgent?.id_os, id);
    });
  }
});

describe('existing agents (§3.4)', () => {
  it('18: learning mode updates interval, versions and module_interval, never os/group', () => {
    const h = createHarness();
    h.feed(X('10:00:00', '5'));
    const out = h.feed(
      agentXml('10:05:00', [{ data: '5' }], {
        interval: '60',
        version: '7.1',
        os_version: 'X',
        os_name: 'Windows',
        group: 'Unknown',
      }),
    );
    const update = out.agentUpdate;
    assert.ok(update);
    assert.equal(update.intervalo, 60);
    assert.equal(update.agent_version, '7.1');
    assert.equal(update.os_version, 'X');
    assert.equal(h.agent().osId, 1);
    assert.equal(h.agent().groupId, 2);
    assert.deepEqual(
      out.moduleConfigUpdates.map((u) => u.module_interval),
      [60],
    );
    assert.equal(h.module('cpu').config.moduleInterval, 60);
  });

  it('19: no-learn mode creates no module and keeps the interval, but stores data', () => {
    const h = createHarness();
    h.feed(X('10:00:00', '5'));
    h.editAgent((a) => ({ ...a, mode: 0 }));
    const out = h.feed(
      agentXml(
        '10:05:00',
        [
          { name: 'cpu', data: '6' },
          { name: 'mem', data: '1' },
        ],
        {
          interval: '60',
        },
      ),
    );
    assert.equal(out.newModules.length, 0);
    assert.equal(out.agentUpdate?.intervalo, 300);
    assert.equal(out.agentUpdate.ultimo_contacto_remoto, '2024-03-01 10:05:00');
    assert.equal(out.moduleConfigUpdates.length, 0);
    assert.equal(h.status('cpu').datos, '6.00000');
  });

  it('20: a disabled agent is dropped untouched', () => {
    const h = createHarness();
    h.feed(X('10:00:00', '5'));
    h.editAgent((a) => ({ ...a, disabled: true }));
    const out = h.feed(X('10:05:00', '6'));
    assert.equal(out.dropped, 'agent-disabled');
    assert.equal(out.agentUpdate, undefined);
    assert.equal(out.statusWrites.length, 0);
    assert.equal(h.status('cpu').datos, '5.00000');
  });

  it('21: an autodisable agent comes back and its datum is processed', () => {
    const h = createHarness();
    h.feed(X('10:00:00', '5'));
    h.editAgent((a) => ({ ...a, disabled: true, mode: 2 }));
    const out = h.feed(X('10:05:00', '6'));
    assert.equal(out.agentUpdate?.disabled, 0);
    assert.equal(h.agent().disabled, false);
    assert.equal(h.status('cpu').datos, '6.00000');
  });

  it('22: addresses: main on creation, all linked once, fixed_ip keeps direccion', () => {
    const h = createHarness();
    const attrs = { address: '10.0.0.1, 10.0.0.2' };
    const first = h.feed(agentXml('10:00:00', [{ data: '1' }], attrs));
    assert.equal(first.newAgent?.direccion, '10.0.0.1');
    assert.deepEqual(first.addresses, ['10.0.0.1', '10.0.0.2']);
    const second = h.feed(agentXml('10:05:00', [{ data: '1' }], attrs));
    assert.deepEqual(second.addresses, []);
    assert.equal(second.agentUpdate?.direccion, undefined);
    h.editAgent((a) => ({ ...a, fixedIp: true }));
    const third = h.feed(agentXml('10:10:00', [{ data: '1' }], { address: '10.0.0.9' }));
    assert.equal(third.agentUpdate?.direccion, undefined);
    assert.deepEqual(third.addresses, ['10.0.0.9']);
    assert.equal(h.agent().address, '10.0.0.1');
  });

  it('23: parent by name; unknown parent leaves id_parent unchanged', () => {
    const h = createHarness();
    const router = h.feed(agentXml('10:00:00', [{ data: '1' }], { agent_name: 'router' }));
    const routerId = router.newAgent?.ref.id;
    h.feed(X('10:00:00', '5'));
    const out = h.feed(agentXml('10:05:00', [{ data: '5' }], { parent_agent_name: 'router' }));
    assert.equal(out.agentUpdate?.id_parent, routerId);
    const next = h.feed(agentXml('10:10:00', [{ data: '5' }], { parent_agent_name: 'nope' }));
    assert.equal(next.agentUpdate?.id_parent, routerId);
  });

  it('24: custom fields known to the catalog are written (encoded), others ignored', () => {
    const h = createHarness();
    const fields = (v: string) =>
      `<custom_fields><field><name>Serial</name><value>${v}</value></field><field><name>Nope</name><value>x</value></field></custom_fields><module><name>cpu</name><data>1</data></module>`;
    const first = h.feed(agentXml('10:00:00', fields('A 1')));
    assert.deepEqual(
      first.customData.map((c) => [c.id_field, c.description]),
      [[7, 'A&#x20;1']],
    );
    const second = h.feed(agentXml('10:05:00', fields('B')));
    assert.deepEqual(
      second.customData.map((c) => [c.id_field, c.description]),
      [[7, 'B']],
    );
  });
});

describe('XML <events> (§1.6)', () => {
  const events = (...items: string[]) =>
    `<events>${items.map((i) => `<event>${i}</event>`).join('')}</events><module><name>cpu</name><data>1</data></module>`;
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');

  it('one system event per decodable item; group only when the file created the agent', () => {
    const h = createHarness();
    const first = h.feed(
      agentXml('10:00:00', events(b64({ data: 'disk (sda) failing', severity: 4 }), '!!!')),
    );
    assert.match(first.warnings.join('\n'), /undecodable <event>/);
    const second = h.feed(agentXml('10:05:00', events(b64({ data: 'again', severity: 99 }))));
    const system = h.events.filter((e) => e.type === 'system');
    assert.deepEqual(
      system.map((e) => [e.evento, e.criticity, e.groupId, e.agentId, e.moduleId]),
      [
        ['disk&#x20;&#40;sda&#41;&#x20;failing', 4, 2, h.agent().ref.id, 0],
        ['again', 0, 0, h.agent().ref.id, 0],
      ],
    );
    assert.equal(second.events.length, 1);
  });
});

describe('agent timestamps (§3.1)', () => {
  const MTIME = T0 + 7200; // 12:00:00
  it('54: use_xml_timestamp 0 → file mtime, tz offset ignored', () => {
    const h = createHarness({ parse: { useXmlTimestamp: false } });
    const out = h.feed(agentXml('10:00:00', [{ data: '5' }], { timezone_offset: '3' }), {
      mtimeSec: MTIME,
    });
    assert.equal(out.newAgent?.ultimo_contacto_remoto, '2024-03-01 12:00:00');
    assert.equal(out.newAgent.timezone_offset, 0);
    assert.deepEqual(h.history('cpu'), [['5.00000', MTIME]]);
  });

  it('55: missing timestamp → file mtime', () => {
    const h = createHarness();
    const out = h.feed(agentXml(undefined, [{ data: '5' }]), { mtimeSec: MTIME });
    assert.equal(out.newAgent?.ultimo_contacto_remoto, '2024-03-01 12:00:00');
    assert.deepEqual(h.history('cpu'), [['5.00000', MTIME]]);
  });

  it('56: AUTO → server time', () => {
    const h = createHarness();
    h.feed(agentXml('2024/03/01 AUTO', [{ data: '5' }]).replace("'2024/03/01 AUTO'", "'AUTO'"), {
      nowSec: T0 + 999,
    });
    assert.deepEqual(h.history('cpu'), [['5.00000', T0 + 999]]);
  });

  it('57: timezone_offset is applied exactly once (D-3)', () => {
    const h = createHarness();
    const out = h.feed(agentXml('10:00:00', [{ data: '5' }], { timezone_offset: '2' }));
    assert.equal(out.newAgent?.ultimo_contacto_remoto, '2024-03-01 12:00:00');
    assert.equal(out.newAgent.timezone_offset, 2);
    assert.deepEqual(h.history('cpu'), [['5.00000', T0 + 7200]]);
  });

  for (const bad of ['yesterday', '', '2024/02/30 10:00:00', '2024/03/01 25:00:00']) {
    it(`60: invalid timestamp '${bad}' → file mtime with a warning (D-2)`, () => {
      const h = createHarness();
      const xml = agentXml(undefined, [{ data: '5' }], { timestamp: bad });
      const out = h.feed(xml, { mtimeSec: MTIME });
      assert.equal(out.newAgent?.ultimo_contacto_remoto, '2024-03-01 12:00:00');
      assert.match(out.warnings.join('\n'), /invalid agent timestamp/);
    });
  }

  for (const tz of ['2.5', 'abc', '15', '-13']) {
    it(`timezone_offset '${tz}' is not an integer in [-12, 14] → 0`, () => {
      const h = createHarness();
      const out = h.feed(agentXml('10:00:00', [{ data: '5' }], { timezone_offset: tz }));
      assert.equal(out.newAgent?.timezone_offset, 0);
      assert.equal(out.newAgent.ultimo_contacto_remoto, '2024-03-01 10:00:00');
    });
  }
});
