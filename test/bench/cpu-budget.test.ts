import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cpuBudgetRows,
  cpuBudgetTable,
  scalingRows,
  type CpuBudgetRow,
} from '../../bench/e2e/render.js';
import type { Row } from '../../bench/lib/index.js';
import type { E2eResult, PassKind, PassResult } from '../../bench/e2e/scenario.js';

function pass(
  kind: PassKind,
  packetsPerSec: number,
  cpu: { server?: number; db?: number; redis?: number; bench: number },
  complete = true,
): PassResult {
  const none = { count: 0, min: 0, mean: 0, p50: 0, p95: 0, p99: 0, max: 0 };
  return {
    name: kind,
    kind,
    startedAtSec: 0,
    packets: 1000,
    acked: 1000,
    committed: complete ? 1000 : 10,
    failed: 0,
    retries: 0,
    complete,
    sendSeconds: 1,
    commitSeconds: 1,
    packetsPerSec,
    ackedPerSec: packetsPerSec,
    moduleValues: 0,
    valuesPerSec: 0,
    historyRows: 0,
    targetRatePerSec: undefined,
    latencyMs: none,
    serverCpuPercent: cpu.server,
    dbCpuPercent: cpu.db,
    ...(cpu.redis === undefined ? {} : { redisCpuPercent: cpu.redis }),
    benchCpuPercent: cpu.bench,
    serverRssBytes: undefined,
    serverFiles: undefined,
    serverRejections: undefined,
    pollMs: none,
    errors: [],
  };
}

function run(...passes: PassResult[]): E2eResult {
  return { passes } as unknown as E2eResult;
}

test('CPU per packet is each CPU share over the packet rate; the ceiling is the cores over the total', () => {
  // 500 pkt/s with the server at 100 % of a core: 2 ms of server CPU per packet.
  const rows = cpuBudgetRows(
    [
      run(
        pass('creation', 250, { server: 100, db: 50, bench: 10 }),
        pass('steady', 500, { server: 100, db: 25, bench: 25 }),
        pass('steady', 1000, { server: 100, db: 50, bench: 50 }),
      ),
    ],
    2,
  );
  assert.equal(rows.length, 2);
  const [creation, steady] = rows as [CpuBudgetRow, CpuBudgetRow];
  assert.equal(creation.pass, 'creation');
  assert.equal(creation.serverMs, 4);
  assert.equal(creation.dbMs, 2);
  assert.equal(creation.benchMs, 0.4);
  assert.equal(creation.totalMs, 6.4);
  assert.equal(creation.ceilingPerSec, 2000 / 6.4);
  assert.equal(creation.targetMs, 2); // 1,000 pkt/s on 2 cores
  // Steady: medians of (2, 1) server, (0.5, 0.5) DB and (0.5, 0.5) bench ms.
  assert.equal(steady.serverMs, 1.5);
  assert.equal(steady.dbMs, 0.5);
  assert.equal(steady.benchMs, 0.5);
  assert.equal(steady.ceilingPerSec, 2000 / 2.5);
  assert.equal(steady.targetMs, 1); // 2,000 pkt/s on 2 cores
});

test('incomplete passes and passes without a server CPU reading are left out', () => {
  const rows = cpuBudgetRows(
    [
      run(
        pass('creation', 300, { bench: 10 }), // --target without --server-pid
        pass('steady', 100, { server: 100, db: 10, bench: 10 }, false),
        pass('steady', 1000, { server: 50, bench: 10 }), // no database CPU reading
      ),
    ],
    4,
  );
  assert.equal(rows.length, 1);
  const [steady] = rows as [CpuBudgetRow];
  assert.equal(steady.serverMs, 0.5);
  assert.ok(Number.isNaN(steady.dbMs));
  assert.equal(steady.totalMs, 0.6);
  assert.equal(steady.ceilingPerSec, 4000 / 0.6);
  const table = cpuBudgetTable(rows, 4);
  assert.deepEqual(Object.keys(table[0] ?? {}), [
    'pass',
    'server ms',
    'DB ms',
    'bench ms',
    'total ms',
    'ceiling on 4 cores, pkt/s',
    'target allows ms',
  ]);
});

test('a scale-out run adds a Redis column, counted in the total', () => {
  // 500 pkt/s: server 100 % = 2 ms, DB 25 % = 0.5 ms, Redis 10 % = 0.2 ms, bench 5 % = 0.1 ms.
  const rows = cpuBudgetRows(
    [run(pass('steady', 500, { server: 100, db: 25, redis: 10, bench: 5 }))],
    2,
  );
  const [steady] = rows as [CpuBudgetRow];
  assert.equal(steady.redisMs, 0.2);
  assert.equal(Math.round(steady.totalMs * 1000) / 1000, 2.8);
  const [row] = cpuBudgetTable(rows, 2);
  assert.deepEqual(Object.keys(row ?? {}).slice(0, 5), [
    'pass',
    'server ms',
    'DB ms',
    'Redis ms',
    'bench ms',
  ]);
});

test('the scaling table gives each point the CPU of its creation and steady packets', () => {
  const point = {
    label: '1,000',
    agents: 1000,
    modules: 33,
    creationPacketsPerSec: 200,
    steadyPacketsPerSec: 400,
    steadyValuesPerSec: 13_200,
    complete: true,
  };
  const [measured, unsampled] = scalingRows([
    {
      ...point,
      passes: [
        pass('creation', 200, { server: 100, db: 60, bench: 20 }),
        pass('steady', 400, { server: 100, db: 20, bench: 20 }),
      ],
    },
    point, // a point without its passes (older JSON)
  ]) as [Row, Row];
  assert.equal(measured['creation CPU ms/pkt'], 9); // (100 + 60 + 20) * 10 / 200
  assert.equal(measured['steady CPU ms/pkt'], 3.5);
  assert.ok(Number.isNaN(unsampled['steady CPU ms/pkt']));
});
