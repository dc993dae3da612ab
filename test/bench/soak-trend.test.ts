import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  describeTrend,
  fitSlope,
  memoryVerdict,
  studentT975,
  trendVerdict,
} from '../../bench/e2e/soak-trend.js';

test('an exact line is fitted with its slope and no spread', () => {
  const fit = fitSlope([
    [0, 10],
    [10, 30],
    [20, 50],
    [30, 70],
  ]);
  assert.equal(fit.n, 4);
  assert.equal(fit.slope, 2);
  assert.equal(fit.intercept, 10);
  assert.equal(fit.standardError, 0);
  assert.equal(fit.residualSd, 0);
  assert.equal(fit.mean, 40);
});

test('the slope’s standard error and 95 % interval match a hand computation', () => {
  // t = 0..4, y = 1, 3, 2, 5, 4: slope 0.8, intercept 1.4; residuals -0.4, 0.8, -1, 1.2, -0.6;
  // SSR 3.6, Sxx 10, SE = sqrt(3.6 / 3 / 10) = sqrt(0.12); t(0.975, 3) = 3.182.
  const fit = fitSlope([
    [0, 1],
    [1, 3],
    [2, 2],
    [3, 5],
    [4, 4],
  ]);
  assert.ok(Math.abs(fit.slope - 0.8) < 1e-12);
  assert.ok(Math.abs(fit.intercept - 1.4) < 1e-12);
  assert.ok(Math.abs(fit.standardError - Math.sqrt(0.12)) < 1e-12);
  assert.ok(Math.abs(fit.halfWidth95 - 3.182 * Math.sqrt(0.12)) < 1e-9);
  assert.ok(Math.abs(fit.residualSd - Math.sqrt(1.2)) < 1e-12);
});

test('non-finite samples are left out of the fit', () => {
  const fit = fitSlope([
    [0, 0],
    [1, Number.NaN],
    [2, 2],
    [3, 3],
  ]);
  assert.equal(fit.n, 3);
  assert.ok(Math.abs(fit.slope - 1) < 1e-12);
});

test('Student t quantiles: the table, then the large-sample approximation near 1.96', () => {
  assert.equal(studentT975(1), 12.706);
  assert.equal(studentT975(30), 2.042);
  assert.ok(Math.abs(studentT975(60) - 2.0003) < 0.001);
  assert.ok(Math.abs(studentT975(120) - 1.9799) < 0.001);
  assert.ok(Math.abs(studentT975(1e6) - 1.96) < 0.001);
});

test('a constant series (unknown modules staying 0) is flat', () => {
  const points = Array.from({ length: 20 }, (_, i) => [i * 10, 0] as const);
  const trend = describeTrend('unknown', 'modules', points, 200);
  assert.equal(trend.verdict, 'flat');
  assert.equal(trend.slopePerHour, 0);
});

/** Ten samples over an hour, level or rising 20 MB/h, with the same small scatter. */
const noise = [0.3, -0.5, 0.1, 0.4, -0.2, -0.4, 0.5, -0.1, 0.2, -0.3];
const level = (mb: number) => noise.map((n, i) => [i * 360, mb + n] as const);
const rising = (mb: number) =>
  noise.map((n, i) => [i * 360, mb + (i * 360 * 20) / 3600 + n] as const);

test('noise around a level is flat; a leak well above the noise is rising', () => {
  assert.equal(trendVerdict(fitSlope(level(200)), 3600), 'flat');
  // 20 MB an hour against ±0.5 MB of scatter.
  const trend = describeTrend('rss', 'MB', rising(200), 3600);
  assert.equal(trend.verdict, 'rising');
  assert.ok(Math.abs(trend.slopePerHour - 20) < 1);
  const drop = noise.map((n, i) => [i * 360, 50 - i * 2 + n] as const);
  assert.equal(trendVerdict(fitSlope(drop), 3600), 'falling');
});

