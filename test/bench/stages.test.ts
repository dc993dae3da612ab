import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  attributeProfile,
  frameStage,
  type CpuProfile,
  type ProfileNode,
} from '../../bench/stages/attribute.js';
import { floorLine } from '../../bench/stages/floor.js';
import { passFloor, stagesRows, type PassRows } from '../../bench/stages/render-stages.js';
import {
  DURABLE_WRITE_STAGE,
  POOL_STAGE,
  PROFILER_STAGE,
  REST_STAGE,
  stageTable,
  topStages,
  TOTAL_STAGE,
  type StageRow,
} from '../../bench/stages/table.js';
import { medianRows, type StagesRun } from '../../bench/stages/run-stages.js';
import { groupThreadCpu } from '../../bench/stages/threads.js';

const BUILD = 'file:///tmp/bench-build-x/src';
const MODULES = 'file:///repo/node_modules';

function node(id: number, functionName: string, url: string, children: number[] = []): ProfileNode {
  return { id, callFrame: { functionName, url }, children };
}

/**
 * A hand-written profile of one server thread:
 * (root) ─┬─ (idle) 2
 *         ├─ (garbage collector) 3
 *         ├─ (program) 4
 *         ├─ onStreamRead (node) 5 ─ #onData (session) 6 ─┬─ info (pino) 7 ─ write (sonic-boom) 8
 *         │                                              └─ concat (node:buffer) 9
 *         ├─ processTicks (node) 10 ─ runBatch (batch-steps) 11 ─┬─ statusSql (status-sql) 12 ─ format (sql-escaper) 13
 *         │                                                       └─ query (mysql2) 14
 *         ├─ onconnection (node:net) 15 ─ Socket (node:net) 16
 *         └─ listOnTimeout (node:timers) 17
 */
const NODES: ProfileNode[] = [
  node(1, '(root)', '', [2, 3, 4, 5, 10, 15, 17]),
  node(2, '(idle)', ''),
  node(3, '(garbage collector)', ''),
  node(4, '(program)', ''),
  node(5, 'onStreamRead', 'node:internal/stream_base_commons', [6]),
  node(6, '#onData', `${BUILD}/tentacle/session/core.js`, [7, 9]),
  node(7, 'info', `${MODULES}/pino/lib/proto.js`, [8]),
  node(8, 'write', `${MODULES}/sonic-boom/index.js`),
  node(9, 'concat', 'node:buffer'),
  node(10, 'processTicksAndRejections', 'node:internal/process/task_queues', [11]),
  node(11, 'runBatch', `${BUILD}/dataserver/writer/batch-steps.js`, [12, 14]),
  node(12, 'statusSql', `${BUILD}/dataserver/writer/status-sql.js`, [13]),
  node(13, 'format', `${MODULES}/sql-escaper/lib/index.js`),
  node(14, 'query', `${MODULES}/mysql2/lib/base/connection.js`),
  node(15, 'onconnection', 'node:net', [16]),
  node(16, 'Socket', 'node:net'),
  node(17, 'listOnTimeout', 'node:internal/timers'),
];

/** Samples at t = 1000 + 100·i µs (each lasting 100 µs, the last until endTime). */
function profile(samples: number[]): CpuProfile {
  return {
    nodes: NODES,
    startTime: 1000,
    endTime: 1000 + 100 * samples.length,
    samples,
    timeDeltas: samples.map((_, i) => (i === 0 ? 0 : 100)),
  };
}

test('attribution: each sample goes to the innermost frame that names a stage', () => {
  const totals = attributeProfile(profile([2, 2, 3, 4, 8, 9, 9, 13, 14, 16, 17, 6]));
  assert.deepEqual(Object.fromEntries(totals), {
    idle: 200,
    'GC on the thread': 100,
    'native, no JS frame': 100,
    // pino under the session is logging; Node's buffer code under the session is the protocol,
    // as is a socket set up by an accept with no project frame at all.
    logging: 100,
    'accept + protocol': 400,
    // sql-escaper names no stage: its caller (a *-sql.ts file) does.
    'SQL building': 100,
    'driver (mysql2)': 100,
    'Node internals only': 100,
  });
});

