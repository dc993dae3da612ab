// Randomised sequences of packets through processPacket, checking properties that must hold
// for every outcome: refs resolvable in insert order, one status write per module, the
// compaction rule replayed independently, and inputs never mutated.
import './logic-tz.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lookupKey } from '../../src/dataserver/types.js';
import {
  agentXml,
  checkOutcomeRefs,
  createHarness,
  T0,
  type ModuleSpec,
} from './logic-fixtures.js';

function createRng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

const TYPES = [
  'generic_data',
  'generic_proc',
  'generic_data_string',
  'async_data',
  'generic_data_inc',
];
const VALUES = ['0', '1', '1', '5', '5.0', '7,5', ' 5 ', 'abc', '', '95', 'OK', 'FAIL'];
const EXTRAS = [
  '',
  '<min_critical>90</min_critical><min_warning>70</min_warning>',
  '<min_ff_event>1</min_ff_event>',
  '<str_critical>FAIL</str_critical>',
  '<max>10</max>',
];

describe('processPacket invariants over random packet sequences', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`seed ${String(seed)}: 300 packets for 3 agents`, () => {
      const rng = createRng(seed);
      const h = createHarness();
      /** Independent replay of THE COMPACTION RULE: last stored value and time per module. */
      const stored = new Map<string, { datos: string; at: number }>();
      for (let step = 0; step < 300; step++) {
        const agent = `agent-${String(rng(3))}`;
        const time = T0 + step * 300; // increasing data time: no out-of-order data here
        const modules: ModuleSpec[] = Array.from({ length: 1 + rng(4) }, () => {
          const i = rng(5);
          return {
            name: `m${String(i)}`,
            type: TYPES[i] ?? 'generic_data',
            data: VALUES[rng(VALUES.length)] ?? '1',
            extra: EXTRAS[rng(EXTRAS.length)] ?? '',
          };
        });
        const before = h.agents.get(lookupKey(agent));
        const beforeJson = JSON.stringify(before);
        const date = new Date(time * 1000).toISOString().slice(0, 19).replace('T', ' ');
        const outcome = h.feed(agentXml(date.replace(/-/g, '/'), modules, { agent_name: agent }), {
          nowSec: time + 1,
        });
        assert.equal(JSON.stringify(before), beforeJson, 'input state mutated');
        checkOutcomeRefs(outcome);
        // Replay the rule over what was kept.
        for (const row of [...outcome.numericHistory, ...outcome.stringHistory]) {
          const state = h.outcomes.at(-1)?.moduleStates.find((m) => m.ref === row.ref);
          assert.ok(state);
          const key = `${agent}/${state.nameEncoded}`;
          const last = stored.get(key);
          const isAsync = state.config.typeName.includes('async');
          if (!isAsync && last !== undefined) {
            assert.ok(
              last.datos !== row.datos || last.at < row.utimestamp - 86_400,
              `${key}: equal value stored again within 24 h`,
            );
          }
          stored.set(key, { datos: row.datos, at: row.utimestamp });
        }
      }
      // The final status datos of every module with history equals its last stored row when
      // the stored value changed.
      for (const [key, last] of stored) {
        const [agent = '', module = ''] = key.split('/');
        const status = h.status(module, agent);
        assert.equal(status.datos, last.datos, `${key}: datos is the last stored value`);
      }
    });
  }
});
