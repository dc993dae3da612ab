// Nothing in a configuration file is dropped without a word: ignored keys are named with their
// reason, unknown keys get the nearest known key, and a bad value of any type stops the start
// naming file, line and key.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfText } from '../../src/core/conf-file.js';
import {
  editDistance,
  ignoredKeysMessage,
  nearestKey,
  reviewConfKeys,
  unknownKeyMessage,
} from '../../src/core/conf-review.js';
import { resolveSettings, type SettingsTable } from '../../src/core/settings.js';
import { deliveryFileWarnings } from '../../src/agent/config.js';
import { DATASERVER_SETTINGS } from '../../src/dataserver/config.js';
import { resolveTentacleSettings } from '../../src/tentacle/settings.js';

const TABLE = {
  dataserver: { kind: 'bool', default: true, help: 'switch' },
  dataserver_threads: { kind: 'int', default: 1, min: 0, help: 'threads' },
  log_format: { kind: 'string', default: 'text', values: ['text', 'json'], help: 'layout' },
  incomingdir: { kind: 'string', help: 'folder' },
} as const satisfies SettingsTable;

test('edit distance and the nearest known key', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('same', 'same'), 0);
  const known = Object.keys(TABLE);
  assert.equal(nearestKey('dataserver_thread', known), 'dataserver_threads');
  assert.equal(nearestKey('incomigdir', known), 'incomingdir');
  assert.equal(nearestKey('log_fromat', known), 'log_format');
  assert.equal(nearestKey('colour', known), undefined);
});

test('review: honoured keys pass, ignored ones carry their reason, unknown ones a suggestion', () => {
  const file = parseConfText(
    [
      '# comment',
      'dataserver 1',
      'snmpconsole 0',
      'dataserver_thread 4',
      'frobnicate 1',
      'incomingdir /x',
    ].join('\n'),
    'pandora_server.conf',
  );
  const review = reviewConfKeys(file, new Set(Object.keys(TABLE)), {
    snmpconsole: "another server's job",
    // Listed as ignored but honoured by the table: honoured wins (a later branch honours it).
    incomingdir: 'stale entry',
  });
  assert.deepEqual(review.ignored, [
    { key: 'snmpconsole', source: 'pandora_server.conf:3', reason: "another server's job" },
  ]);
  assert.deepEqual(review.unknown, [
    { key: 'dataserver_thread', source: 'pandora_server.conf:4', suggestion: 'dataserver_threads' },
    { key: 'frobnicate', source: 'pandora_server.conf:5', suggestion: undefined },
  ]);
  assert.equal(
    unknownKeyMessage(review.unknown[0] ?? { key: '', source: '', suggestion: undefined }),
    'pandora_server.conf:4: unknown configuration key dataserver_thread ignored; did you mean dataserver_threads?',
  );
  assert.equal(
    ignoredKeysMessage([
      { key: 'a', source: 'f:1', reason: 'R1' },
      { key: 'b', source: 'f:2', reason: 'R2' },
      { key: 'c', source: 'f:3', reason: 'R1' },
    ]),
    '3 configuration keys ignored. a, c: R1. b: R2.',
  );
  assert.equal(ignoredKeysMessage([]), undefined);
});

test('a bad value of every kind is an error naming file, line and key', () => {
  const resolve = (text: string) =>
    resolveSettings(TABLE, { file: parseConfText(text, '/etc/pandora/pandora_server.conf') });
  assert.throws(
    () => resolve('incomingdir /x\ndataserver yes\n'),
    /^ConfigError: \/etc\/pandora\/pandora_server\.conf:2: dataserver must be 1 or 0, got "yes"$/,
  );
  assert.throws(
    () => resolve('\n\nlog_format xml\n'),
    /pandora_server\.conf:3: log_format must be one of text, json, got "xml"/,
  );
  assert.throws(
    () => resolve('dataserver_threads four\n'),
    /pandora_server\.conf:1: dataserver_threads must be an integer, got "four"/,
  );
  assert.throws(
    () => resolve('dataserver_threads -1\n'),
    /pandora_server\.conf:1: dataserver_threads must be >= 0, got -1/,
  );
  // The environment and the command line are named the same way.
  assert.throws(
    () => resolveSettings(TABLE, { env: { PANDORA_DATASERVER: '2' } }),
    /PANDORA_DATASERVER: dataserver must be 1 or 0, got "2"/,
  );
  assert.throws(
    () => resolveSettings(TABLE, { flags: new Map([['log_format', 'yaml']]) }),
    /--log-format: log_format must be one of text, json/,
  );
  const good = resolve('dataserver 0\nlog_format json\n').values;
  assert.equal(good.dataserver, false);
  assert.equal(good.log_format, 'json');
});

test('pandora_agent.conf for tentacle-client: agent keys named once, typos with a suggestion', () => {
  const file = parseConfText(
    [
      'server_ip localhost',
      'logfile /var/log/pandora/pandora_agent.log',
      'group Servers',
      'module_name cpu',
      'server_prot 41121',
    ].join('\n'),
    'pandora_agent.conf',
  );
  const warnings = deliveryFileWarnings(file);
  assert.equal(warnings.length, 2);
  assert.match(
    warnings[0] ?? '',
    /^pandora_agent\.conf: 3 configuration keys ignored\. logfile, group, module_name: the agent's own work/,
  );
  assert.equal(
    warnings[1],
    'pandora_agent.conf:5: unknown configuration key server_prot ignored; did you mean server_port?',
  );
});

test('enumerated keys of the real tables name file:line too (sync, xml_parser)', () => {
  assert.throws(
    () =>
      resolveTentacleSettings({
        file: parseConfText('\nsync sometimes\n', 'tentacle_server.conf'),
      }),
    /tentacle_server\.conf:2: sync must be one of always, none, got "sometimes"/,
  );
  assert.throws(
    () =>
      resolveSettings(DATASERVER_SETTINGS, { file: parseConfText('xml_parser sax\n', 'p.conf') }),
    /p\.conf:1: xml_parser must be one of builtin, fast-xml-parser, got "sax"/,
  );
});
