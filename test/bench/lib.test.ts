import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import {
  barChartSvg,
  createProgressBar,
  formatMarkdownTable,
  formatTable,
  lineChartSvg,
  median,
  niceScale,
  parseDurationMs,
  percentile,
  readProcSnapshot,
  startProcSampler,
  summarize,
  upsertMarkdownSection,
} from '../../bench/lib/index.js';
import { checkWellFormed } from '../../src/dataserver/xml/well-formed.js';

test('percentiles use the nearest rank; median averages the middle pair', () => {
  const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
  assert.equal(percentile(values, 50), 50);
  assert.equal(percentile(values, 99), 99);
  assert.equal(percentile(values, 100), 100);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.equal(median([4, 1, 3, 2]), 2.5);
  const s = summarize([3, 1, 2]);
  assert.deepEqual([s.count, s.min, s.max, s.mean, s.p50], [3, 1, 3, 2, 2]);
});

test('tables align numbers right and render as markdown', () => {
  const rows = [
    { pass: 'creation', 'pkt/s': 1234.5 },
    { pass: 'steady', 'pkt/s': 12 },
  ];
  const lines = formatTable(rows).split('\n');
  assert.equal(lines.length, 6);
  assert.equal(lines[3], '│ creation │ 1,235 │');
  assert.equal(lines[4], '│ steady   │    12 │');
  assert.equal(
    formatMarkdownTable(rows),
    '| pass | pkt/s |\n| --- | ---: |\n| creation | 1,235 |\n| steady | 12 |',
  );
});

test('charts are well-formed standalone SVG with escaped labels', () => {
  const line = lineChartSvg({
    title: 'a < b & c',
    xLabel: 's',
    yLabel: 'pkt/s',
    y2Label: 'queue',
    series: [
      {
        name: 'rate',
        points: [
          [0, 0],
          [1, 10],
          [2, 30],
        ],
      },
      {
        name: 'queue',
        points: [
          [0, 5],
          [2, 0],
        ],
        axis: 'right',
      },
    ],
    markers: [{ x: 1, label: 'steady' }],
  });
  const bar = barChartSvg({
    title: 'scaling',
    xLabel: 'agents',
    yLabel: 'pkt/s',
    seriesNames: ['creation', 'steady'],
    groups: [
      { label: '1,000', values: [10, 20] },
      { label: '3,000', values: [Number.NaN, 25] },
    ],
  });
  for (const svg of [line, bar]) {
    assert.doesNotThrow(() => {
      checkWellFormed(svg, 16);
    });
    const root = (
      new XMLParser({ ignoreAttributes: false }).parse(svg) as { svg: Record<string, unknown> }
    ).svg;
    assert.equal(root['@_xmlns'], 'http://www.w3.org/2000/svg');
  }
  assert.ok(line.includes('a &lt; b &amp; c'));
  assert.equal((bar.match(/<rect x=/g) ?? []).length >= 3, true);
});

test('axis scales end on round numbers that cover the data', () => {
  const s = niceScale(0, 2345);
  assert.equal(s.min, 0);
  assert.ok(s.min + s.span >= 2345);
  assert.deepEqual(s.ticks.slice(0, 3), [0, 500, 1000]);
});

test('the progress bar prints every 10 % on a pipe and the real count at the end', () => {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  const bar = createProgressBar({ label: 'pass', total: 100, stream, tty: false });
  for (let i = 0; i <= 100; i++) bar.update(i);
  bar.finish('stopped', 42);
  const lines = text.trim().split('\n');
  assert.equal(lines.length, 11);
  assert.match(lines.at(-1) ?? '', /42\/100 {2}stopped$/);
});

test('durations parse with units', () => {
  assert.equal(parseDurationMs('20s'), 20_000);
  assert.equal(parseDurationMs('500ms'), 500);
  assert.equal(parseDurationMs('2m'), 120_000);
  assert.equal(parseDurationMs('3'), 3000);
  assert.equal(parseDurationMs('1h'), 3_600_000);
  assert.equal(parseDurationMs('1.5h'), 5_400_000);
  assert.throws(() => parseDurationMs('soon'));
});

test('the /proc sampler sees this process: CPU time grows, RSS is positive', () => {
  const snap = readProcSnapshot(process.pid);
  assert.ok(snap && snap.rssBytes > 0 && snap.peakRssBytes >= snap.rssBytes);
  const sampler = startProcSampler(process.pid, 10);
  const until = performance.now() + 150;
  let spin = 0;
  while (performance.now() < until) spin += Math.sqrt(spin + 1);
  const usage = sampler.stop();
  assert.ok(spin > 0);
  assert.ok(usage.cpuSeconds > 0, `cpu ${usage.cpuSeconds}`);
  assert.ok(usage.peakRssBytes > 0);
  assert.equal(readProcSnapshot(2 ** 22 + 12345), undefined);
});

test('generated markdown sections are replaced in place, other text kept', () => {
  const first = upsertMarkdownSection('# Bench\n\nintro\n', 'e2e', '## Performance\nv1');
  assert.equal(
    first,
    '# Bench\n\nintro\n\n<!-- bench:e2e -->\n## Performance\nv1\n<!-- /bench:e2e -->\n',
  );
  const both = upsertMarkdownSection(first, 'scaling', '### Scaling\ns1');
  const updated = upsertMarkdownSection(both, 'e2e', '## Performance\nv2');
  assert.ok(updated.includes('v2') && !updated.includes('v1'));
  assert.ok(updated.indexOf('v2') < updated.indexOf('s1'), 'order kept');
  assert.ok(updated.startsWith('# Bench\n\nintro\n'));
});
