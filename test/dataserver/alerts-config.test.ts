/**
 * The alert keys of spec alerts.md §6 as `serve` reads them: part of the dataserver's settings,
 * so pandora_server.conf, the environment and flags set them, and `DataserverConfig.alerts`
 * carries the engine's configuration (warmup_alert_interval is warmup_event_interval's alias).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfText } from '../../src/core/conf-file.js';
import { DATASERVER_SETTINGS, loadDataserverConfig } from '../../src/dataserver/index.js';

test('every alert key is a dataserver setting (serve --help, pandora_server.conf)', () => {
  for (const key of [
    'alertserver',
    'alertserver_queue',
    'alertserver_threads',
    'alertserver_warn',
    'warmup_alert_interval',
    'event_inhibit_alerts',
    'alert_execution',
    'alert_config_refresh',
    'alert_time_source',
  ])
    assert.ok(key in DATASERVER_SETTINGS, key);
});

test('pandora_server.conf sets the alert configuration; defaults otherwise', () => {
  const defaults = loadDataserverConfig({ flags: new Map([['servername', 'a01']]) });
  assert.deepEqual(defaults.alerts, {
    execution: 'queue',
    configRefreshSeconds: 10,
    timeSource: 'now',
    warnSeconds: 180,
    warmupSeconds: 0,
    delegatedToAlertServer: false,
  });
  const file = parseConfText(
    [
      'servername a01',
      'alertserver 1',
      'alertserver_warn 5',
      'warmup_alert_interval 60',
      'alert_execution events',
      'alert_config_refresh 3',
      'alert_time_source data',
    ].join('\n'),
    'pandora_server.conf',
  );
  const c = loadDataserverConfig({ file });
  assert.deepEqual(c.alerts, {
    execution: 'events',
    configRefreshSeconds: 3,
    timeSource: 'data',
    warnSeconds: 5,
    warmupSeconds: 60,
    delegatedToAlertServer: true,
  });
  assert.equal(c.logic.warmupEventInterval, 60, 'the alias sets the status-event warm-up too');
});

test('an unknown alert_execution value is refused', () => {
  assert.throws(
    () =>
      loadDataserverConfig({
        flags: new Map([
          ['servername', 'a01'],
          ['alert_execution', 'shell'],
        ]),
      }),
    /alert_execution must be one of queue, events/,
  );
});
