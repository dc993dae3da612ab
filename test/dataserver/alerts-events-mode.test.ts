/**
 * spec alerts.md §8.44 and the §5.5 events-only mode: no queue row; the executor's events are
 * written by us in the datum's transaction; commands are never run.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createAlertFixture, type AlertFixture } from './alerts-fixture.js';

let f: AlertFixture;
before(async () => {
  f = await createAlertFixture({ execution: 'events' });
});
after(() => f.close());

test('§8.44 events mode: no row, one alert_fired event, last_execution = now, nothing run', async () => {
  const a = await f.fresh();
  assert.deepEqual(await f.seq(f.cpu, 95), [[1, 1]]);
  assert.equal((await f.queue()).length, 0);
  const events = await f.events("event_type LIKE 'alert%'");
  assert.equal(events.length, 1);
  const e = events[0] ?? {};
  assert.equal(e['event_type'], 'alert_fired');
  assert.equal(e['evento'], 'fired&#x20;&#40;Tmax&#41;&#x20;assigned&#x20;to&#x20;&#40;cpu&#41;');
  assert.equal(Number(e['criticity']), 4);
  assert.equal(Number(e['id_alert_am']), a);
  assert.deepEqual(JSON.parse(String(e['custom_data'])), {
    actions: ['Echo action'],
    forced: 0,
    recovered: 0,
  });
  const [link] = await f.sql(
    'SELECT last_execution FROM talert_template_module_actions WHERE id_alert_template_module = ?',
    [a],
  );
  assert.equal(Number(link?.['last_execution']), f.clock.now);
  f.clock.advance(1);
  await f.send(f.cpu, 10);
  const recovered = await f.events("event_type = 'alert_recovered'");
  assert.equal(recovered.length, 1);
  assert.equal(Number(recovered[0]?.['criticity']), 2);
});

test('§5.5 events mode runs the seeded Monitoring Event action with its macros (as test 39)', async () => {
  const a = await f.fresh({}, { id_agent_module: f.load });
  await f.sql('UPDATE talert_template_modules SET id_alert_template = 1 WHERE id = ?', [a]);
  await f.sql(
    'UPDATE talert_template_module_actions SET id_alert_action = 3 WHERE id_alert_template_module = ?',
    [a],
  );
  f.definitions.invalidate();
  await f.send(f.load, 95);
  f.clock.advance(1);
  await f.send(f.load, 10);
  const events = await f.events("event_type LIKE 'alert%'");
  assert.deepEqual(
    events.map((e) => [e['event_type'], e['evento'], Number(e['criticity']), e['source']]),
    [
      [
        'alert_fired',
        'host1&#x20;load&#x20;generated&#x20;an&#x20;event&#x20;alert&#x20;&#40;95&#41;',
        4,
        'pandora',
      ],
      [
        'alert_ceased',
        'RECOVERED:&#x20;host1&#x20;load&#x20;generated&#x20;event&#x20;alert&#x20;&#40;10&#41;',
        4,
        'pandora',
      ],
    ],
  );
});
