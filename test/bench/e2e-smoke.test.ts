/**
 * A short real run of `npm run bench`: the CLI starts `tentacle-ingest serve` on a fresh
 * database, sends a tiny fleet over Tentacle and reads the commits back from MariaDB. Not a
 * timed assertion: it checks that every packet and value was committed and the report's shape.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { testDbServer } from '../helpers/db.js';
import { tempDir } from '../helpers/tmp.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const AGENTS = 12;
const MODULES = 5;

interface PassJson {
  name: string;
  kind: string;
  packets: number;
  committed: number;
  complete: boolean;
  moduleValues: number;
  packetsPerSec: number;
  historyRows: number;
  latencyMs: { count: number; p50: number; p99: number };
  serverFiles?: Record<string, number>;
  serverRejections?: Record<string, number>;
}

/**
 * `bench/run.ts` with `args` against the test MariaDB, from source with inline parsing (seconds,
 * not a build), results and the markdown section in a temp folder; asserts exit 0.
 */
async function runBench(t: TestContext, prefix: string, args: string[]) {
  const out = tempDir(prefix);
  t.after(() => {
    out.cleanup();
  });
  const db = testDbServer();
  const dbUrl = `mysql://${encodeURIComponent(db.user)}:${encodeURIComponent(db.password)}@${db.host}:${db.port}`;
  const readme = join(out.path, 'bench.md');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'bench/run.ts',
      ...args,
      `--db-server=${dbUrl}`,
      '--no-build',
      '--server-arg=--dataserver-threads=0',
      '--quiet',
      `--out=${out.path}`,
      `--readme=${readme}`,
    ],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, output);
  return { out, readme, output };
}