test('attribution: only samples inside the window count, the last one up to endTime', () => {
  const p = profile([9, 9, 9, 14, 14]);
  assert.deepEqual(Object.fromEntries(attributeProfile(p, { fromUs: 1100, toUs: 1350 })), {
    'accept + protocol': 200,
    'driver (mysql2)': 50,
  });
  assert.deepEqual(Object.fromEntries(attributeProfile(p, { fromUs: 1400 })), {
    'driver (mysql2)': 100,
  });
});

test('attribution by sample count: each sample weighs the interval, whatever the gap before the next', () => {
  const p: CpuProfile = {
    nodes: NODES,
    startTime: 0,
    endTime: 10_000,
    samples: [9, 14, 14, 2],
    // The thread waited 5 ms for a core after its first sample: one sample, not five ms of CPU.
    timeDeltas: [0, 5000, 100, 100],
  };
  assert.deepEqual(Object.fromEntries(attributeProfile(p, { sampleUs: 100 })), {
    'accept + protocol': 100,
    'driver (mysql2)': 200,
    idle: 100,
  });
  assert.equal(attributeProfile(p).get('accept + protocol'), 5000);
});

test('frame rules: project files by path, packages by name, generic helpers none', () => {
  const stage = (url: string) => frameStage({ functionName: 'f', url });
  assert.equal(stage(`${BUILD}/tentacle/spool-writer.js`), 'durable write');
  assert.equal(stage(`${BUILD}/core/spare-files.js`), 'durable write');
  assert.equal(stage(`${BUILD}/tentacle/session/upload.js`), 'accept + protocol');
  assert.equal(stage(`${BUILD}/dataserver/stages/file-handler.js`), 'intake');
  assert.equal(stage(`${BUILD}/dataserver/parse-pool.js`), 'parse hand-off');
  assert.equal(stage(`${BUILD}/dataserver/xml/parse.js`), 'parse');
  assert.equal(stage(`${MODULES}/fast-xml-parser/src/xmlparser/OrderedObjParser.js`), 'parse');
  assert.equal(stage(`${BUILD}/dataserver/logic/process-datum.js`), 'processing');
  assert.equal(stage(`${BUILD}/dataserver/state/agent-cache.js`), 'processing');
  assert.equal(stage(`${BUILD}/dataserver/writer/history-sql.js`), 'SQL building');
  assert.equal(stage(`${BUILD}/dataserver/writer/batch-writer.js`), 'batch writer');
  assert.equal(stage(`${BUILD}/core/log.js`), 'logging');
  assert.equal(stage(`${BUILD}/tentacle/metrics.js`), 'metrics + HTTP');
  assert.equal(stage(`${MODULES}/prom-client/lib/registry.js`), 'metrics + HTTP');
  assert.equal(stage(`${BUILD}/ha/coordinator.js`), 'other project code');
  assert.equal(stage(`${MODULES}/iconv-lite/lib/index.js`), undefined);
  assert.equal(stage('node:fs'), undefined);
});

test('stage table: rows add up to the process CPU, the rest is its own row', () => {
  const rows = stageTable({
    committed: 1000,
    threads: {
      mainSeconds: 1,
      kernelHeavySeconds: 0.2,
      profilerSeconds: 0.1,
      otherSeconds: 0.25,
      workerSeconds: 0.4,
      totalSeconds: 1.95,
    },
    main: new Map([
      ['accept + protocol', 300_000],
      ['SQL building', 200_000],
      ['GC on the thread', 100_000],
      ['parse', 10_000],
      ['idle', 5_000_000],
    ]),
    workers: [
      new Map([
        ['parse', 150_000],
        ['GC on the thread', 50_000],
        ['idle', 3_000_000],
      ]),
    ],
  });
  const byStage = new Map(rows.map((r) => [r.stage, r.usPerPacket]));
  assert.equal(byStage.get('accept + protocol'), 300);
  // The worker's 400 µs of CPU shared by its samples (3:1), plus the main thread's parse samples.
  assert.equal(byStage.get('parse'), 310);
  assert.equal(byStage.get('GC, main thread'), 100);
  assert.equal(byStage.get('GC, parse worker'), 100);
  assert.equal(byStage.get('V8 helper threads (concurrent GC, compiling)'), 250);
  assert.equal(byStage.get("libuv's pool (fsync, file I/O; mostly kernel)"), 200);
  assert.equal(byStage.get(PROFILER_STAGE), 100);
  assert.equal(byStage.get(TOTAL_STAGE), 1950);
  // 1,950 µs of CPU, 1,560 attributed: the main thread's 1,000 µs against its 610 µs of samples.
  assert.equal(byStage.get(REST_STAGE), 390);
  const sum = rows.filter((r) => r.stage !== TOTAL_STAGE).reduce((s, r) => s + r.usPerPacket, 0);
  assert.equal(sum, 1950);
  assert.deepEqual(
    topStages(rows).map((r: StageRow) => r.stage),
    ['parse', 'accept + protocol', 'V8 helper threads (concurrent GC, compiling)'],
  );
});