test('a significant slope whose drift over the run is below the sample noise is flat', () => {
  // Many samples make a tiny slope significant; over the run it adds less than one sample's
  // scatter, so it is reported as flat.
  const points = Array.from(
    { length: 1000 },
    (_, i) => [i, 100 + i * 0.0005 + (i % 2 === 0 ? 1 : -1)] as const,
  );
  const fit = fitSlope(points);
  assert.ok(Math.abs(fit.slope) > fit.halfWidth95, 'the interval excludes zero');
  assert.equal(trendVerdict(fit, 1000), 'flat');
});

test('fewer than three samples give no verdict', () => {
  assert.equal(
    trendVerdict(
      fitSlope([
        [0, 1],
        [1, 2],
      ]),
      1,
    ),
    'too few samples',
  );
  assert.equal(trendVerdict(fitSlope([]), 1), 'too few samples');
});

test('the live heap decides a leak: RSS rising with the committed heap is no leak', () => {
  const rss = describeTrend('server RSS', 'MB', rising(200), 3600);
  const committed = describeTrend('heap committed', 'MB', rising(120), 3600);
  const external = describeTrend('external', 'MB', level(5), 3600);
  const flatHeap = describeTrend('heap used', 'MB', level(60), 3600);
  assert.equal(
    memoryVerdict([rss, flatHeap, committed, external]),
    'no leak: live heap (heap used) **flat**, which decides; RSS **rising**, heap committed ' +
      '**rising**, external **flat** (RSS follows the committed heap as V8 settles, not the live data)',
  );
  const flatCommitted = describeTrend('heap committed', 'MB', level(120), 3600);
  assert.match(
    memoryVerdict([rss, flatHeap, flatCommitted]),
    /^no leak: .*\(RSS grows outside the live heap\)$/,
  );
  const growingHeap = describeTrend('heap used', 'MB', rising(60), 3600);
  assert.match(
    memoryVerdict([rss, growingHeap, committed]),
    /^possible leak: live heap \(heap used\) \*\*rising\*\*; RSS \*\*rising\*\*/,
  );
  // A server without /metrics: RSS is all there is.
  assert.equal(
    memoryVerdict([rss]),
    'leak judged on RSS alone (no heap samples from /metrics): RSS **rising**',
  );
});

test('the parse workers’ live heap decides too: its rise is a possible leak, its committed heap explains RSS', () => {
  const rss = describeTrend('server RSS', 'MB', rising(200), 3600);
  const heap = describeTrend('heap used', 'MB', level(60), 3600);
  const committed = describeTrend('heap committed', 'MB', level(120), 3600);
  const workersCommitted = describeTrend('parse workers heap committed', 'MB', rising(40), 3600);
  assert.equal(
    memoryVerdict([
      rss,
      heap,
      committed,
      describeTrend('parse workers heap used', 'MB', rising(20), 3600),
      workersCommitted,
    ]),
    'possible leak: live heap (heap used) **flat**, parse workers heap used **rising**; RSS ' +
      '**rising**, heap committed **flat**, parse workers heap committed **rising**',
  );
  assert.equal(
    memoryVerdict([
      rss,
      heap,
      committed,
      describeTrend('parse workers heap used', 'MB', level(20), 3600),
      workersCommitted,
    ]),
    'no leak: live heap (heap used) **flat** and parse workers heap used **flat**, which decide; ' +
      'RSS **rising**, heap committed **flat**, parse workers heap committed **rising** ' +
      '(RSS follows the committed heap as V8 settles, not the live data)',
  );
  // No worker samples (no workers, or an older result): the main thread's heap alone.
  assert.match(
    memoryVerdict([rss, heap, committed, describeTrend('parse workers heap used', 'MB', [], 3600)]),
    /^no leak: live heap \(heap used\) \*\*flat\*\*, which decides; .*\(RSS grows outside the live heap\)$/,
  );
});
