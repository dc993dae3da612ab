/**
 * The soak's report with the parse workers' heaps: trends, table rows and the
 * progress line, and `--soak-from` on a result saved before workers reported (no such fields)
 * or from a server without workers (NaN, saved as null).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderSavedSoak, soakSvgs, trendRows } from '../../bench/e2e/soak-report.js';
import {
  describeSample,
  soakTrends,
  type SoakResult,
  type SoakSample,
} from '../../bench/e2e/soak.js';
import { collectEnv, summarize } from '../../bench/lib/index.js';
import { tempDir } from '../helpers/tmp.js';

const SOAK_SECONDS = 600;
const WORKER_ROWS = ['parse workers heap used, MB', 'parse workers heap committed, MB'];

/** A sample every 30 s; worker heaps as `workers(i)` gives them (undefined: field absent). */
function samples(workers: (i: number) => [number, number] | undefined): SoakSample[] {
  return Array.from({ length: 20 }, (_, i) => {
    const w = workers(i);
    return {
      t: i * 30,
      serverRssMB: 200 + i,
      heapUsedMB: 60,
      heapCommittedMB: 90,
      externalMB: 5,
      ...(w === undefined ? {} : { workerHeapUsedMB: w[0], workerHeapCommittedMB: w[1] }),
      serverCpuPercent: 40,
      dbCpuPercent: 30,
      latencyP50Ms: 20,
      latencyP99Ms: 80,
      committedPerSec: 100,
      backlog: 0,
      spoolFiles: 0,
      unknownModules: 0,
      overdueModules: 0,
      loadAverage1m: 1.5,
    };
  });
}

function result(s: SoakSample[]): SoakResult {
  return {
    status: 'ok',
    target: 'test',
    databaseVersion: '10.11',
    creation: undefined,
    calibration: undefined,
    capacityPerSec: 200,
    share: 0.5,
    ratePerSec: 100,
    soakSeconds: SOAK_SECONDS,
    warmupSeconds: 60,
    soakPasses: 10,
    soakPackets: 60_000,
    soakLatencyMs: summarize([20, 30, 80]),
    samples: s,
    trends: soakTrends(s, 60, SOAK_SECONDS),
    ledger: { rows: 60_000, acked: 60_000, committed: 60_000, ok: true },
    moduleCount: 3300,
    errors: [],
  };
}

const metricsOf = (r: SoakResult): string[] =>
  trendRows(r.trends).map((row) => String(row['metric']));

test('the parse workers’ heaps are trends, table rows and in the progress line', () => {
  // Workers' live heap rising 1 MB a sample (120 MB/h), committed with it.
  const r = result(samples((i) => [20 + i, 40 + i]));
  const used = r.trends.find((t) => t.metric === 'parse workers heap used');
  assert.ok(used);
  assert.equal(used.n, 18, 'samples after the 60 s warm-up');
  assert.ok(Math.abs(used.slopePerHour - 120) < 1e-6);
  assert.equal(used.verdict, 'rising');
  for (const row of WORKER_ROWS) assert.ok(metricsOf(r).includes(row), row);
  const sample = r.samples[3];
  assert.ok(sample);
  assert.match(describeSample(sample), /, parse workers 23 of 43 MB, /);
});

test('no worker heaps (NaN, or absent in older results): no rows, not in the progress line, charts as before', () => {
  for (const r of [
    result(samples(() => [Number.NaN, Number.NaN])),
    result(samples(() => undefined)),
  ]) {
    const metrics = metricsOf(r);
    for (const row of WORKER_ROWS) assert.ok(!metrics.includes(row), row);
    assert.ok(metrics.includes('heap used, MB'), 'the other rows stay');
    assert.ok(soakSvgs(r).resources.includes('heap used MB'), 'the charts still render');
    const sample = r.samples[0];
    assert.ok(sample);
    assert.doesNotMatch(describeSample(sample), /parse workers/);
  }
});

test('--soak-from renders a saved result with, without, and with null worker heaps', (t) => {
  const dir = tempDir('ti-soak-from-');
  t.after(() => {
    dir.cleanup();
  });
  const params = {
    agents: 1000,
    modules: 33,
    intervalSec: 300,
    soakSampleMs: 30_000,
    soakMs: SOAK_SECONDS * 1000,
    command: 'npm run bench -- --soak 10m',
  };
  const render = (name: string, r: SoakResult): string => {
    const json = join(dir.path, `${name}.json`);
    // JSON writes NaN as null, as writeReport does.
    writeFileSync(
      json,
      JSON.stringify({ scenario: 'soak', params, env: collectEnv(), results: r }),
    );
    const readme = join(dir.path, `${name}.md`);
    assert.equal(
      renderSavedSoak(json, readme, () => undefined),
      0,
    );
    return readFileSync(readme, 'utf8');
  };
  const withWorkers = render('new', result(samples((i) => [20 + i, 40 + i])));
  assert.match(withWorkers, /\| parse workers heap used, MB \| 18 \|/);
  assert.match(withWorkers, /\| parse workers heap committed, MB \| 18 \|/);
  assert.match(withWorkers, /- Memory: possible leak: .*parse workers heap used \*\*rising\*\*/);

  // Saved before the workers reported: neither the samples nor the trends know the fields.
  const old = result(samples(() => undefined));
  const oldResult = {
    ...old,
    trends: old.trends.filter((tr) => !tr.metric.startsWith('parse workers')),
  };
  const before = render('old', oldResult);
  assert.doesNotMatch(before, /parse workers/);
  assert.match(before, /\| heap used, MB \| 18 \|/);
  assert.match(before, /- Memory: no leak: live heap \(heap used\) \*\*flat\*\*, which decides;/);

  const withoutWorkers = render('nan', result(samples(() => [Number.NaN, Number.NaN])));
  assert.doesNotMatch(withoutWorkers, /parse workers/);
  assert.match(withoutWorkers, /\| heap used, MB \| 18 \|/);
});