test('thread groups: main by pid, kernel-heavy as the pool, the youngest others as workers', () => {
  const before = [
    { tid: 10, name: 'node', userSeconds: 5, systemSeconds: 1, startTicks: 1000 },
    { tid: 11, name: 'node', userSeconds: 2, systemSeconds: 0, startTicks: 1001 },
    { tid: 12, name: 'node', userSeconds: 0.1, systemSeconds: 3, startTicks: 1400 },
    { tid: 13, name: 'node', userSeconds: 1, systemSeconds: 0, startTicks: 1300 },
  ];
  const after = [
    { tid: 10, name: 'node', userSeconds: 6, systemSeconds: 1.5, startTicks: 1000 },
    { tid: 11, name: 'node', userSeconds: 2.5, systemSeconds: 0.1, startTicks: 1001 },
    { tid: 12, name: 'node', userSeconds: 0.2, systemSeconds: 4, startTicks: 1400 },
    { tid: 13, name: 'node', userSeconds: 1.7, systemSeconds: 0.1, startTicks: 1300 },
    { tid: 14, name: 'node', userSeconds: 0.3, systemSeconds: 0, startTicks: 1005 },
    // The profiler's sampler: young and, in a pass, often kernel-heavy; told apart by its name.
    { tid: 15, name: 'v8:ProfEvntProc', userSeconds: 0.1, systemSeconds: 0.3, startTicks: 1301 },
  ];
  const groups = groupThreadCpu(10, before, after, 1);
  const near = (a: number, b: number) => Math.abs(a - b) < 1e-9;
  assert.ok(near(groups.mainSeconds, 1.5));
  assert.ok(near(groups.kernelHeavySeconds, 1.1));
  // tid 13 (born at 1300) is the youngest of 11, 13 and 14, the newborn counted from zero.
  assert.ok(near(groups.workerSeconds, 0.8), String(groups.workerSeconds));
  assert.ok(near(groups.otherSeconds, 0.9), String(groups.otherSeconds));
  assert.ok(near(groups.profilerSeconds, 0.4));
  assert.ok(near(groups.totalSeconds, 4.7));
  assert.ok(near(groupThreadCpu(10, before, after).otherSeconds, 1.7));
});

/** One pass's rows as the table builds them, with only the figures the floor reads filled in. */
function passRows(figures: {
  durableWrite: number;
  pool: number;
  total: number;
  mariadb: number;
}): PassRows {
  const { durableWrite, pool, total, mariadb } = figures;
  const rows: StageRow[] = [
    { stage: 'accept + protocol', measuredBy: 'profile, main thread', usPerPacket: 100 },
    { stage: DURABLE_WRITE_STAGE, measuredBy: 'profile, main thread', usPerPacket: durableWrite },
    { stage: POOL_STAGE, measuredBy: '/proc, per thread', usPerPacket: pool },
    { stage: TOTAL_STAGE, measuredBy: '/proc, per thread', usPerPacket: total },
  ];
  return { rows, packetsPerSec: 200, mariadbUsPerPacket: mariadb };
}

