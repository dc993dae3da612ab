import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAgentCache } from '../../src/dataserver/state/agent-cache.js';
import type { AgentSnapshot } from '../../src/dataserver/state/load-state.js';
import type { ModuleConfig, ModuleState } from '../../src/dataserver/types.js';

// The interner looks at every field whatever they are, so a few stand for the whole config.
const config = (fields: Record<string, unknown>): ModuleConfig =>
  ({ ...fields }) as unknown as ModuleConfig;

function snapshot(agentId: number, modules: Record<string, ModuleConfig>): AgentSnapshot {
  const map = new Map<string, ModuleState>();
  let id = agentId * 100;
  for (const [name, c] of Object.entries(modules)) {
    // Names built at run time, as the parser and the loader build them: equal, not identical.
    const built = [name, ''].join('');
    map.set(built.toLowerCase(), {
      ref: { id: ++id },
      statusRef: { id },
      nameEncoded: built,
      config: c,
      status: undefined,
      inc: undefined,
    });
  }
  return {
    agent: { ref: { id: agentId } } as AgentSnapshot['agent'],
    modules: map,
    signature: 's',
  };
}

const moduleOf = (cache: ReturnType<typeof createAgentCache>, agent: string, module: string) => {
  const m = cache.get(agent)?.snapshot.modules.get(module);
  assert.ok(m, `${agent}/${module}`);
  return m;
};

test('agents with the same module settings share one configuration object', () => {
  const cache = createAgentCache();
  const cpu = { typeName: 'generic_data', minWarning: 50, maxWarning: 75, description: '' };
  cache.set('a', snapshot(1, { cpu: config(cpu), disk: config({ ...cpu, minWarning: 90 }) }), '');
  cache.set('b', snapshot(2, { cpu: config(cpu), disk: config({ ...cpu, minWarning: 90 }) }), '');
  assert.equal(moduleOf(cache, 'a', 'cpu').config, moduleOf(cache, 'b', 'cpu').config);
  assert.equal(moduleOf(cache, 'a', 'disk').config, moduleOf(cache, 'b', 'disk').config);
  assert.notEqual(moduleOf(cache, 'a', 'cpu').config, moduleOf(cache, 'a', 'disk').config);
  // Ids and per-module state stay each module's own.
  assert.notEqual(moduleOf(cache, 'a', 'cpu').ref.id, moduleOf(cache, 'b', 'cpu').ref.id);
  assert.equal(moduleOf(cache, 'b', 'disk').config.minWarning, 90);
});

test('configurations that differ in any field, or only in a value type, stay apart', () => {
  const cache = createAgentCache();
  cache.set('a', snapshot(1, { m: config({ min: Number.NaN, unit: '' }) }), '');
  cache.set('b', snapshot(2, { m: config({ min: null, unit: '' }) }), '');
  cache.set('c', snapshot(3, { m: config({ min: '0', unit: '' }) }), '');
  cache.set('d', snapshot(4, { m: config({ min: 0, unit: '' }) }), '');
  cache.set('e', snapshot(5, { m: config({ unit: '', min: 0 }) }), ''); // field order is no matter
  const configs = ['a', 'b', 'c', 'd'].map((k) => moduleOf(cache, k, 'm').config);
  assert.equal(new Set(configs).size, 4);
  assert.equal(moduleOf(cache, 'e', 'm').config, moduleOf(cache, 'd', 'm').config);
});

test('a changed configuration replaces the shared one only for its module', () => {
  const cache = createAgentCache();
  const base = { typeName: 'generic_data', maxCritical: 0 };
  cache.set('a', snapshot(1, { cpu: config(base) }), '');
  cache.set('b', snapshot(2, { cpu: config(base) }), '');
  const shared = moduleOf(cache, 'a', 'cpu').config;
  // The console edits b's thresholds: the next write-through carries a new config object.
  const next = cache.get('b')?.snapshot;
  assert.ok(next);
  const modules = new Map(next.modules);
  modules.set('cpu', {
    ...moduleOf(cache, 'b', 'cpu'),
    config: config({ ...base, maxCritical: 9 }),
  });
  cache.set('b', { ...next, modules }, '');
  assert.equal(moduleOf(cache, 'a', 'cpu').config, shared);
  assert.equal(moduleOf(cache, 'b', 'cpu').config.maxCritical, 9);
  assert.equal(shared.maxCritical, 0);
});

test('the module count follows a map that grew in place between two writes', () => {
  const cache = createAgentCache();
  cache.set('a', snapshot(1, { cpu: config({ unit: '' }), mem: config({ unit: '' }) }), '');
  assert.equal(cache.modules, 2);
  // The writer updates the cached map in place after COMMIT, then writes the entry through.
  const held = cache.get('a')?.snapshot;
  assert.ok(held);
  const grown = snapshot(1, { disk: config({ unit: '' }) }).modules.get('disk');
  assert.ok(grown);
  held.modules.set('disk', grown);
  cache.set('a', held, '');
  assert.equal(cache.modules, 3);
  cache.evict('a');
  assert.equal(cache.modules, 0);
});
