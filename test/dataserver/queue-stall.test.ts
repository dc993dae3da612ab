import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { silentLogger } from '../../src/core/log.js';
import { createMetricsRegistry, type Registry } from '../../src/core/metrics.js';
import {
  createDataserver,
  createInlineParser,
  loadDataserverConfig,
  processPacket,
  type PacketParser,
} from '../../src/dataserver/index.js';
import { dropFile, flagsMap, startHarness } from './harness.js';

const AGENTS = 400;
const CAPACITY = 20;

function agentXml(i: number): string {
  return `<?xml version='1.0' encoding='UTF-8'?>\n<agent_data agent_name='agent${String(i)}' group='Servers' os_name='Linux' interval='300' timestamp='2024/03/01 10:00:00'><module><name>m</name><type>generic_data</type><data>${String(i)}</data></module></agent_data>`;
}

/** Data files not yet finished: waiting in the spool or claimed. */
function pendingFiles(dir: string, claimDir: string): number {
  return readdirSync(dir).filter((n) => n.endsWith('.data')).length + readdirSync(claimDir).length;
}

// Regression: a scan that started while the queue was full finished synchronously and left its
// settled promise behind as "scan in progress", so every later scan (rescans, wake, drain) was a
// no-op and the files beyond max_queue_files stayed on disk forever (30,000-agent bench stall).
test('files beyond max_queue_files are all processed after a scan found the queue full', async () => {
  const h = await startHarness({
    max_queue_files: String(CAPACITY),
    dataserver_batch_files: '5',
    server_threshold: '1',
  });
  try {
    for (let i = 0; i < AGENTS; i++)
      dropFile(h.dir, `agent${String(i)}.1709287200.data`, agentXml(i));
    // The start-up scan fills the queue; nothing has finished yet when wake() scans again.
    await h.restart();
    h.ds.wake();
    let left = pendingFiles(h.dir, h.ds.spool.claimDir);
    let lastChange = Date.now();
    while (left > 0) {
      await sleep(100);
      const now = pendingFiles(h.dir, h.ds.spool.claimDir);
      if (now !== left) [left, lastChange] = [now, Date.now()];
      // Generous: rescans run every second; no progress for 30 s is a stall, not load.
      assert.ok(Date.now() - lastChange < 30_000, `stalled with ${String(left)} files on disk`);
    }
    await h.ds.drain();
    assert.equal(await h.count('SELECT COUNT(*) AS n FROM tagente'), AGENTS);
    const metrics = await h.registry.getSingleMetricAsString('pandora_dataserver_stalled');
    assert.match(metrics, /pandora_dataserver_stalled 0/);
  } finally {
    await h.close();
  }
});

async function gauge(registry: Registry, name: string): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  return metric?.values[0]?.value ?? Number.NaN;
}

async function waitFor(what: string, cond: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await cond())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(50);
  }
}

// The guard: a file that waits with nothing finishing (here a parse held back on purpose) is
// reported by the pandora_dataserver_stalled gauge, which clears once files finish again.
test('the stall guard flags a pipeline where nothing finishes, and clears on progress', async () => {
  const h = await startHarness();
  const dir = join(h.dir, '..', 'stall_in');
  const config = loadDataserverConfig({
    flags: flagsMap({
      incomingdir: dir,
      dbname: h.db.name,
      dataserver_stall_timeout: '1',
    }),
  });
  const inline = createInlineParser(config.parse);
  let release: (() => void) | undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const parser: PacketParser = {
    parse: async (input) => {
      await held;
      return inline.parse(input);
    },
    close: () => Promise.resolve(),
  };
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const ds = createDataserver(config, {
    pool: h.pool,
    logger: silentLogger(),
    registry,
    processPacket,
    parser,
  });
  try {
    dropFile(dir, 'agent1.1709287200.data', agentXml(1));
    await ds.start();
    assert.equal(await gauge(registry, 'pandora_dataserver_stalled'), 0);
    await waitFor(
      'the stall flag',
      async () => (await gauge(registry, 'pandora_dataserver_stalled')) === 1,
    );
    // The hook HA's readiness reads says the same, with the waiting file in its depth.
    assert.deepEqual(ds.health(), { queueDepth: 1, stalled: true });
    release?.();
    await ds.drain();
    assert.equal(await gauge(registry, 'pandora_dataserver_stalled'), 0);
    assert.deepEqual(ds.health(), { queueDepth: 0, stalled: false });
    assert.equal(await h.count("SELECT COUNT(*) AS n FROM tagente WHERE nombre = 'agent1'"), 1);
  } finally {
    release?.();
    await ds.close();
    await h.close();
  }
});
