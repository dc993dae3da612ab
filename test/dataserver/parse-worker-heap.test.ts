/**
 * Parse workers report their own V8 heap to the pool, which keeps it in the
 * `pandora_dataserver_parse_worker_*` gauges: real worker threads, a real registry.
 */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { silentLogger } from '../../src/core/log.js';
import { createMetricsRegistry, type Registry } from '../../src/core/metrics.js';
import { createWorkerParser } from '../../src/dataserver/parse-pool.js';
import { spawnParseWorker } from '../../src/dataserver/parse-worker.js';
import { DEFAULT_PARSE_OPTIONS } from '../../src/dataserver/xml/index.js';

const FILE = { mtimeSec: 1709287200, nowSec: 1709287200 };
const USED = 'pandora_dataserver_parse_worker_heap_used_bytes';
const COMMITTED = 'pandora_dataserver_parse_worker_heap_committed_bytes';
const EXTERNAL = 'pandora_dataserver_parse_worker_external_bytes';
/** Short, so the test sees several reports; the server uses WORKER_HEAP_REPORT_MS. */
const REPORT_MS = 20;

function agent(name: string): Uint8Array {
  return Buffer.from(
    `<agent_data agent_name="${name}" timestamp="2024/03/01 10:00:00">` +
      '<module><name>cpu</name><data>5</data></module></agent_data>',
  );
}

/** `{ worker label: value }` of one gauge. */
async function byWorker(registry: Registry, name: string): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric(name);
  assert.ok(metric, `${name} is registered`);
  const { values } = await metric.get();
  return Object.fromEntries(values.map((v) => [String(v.labels['worker']), v.value]));
}

/** Polls until `check` holds (reports come on the workers' own timers). */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await sleep(REPORT_MS);
  }
  assert.fail(`never: ${what}`);
}

test('each parse worker reports its heap under its slot; closing the pool removes the series', async () => {
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const pool = createWorkerParser(
    {
      threads: 2,
      parse: DEFAULT_PARSE_OPTIONS,
      spawn: () => spawnParseWorker({}, { heapReportMs: REPORT_MS }),
    },
    { logger: silentLogger(), registry },
  );
  let closed = false;
  try {
    // Reports flowing between the replies leave the parse accounting alone.
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        pool.parse({ bytes: agent(`a${String(i)}`), info: FILE }),
      ),
    );
    results.forEach((r, i) => {
      assert.equal(r.packet?.agentName, `a${String(i)}`);
    });
    // The pool caps its threads at the cores but one.
    const slots = Math.min(2, Math.max(1, availableParallelism() - 1));
    const expected = Array.from({ length: slots }, (_, i) => String(i));
    await until(
      'every worker reported',
      async () =>
        Object.keys(await byWorker(registry, USED))
          .sort()
          .join() === expected.join(),
    );
    const used = await byWorker(registry, USED);
    const committed = await byWorker(registry, COMMITTED);
    for (const w of expected) {
      const u = used[w] ?? 0;
      assert.ok(u > 0, `worker ${w} used ${String(u)}`);
      assert.ok((committed[w] ?? 0) >= u, `worker ${w}: committed holds the used heap`);
    }
    assert.deepEqual(Object.keys(await byWorker(registry, EXTERNAL)).sort(), expected);
    closed = true;
    await pool.close();
    assert.deepEqual(await byWorker(registry, USED), {});
    assert.deepEqual(await byWorker(registry, COMMITTED), {});
    // Reports already on their way when the pool closed bring no series back.
    await sleep(REPORT_MS * 5);
    assert.deepEqual(await byWorker(registry, USED), {});
  } finally {
    if (!closed) await pool.close();
  }
});

test('a worker that dies leaves no value behind: its slot shows only what its replacement reports', async () => {
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const spawned: Worker[] = [];
  const pool = createWorkerParser(
    {
      threads: 1,
      parse: DEFAULT_PARSE_OPTIONS,
      // The first worker reports; its replacement does not, so any value after the death is stale.
      spawn: () => {
        const worker = spawnParseWorker(
          {},
          spawned.length === 0 ? { heapReportMs: REPORT_MS } : {},
        );
        spawned.push(worker);
        return worker;
      },
    },
    { logger: silentLogger(), registry },
  );
  try {
    assert.equal(
      (await pool.parse({ bytes: agent('before'), info: FILE })).packet?.agentName,
      'before',
    );
    await until(
      'the first worker reported',
      async () => ((await byWorker(registry, USED))['0'] ?? 0) > 0,
    );
    const first = spawned[0];
    assert.ok(first);
    await first.terminate();
    // The replacement answers: the slot is taken again, and it has not reported.
    assert.equal(
      (await pool.parse({ bytes: agent('after'), info: FILE })).packet?.agentName,
      'after',
    );
    assert.equal(spawned.length, 2);
    assert.deepEqual(await byWorker(registry, USED), {});
    assert.deepEqual(await byWorker(registry, COMMITTED), {});
  } finally {
    await pool.close();
  }
});
