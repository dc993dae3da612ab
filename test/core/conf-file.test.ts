import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfText } from '../../src/core/conf-file.js';
import { parseLongFlags, resolveSettings } from '../../src/core/settings.js';

test('conf parser: letter-led lines only, trailing whitespace and CR trimmed, last wins', () => {
  const text = [
    '# comment',
    '  port 1',
    'port 41121',
    'password secret \r',
    'directory /var/spool/pandora/data_in',
    'empty ',
    'port 41299',
    'filters .*\\.conf:conf;.*\\.md5:md5',
  ].join('\n');
  const conf = parseConfText(text, 'x.conf');
  assert.equal(conf.get('port')?.value, '41299');
  assert.equal(conf.get('port')?.source, 'x.conf:7');
  assert.equal(conf.get('password')?.value, 'secret');
  assert.equal(conf.get('filters')?.value, '.*\\.conf:conf;.*\\.md5:md5');
  assert.equal(conf.has('empty'), false);
  assert.equal(conf.size, 4);
});

test('settings: flag over env over file over default; validation names the source', () => {
  const table = {
    port: { kind: 'int', default: 41121, min: 1, max: 65535, help: 'port' },
    overwrite: { kind: 'bool', default: false, help: 'overwrite' },
    password: { kind: 'string', help: 'password', secret: true },
  } as const;
  // A switch that is neither 1 nor 0 stops the start (issue 14; was: a warning, read as off).
  assert.throws(
    () => resolveSettings(table, { file: parseConfText('port 1000\noverwrite yes\n', 'a.conf') }),
    /a\.conf:2: overwrite must be 1 or 0, got "yes"/,
  );
  const file = parseConfText('port 1000\noverwrite 0\n', 'a.conf');
  const r = resolveSettings(table, { file, env: { PANDORA_PORT: '2000' } });
  assert.equal(r.values.port, 2000);
  assert.equal(r.values.overwrite, false);
  assert.equal(r.values.password, undefined);
  assert.equal(r.warnings.length, 0);
  const { flags, positional } = parseLongFlags(['--port=3000', 'serve', '--overwrite'], table);
  const r2 = resolveSettings(table, { file, flags });
  assert.equal(r2.values.port, 3000);
  assert.equal(r2.values.overwrite, true);
  assert.deepEqual(positional, ['serve']);
  assert.throws(
    () => resolveSettings(table, { file: parseConfText('port 70000\n', 'b.conf') }),
    /b\.conf:1: port must be <= 65535/,
  );
  assert.throws(() => parseLongFlags(['--nope', '1'], table), /unknown option --nope/);
});