test('floor: durability above MariaDB says the target is out of reach while fsyncing', () => {
  const profiled = passRows({ durableWrite: 169, pool: 343, total: 1900, mariadb: 470 });
  const plain = passRows({ durableWrite: 150, pool: 330, total: 1413, mariadb: 480 });
  const floor = passFloor(profiled, plain);
  assert.ok(floor !== undefined);
  // Durability from the profiled run's rows; the totals from the unprofiled run.
  assert.equal(floor.durabilityUs, 512);
  assert.equal(floor.serverUs, 1413);
  assert.equal(floor.mariadbUs, 480);
  assert.ok(Math.abs(floor.ratio - 1413 / 480) < 1e-9);
  assert.equal(
    floorLine('steady', floor),
    "- steady: durability alone 512 µs (durable write 169 + fsync pool 343) against MariaDB's " +
      "whole packet 480 µs; the server without --cpu-prof 1,413 µs, 2.9× MariaDB's: " +
      'at or below MariaDB is out of reach while each file is fsynced before SEND OK.',
  );
});

test('floor: durability below MariaDB says how much of the rest must go', () => {
  const floor = passFloor(
    passRows({ durableWrite: 100, pool: 200, total: 4000, mariadb: 0 }),
    passRows({ durableWrite: 0, pool: 0, total: 3000, mariadb: 1500 }),
  );
  assert.ok(floor !== undefined);
  assert.equal(floor.restUs, 2700);
  assert.equal(floor.restAllowedUs, 1200);
  assert.equal(
    floorLine('creation', floor),
    "- creation: durability alone 300 µs (durable write 100 + fsync pool 200) against MariaDB's " +
      "whole packet 1,500 µs; the server without --cpu-prof 3,000 µs, 2× MariaDB's: durability " +
      "leaves the rest of the server 1,200 µs of MariaDB's figure, against the 2,700 µs it " +
      'takes: 1,500 µs to cut (56 % of the rest).',
  );
  const met = passFloor(
    passRows({ durableWrite: 100, pool: 200, total: 900, mariadb: 0 }),
    passRows({ durableWrite: 0, pool: 0, total: 800, mariadb: 900 }),
  );
  assert.match(floorLine('steady', met), /: the server is at or below MariaDB already\.$/);
});

test('floor: no MariaDB figure, no floor; the table gets a MariaDB row below the totals', () => {
  const profiled = passRows({ durableWrite: 169, pool: 343, total: 1900, mariadb: Number.NaN });
  const plain = passRows({ durableWrite: 0, pool: 0, total: 1413, mariadb: Number.NaN });
  assert.equal(passFloor(profiled, plain), undefined);
  assert.equal(passFloor(profiled, undefined), undefined);
  assert.equal(floorLine('steady', undefined), '- steady: not measured');
  const rows = stagesRows({
    creation: profiled,
    steady: profiled,
    plainCreation: { ...plain, mariadbUsPerPacket: 1234.4 },
    plainSteady: plain,
    runs: 1,
    intervalUs: 500,
    loadAverage: 1,
  });
  const last = rows.at(-1);
  assert.ok(last !== undefined);
  assert.equal(last['stage'], 'MariaDB, same run, unprofiled');
  assert.equal(last['creation µs/pkt'], 1234);
  assert.equal(last['steady µs/pkt'], '–');
  assert.equal(rows.at(-2)?.['stage'], 'total without --cpu-prof (same scenario, own run)');
});

test("medians: MariaDB's CPU per packet is a pass kind's median over the runs", () => {
  const run = (mariadb: number): StagesRun => ({
    profiled: false,
    status: 'ok',
    passes: [
      {
        name: 'steady 1',
        kind: 'steady',
        committed: 3000,
        packetsPerSec: 200,
        mariadbUsPerPacket: mariadb,
        rows: passRows({ durableWrite: 1, pool: 2, total: 10, mariadb }).rows,
      },
    ],
    windows: [],
    profileDir: undefined,
  });
  assert.equal(medianRows([run(700), run(300), run(500)], 'steady')?.mariadbUsPerPacket, 500);
  assert.equal(medianRows([run(700)], 'creation'), undefined);
});
