import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { changedKeys, ReloadActions, settingsReloadAction } from '../../src/reload.js';

function memoryLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) },
  );
  return { logger, lines };
}

test('changedKeys compares values as text and lists added and removed keys', () => {
  assert.deepEqual(changedKeys({ a: 1, b: 'x', c: true }, { a: 1, b: 'y', d: false }), [
    'b',
    'c',
    'd',
  ]);
});

test('a failing action is named; the others run; a signal during a reload runs it again', async () => {
  const { logger, lines } = memoryLogger();
  const actions = new ReloadActions();
  let runs = 0;
  actions.add('first', () => {
    runs++;
    return { changed: ['a'] };
  });
  actions.add('broken', () => {
    throw new Error('bad file');
  });
  actions.add('last', async () => {
    await new Promise((r) => setTimeout(r, 20));
    return { restartNeeded: ['dbhost'] };
  });
  await Promise.all([actions.run(logger), actions.run(logger)]);
  assert.equal(runs, 2);
  const reloads = lines.filter((l) => l['event'] === 'reload');
  assert.equal(reloads.length, 2);
  const [first] = reloads;
  assert.ok(first);
  assert.deepEqual(first['failed'], { broken: 'bad file' });
  assert.deepEqual(first['changed'], ['a']);
  assert.deepEqual(first['restartNeeded'], ['dbhost']);
  assert.ok(lines.some((l) => l['event'] === 'reload_restart_needed'));
});

test('settings: serve keys and tentacle_config keys are sorted into applied and restart', async () => {
  const before = {
    serve: { verbosity: 3, dbhost: 'a', tentacle_max_size: 10 },
    tentacleFile: { port: 1, timeout: 1 },
  };
  const after = {
    serve: { verbosity: 5, dbhost: 'b', tentacle_max_size: 20 },
    tentacleFile: { port: 2, timeout: 2 },
  };
  let levels: number[] = [];
  const action = settingsReloadAction({
    initial: before,
    read: () => after,
    applyLogLevel: (v) => (levels = [...levels, v.verbosity]),
    reconfigureListener: () => ({
      config: {} as never,
      applied: ['maxSize', 'idleTimeoutMs'],
      restartNeeded: ['port'],
    }),
  });
  const outcome = await action();
  assert.ok(outcome);
  assert.deepEqual(levels, [5]);
  assert.deepEqual(outcome.changed, ['tentacle_max_size', 'verbosity', 'tentacle_config:timeout']);
  assert.deepEqual(outcome.restartNeeded, ['dbhost', 'tentacle_config:port']);
  // Without the listener, every tentacle_config key waits for a restart.
  const noListener = settingsReloadAction({
    initial: before,
    read: () => after,
    applyLogLevel: () => undefined,
  });
  assert.deepEqual((await noListener())?.restartNeeded, [
    'dbhost',
    'tentacle_config:port',
    'tentacle_config:timeout',
  ]);
});
