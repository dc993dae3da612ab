import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../../src/core/log.js';
import { createMetricsRegistry, type Registry } from '../../src/core/metrics.js';
import { createSpoolDir } from '../../src/dataserver/spool/spool-dir.js';
import { createHealth } from '../../src/dataserver/stages/health.js';
import { createSpoolIntake } from '../../src/dataserver/stages/spool-intake.js';

async function gauge(registry: Registry, name: string): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  const value = metric?.values[0]?.value;
  assert.ok(value !== undefined, `${name} not exported`);
  return value;
}

// The spool gauge stops at max_queue_files; the backlog gauges must count what the listing left
// on disk, and the oldest age must follow the oldest file whether queued or left on disk.
test('spool backlog: files beyond max_queue_files and the oldest file age are exported', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'backlog-'));
  const nowSec = Date.now() / 1000;
  for (let i = 0; i < 12; i++) {
    const path = join(dir, `agent${String(i)}.${String(1709287200 + i)}.data`);
    writeFileSync(path, '<agent_data/>');
    // agent0 is the oldest: 1 hour old; the others a minute apart after it.
    const mtime = nowSec - 3600 + i * 60;
    utimesSync(path, mtime, mtime);
  }
  const spool = createSpoolDir(dir, 'backlog-test');
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const intake = createSpoolIntake(
    { maxQueueFiles: 5, lifo: false, rescanIntervalMs: 60_000 },
    { spool, log: silentLogger(), ready: () => undefined },
  );
  const health = createHealth({
    log: silentLogger(),
    registry,
    state: () => ({
      queued: intake.size,
      inFlight: 0,
      leftAtSource: intake.leftAtSource,
      writerAvailable: true,
      report: {},
    }),
    waiting: intake.waiting?.bind(intake),
    nudge: () => undefined,
  });
  try {
    await intake.start([]);
    assert.equal(await gauge(registry, 'pandora_dataserver_spool_files'), 5);
    assert.equal(await gauge(registry, 'pandora_dataserver_backlog_files'), 12);
    const age = await gauge(registry, 'pandora_dataserver_oldest_file_age_seconds');
    assert.ok(age >= 3599 && age < 3700, `oldest age ${String(age)}`);

    // Hand out and finish the oldest file: the oldest waiting is now agent1 (59 min old).
    const first = intake.next();
    assert.equal(first?.name.startsWith('agent0.'), true);
    assert.ok(first);
    rmSync(join(dir, first.name));
    intake.done(first);
    await intake.refresh();
    assert.equal(await gauge(registry, 'pandora_dataserver_backlog_files'), 11);
    const after = await gauge(registry, 'pandora_dataserver_oldest_file_age_seconds');
    assert.ok(after >= 3539 && after < 3640, `oldest age after ${String(after)}`);
  } finally {
    health.close();
    await intake.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('spool backlog: nothing waiting reads 0 files and age 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'backlog-'));
  const spool = createSpoolDir(dir, 'backlog-empty');
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const intake = createSpoolIntake(
    { maxQueueFiles: 5, lifo: false, rescanIntervalMs: 60_000 },
    { spool, log: silentLogger(), ready: () => undefined },
  );
  createHealth({
    log: silentLogger(),
    registry,
    state: () => ({
      queued: 0,
      inFlight: 0,
      leftAtSource: false,
      writerAvailable: true,
      report: {},
    }),
    waiting: intake.waiting?.bind(intake),
    nudge: () => undefined,
  });
  try {
    await intake.start([]);
    assert.equal(await gauge(registry, 'pandora_dataserver_backlog_files'), 0);
    assert.equal(await gauge(registry, 'pandora_dataserver_oldest_file_age_seconds'), 0);
  } finally {
    await intake.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
