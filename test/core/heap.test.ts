import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CACHED_MODULE_BYTES, SERVE_NODE_FLAGS, cacheHeapWarning } from '../../src/core/heap.js';

const repo = (path: string) =>
  readFileSync(fileURLToPath(new URL(`../../${path}`, import.meta.url)), 'utf8');

test('every way of launching serve carries the bounded-heap flags', () => {
  const flags = SERVE_NODE_FLAGS.join(' ');
  const scripts = (JSON.parse(repo('package.json')) as { scripts: Record<string, string> }).scripts;
  assert.ok(scripts['start']?.includes(flags), 'npm start');
  assert.ok(repo('scripts/dev.sh').includes(flags), 'scripts/dev.sh');
  assert.ok(repo('src/main.ts').startsWith(`#!/usr/bin/env -S node ${flags}\n`), 'bin shebang');
  const entrypoint = SERVE_NODE_FLAGS.map((f) => `"${f}"`).join(', ');
  assert.ok(repo('Dockerfile').includes(`ENTRYPOINT ["node", ${entrypoint},`), 'Dockerfile');
});

test('a module cache too big for the heap is reported, a fitting one is not', () => {
  assert.equal(cacheHeapWarning(1000), undefined);
  const huge = cacheHeapWarning(Math.ceil(64e9 / CACHED_MODULE_BYTES));
  assert.match(huge ?? '', /needs about \d+ MB of heap, more than the \d+ MB limit/);
  assert.match(cacheHeapWarning(0) ?? '', /unbounded/);
});
