// Server names become folder names, some removed recursively: only one path segment is allowed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPathSegment } from '../../src/core/path-segment.js';
import { ConfigError } from '../../src/core/errors.js';
import { loadDataserverConfig } from '../../src/dataserver/config.js';

test('a path segment is a plain entry name', () => {
  for (const ok of ['srv1', 'pandora.example.com', '.hidden', '...', 'a b', 'ñandú'])
    assert.equal(isPathSegment(ok), true, ok);
  for (const bad of ['', '.', '..', 'a/b', '/abs', '../x', 'a\\b', 'nul\0'])
    assert.equal(isPathSegment(bad), false, JSON.stringify(bad));
});

test('servername . and .. are refused like one with a slash', () => {
  for (const name of ['.', '..', 'a/b']) {
    assert.throws(
      () => loadDataserverConfig({ flags: new Map([['servername', name]]) }),
      ConfigError,
      name,
    );
  }
  assert.equal(
    loadDataserverConfig({ flags: new Map([['servername', 'srv1']]) }).serverName,
    'srv1',
  );
});