test('npm run bench: a tiny fleet is committed end to end and reported', async (t) => {
  const { out, readme, output } = await runBench(t, 'bench-smoke-', [
    `--agents=${AGENTS}`,
    `--modules=${MODULES}`,
    '--steady-passes=1',
    '--latency-seconds=1',
    '--concurrency=3',
    '--windows-share=0.5',
    '--change-rate=0.5',
    '--commit-timeout=30s',
    '--max-duration=90s',
  ]);

  const jsonName = readdirSync(out.path).find((f) => f.startsWith('e2e-') && f.endsWith('.json'));
  assert.ok(jsonName, output);
  const report = JSON.parse(readFileSync(join(out.path, jsonName), 'utf8')) as {
    scenario: string;
    params: { agents: number; modules: number };
    env: { node: string; cores: number; gitSha: string; versions: Record<string, string> };
    results: { status: string; passes: PassJson[]; verdict: { ok: boolean; text: string } };
  };
  assert.equal(report.scenario, 'e2e');
  assert.equal(report.params.agents, AGENTS);
  assert.equal(report.env.node, process.version);
  assert.ok(report.env.cores >= 1);
  assert.match(report.env.gitSha, /^[0-9a-f]{7,}|unknown$/);
  assert.ok(report.env.versions['mysql2']);
  assert.equal(report.results.status, 'ok');

  const passes = report.results.passes;
  assert.deepEqual(
    passes.map((p) => p.kind),
    ['creation', 'steady', 'latency'],
  );
  for (const pass of passes) {
    assert.ok(pass.complete, pass.name);
    assert.equal(pass.committed, pass.packets, `${pass.name}: every packet committed`);
    assert.equal(pass.moduleValues, pass.packets * MODULES, `${pass.name}: every value committed`);
    assert.equal(pass.latencyMs.count, pass.packets);
    assert.ok(pass.packetsPerSec > 0);
    // Our server's /metrics, when serve has an HTTP port: every file finished as ok.
    if (pass.serverFiles) assert.deepEqual(pass.serverFiles, { ok: pass.packets });
    // All agents share 127.0.0.1: the bench lifts the per-address cap, so nothing is refused.
    if (pass.serverRejections) assert.deepEqual(pass.serverRejections, {}, pass.name);
  }
  const [creation, steady] = passes;
  assert.ok(creation && steady);
  assert.equal(creation.packets, AGENTS);
  // The first datum of each module is always stored; at a 50 % change rate later passes store less.
  assert.equal(creation.historyRows, AGENTS * MODULES);
  assert.ok(steady.historyRows < AGENTS * MODULES, `steady history rows ${steady.historyRows}`);
  assert.equal(typeof report.results.verdict.ok, 'boolean');
  assert.match(report.results.verdict.text, /agents every 300 s/);

  const svgName = readdirSync(out.path).find((f) => f.endsWith('.svg'));
  assert.ok(svgName);
  assert.match(
    readFileSync(join(out.path, svgName), 'utf8'),
    /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/,
  );
  const markdown = readFileSync(readme, 'utf8');
  assert.match(markdown, /^<!-- bench:e2e -->\n## Performance/);
  assert.match(markdown, /\| pass \| packets \| SEND OK\/s \| pkt\/s \|/);
  assert.match(output, /│ creation/);
});

test('npm run bench -- --scaling: one point per shape, charts and the scaling section', async (t) => {
  const { out, readme, output } = await runBench(t, 'bench-scaling-', [
    '--scaling',
    '--scaling-agents=4,8',
    '--scaling-modules=3',
    '--scaling-module-agents=4',
    '--scaling-max-duration=120s',
    '--concurrency=2',
  ]);
  const files = readdirSync(out.path);
  const jsonName = files.find((f) => f.startsWith('scaling-') && f.endsWith('.json'));
  assert.ok(jsonName, output);
  const report = JSON.parse(readFileSync(join(out.path, jsonName), 'utf8')) as {
    results: {
      points: { agents: number; modules: number; complete: boolean; steadyPacketsPerSec: number }[];
    };
  };
  assert.deepEqual(
    report.results.points.map((p) => [p.agents, p.modules, p.complete]),
    [
      [4, 33, true],
      [8, 33, true],
      [4, 3, true],
    ],
  );
  for (const p of report.results.points) assert.ok(p.steadyPacketsPerSec > 0);
  assert.equal(files.filter((f) => f.startsWith('scaling-') && f.endsWith('.svg')).length, 2);
  assert.ok(
    files.includes('bench-scaling-agents.svg') && files.includes('bench-scaling-modules.svg'),
  );
  assert.match(readFileSync(readme, 'utf8'), /<!-- bench:scaling -->\n### Scaling/);
});

test('npm run bench -- --alerts: both variants, the alerts set up and evaluated, the alerts section', async (t) => {
  const { out, readme, output } = await runBench(t, 'bench-alerts-', [
    '--alerts',
    '--agents=6',
    `--modules=${MODULES}`,
    '--steady-passes=1',
    '--latency-load=0',
    '--concurrency=2',
    '--alerts-per-agent=2',
    '--commit-timeout=30s',
    '--max-duration=90s',
  ]);
  const jsonName = readdirSync(out.path).find(
    (f) => f.startsWith('alerts-') && f.endsWith('.json'),
  );
  assert.ok(jsonName, output);
  const report = JSON.parse(readFileSync(join(out.path, jsonName), 'utf8')) as {
    scenario: string;
    results: {
      ratio: number;
      runs: {
        variant: string;
        result: { status: string; passes: PassJson[] };
        setup?: { agents: number; agentsWithAlerts: number; alerts: number; actions: number };
        passes: { pass: string; evaluated?: number; queueRows: number }[];
      }[];
    };
  };
  assert.equal(report.scenario, 'alerts');
  const runs = report.results.runs;
  assert.deepEqual(
    runs.map((r) => [r.variant, r.result.status]),
    [
      ['without alerts', 'ok'],
      ['with alerts', 'ok'],
    ],
  );
  const [plain, alerted] = runs;
  assert.ok(plain && alerted);
  assert.equal(plain.setup, undefined);
  assert.deepEqual(plain.passes, []);
  // MODULES = 5: 1 string, 2 proc, 2 data modules with a critical range per agent.
  assert.deepEqual(alerted.setup, { agents: 6, agentsWithAlerts: 6, alerts: 12, actions: 12 });
  const steady = alerted.passes.find((p) => p.pass === 'steady 1');
  assert.ok(steady, output);
  // Every datum of an alerted module is evaluated when it updates the status row.
  assert.ok((steady.evaluated ?? 0) > 0, `evaluated ${String(steady.evaluated)}`);
  assert.ok(Number.isFinite(report.results.ratio) && report.results.ratio > 0);
  const markdown = readFileSync(readme, 'utf8');
  assert.match(markdown, /<!-- bench:alerts -->\n### With and without alerts/);
  assert.match(markdown, /\| variant \| runs \| alerts \| steady pkt\/s \|/);
});

test('npm run bench -- --soak: paced passes sampled into trends, the ledger checked, the soak section', async (t) => {
  const { out, readme, output } = await runBench(t, 'bench-soak-', [
    `--agents=${AGENTS}`,
    `--modules=${MODULES}`,
    '--soak=10s',
    '--soak-sample=1s',
    '--rate=20',
    '--soak-share=0.5',
    '--concurrency=2',
  ]);
  const files = readdirSync(out.path);
  const jsonName = files.find((f) => f.startsWith('soak-') && f.endsWith('.json'));
  assert.ok(jsonName, output);
  const report = JSON.parse(readFileSync(join(out.path, jsonName), 'utf8')) as {
    results: {
      status: string;
      ratePerSec: number;
      soakPasses: number;
      soakPackets: number;
      samples: {
        t: number;
        serverRssMB: number;
        heapUsedMB: number;
        heapCommittedMB: number;
        externalMB: number;
        unknownModules: number;
      }[];
      trends: { metric: string; n: number; verdict: string }[];
      ledger: { rows: number; acked: number; committed: number; ok: boolean };
    };
  };
  const r = report.results;
  assert.equal(r.status, 'ok');
  assert.equal(r.ratePerSec, 10);
  // 10 s at 10 packets/s over a 12-agent fleet: several passes, the last one cut to fit.
  assert.ok(r.soakPasses >= 2 && r.soakPackets > AGENTS, output);
  assert.ok(r.samples.length >= 4, output);
  for (const s of r.samples) assert.ok(s.serverRssMB > 0 && s.unknownModules === 0);
  // Our server has /metrics: its V8 heap is sampled next to RSS, live within committed.
  for (const s of r.samples) {
    assert.ok(s.heapUsedMB > 0 && s.heapUsedMB <= s.heapCommittedMB, JSON.stringify(s));
    assert.ok(s.externalMB > 0, JSON.stringify(s));
  }
  for (const metric of ['server RSS', 'heap used', 'heap committed', 'external']) {
    assert.ok(
      r.trends.some((tr) => tr.metric === metric && tr.n >= 3),
      metric,
    );
  }
  // Creation pass + soak packets, each with its ledger row.
  assert.equal(r.ledger.acked, AGENTS + r.soakPackets);
  assert.deepEqual(
    [r.ledger.rows, r.ledger.committed, r.ledger.ok],
    [r.ledger.acked, r.ledger.acked, true],
  );
  assert.ok(files.some((f) => f.startsWith('soak-') && f.endsWith('.svg')));
  assert.ok(files.includes('bench-soak.svg') && files.includes('bench-soak-latency.svg'));
  const section = readFileSync(readme, 'utf8');
  assert.match(section, /<!-- bench:soak -->\n### Soak \(stability\)/);
  assert.match(section, /\| heap used, MB \|/);
  assert.match(section, /- Memory: (no leak|possible leak): live heap \(heap used\)/);
  // The same section again from the saved result, without a run.
  const again = join(out.path, 'again.md');
  const rerender = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'bench/run.ts',
      `--soak-from=${join(out.path, jsonName)}`,
      `--readme=${again}`,
    ],
    { cwd: REPO, encoding: 'utf8' },
  );
  assert.equal(rerender.status, 0, rerender.stderr);
  assert.equal(readFileSync(again, 'utf8'), section);
});

test('npm run bench -- --queue: spool and queue variants, Redis CPU sampled, the queue section', async (t) => {
  const { out, readme, output } = await runBench(t, 'bench-queue-', [
    '--queue',
    '--queue-workers=2',
    '--agents=8',
    `--modules=${MODULES}`,
    '--steady-passes=1',
    '--latency-load=0',
    '--concurrency=2',
    '--commit-timeout=30s',
    '--max-duration=90s',
  ]);
  const jsonName = readdirSync(out.path).find((f) => f.startsWith('queue-') && f.endsWith('.json'));
  assert.ok(jsonName, output);
  const report = JSON.parse(readFileSync(join(out.path, jsonName), 'utf8')) as {
    scenario: string;
    results: {
      summary: Record<string, string | number>[];
      runs: {
        variant: string;
        workers?: number;
        result: { status: string; passes: (PassJson & { redisCpuPercent?: number })[] };
      }[];
    };
  };
  assert.equal(report.scenario, 'queue');
  const runs = report.results.runs;
  assert.deepEqual(
    runs.map((r) => [r.variant, r.result.status]),
    [
      ['local spool', 'ok'],
      ['queue, 2 workers', 'ok'],
    ],
  );
  for (const run of runs) {
    for (const pass of run.result.passes) {
      assert.equal(pass.committed, pass.packets, `${run.variant} ${pass.name}`);
      assert.equal(pass.moduleValues, pass.packets * MODULES, `${run.variant} ${pass.name}`);
      // Redis is sampled only where the bench started one.
      assert.equal(pass.redisCpuPercent !== undefined, run.workers !== undefined);
    }
  }
  assert.ok(report.results.summary.some((row) => row['variant'] === 'queue, 2 workers'));
  const markdown = readFileSync(readme, 'utf8');
  assert.match(markdown, /<!-- bench:queue -->\n### Scale-out: the Redis hop/);
  assert.match(markdown, /\| hop ms\/pkt \|/);
});
