import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetricsRegistry } from '../../src/core/metrics.js';
import { createAlertMetrics } from '../../src/dataserver/alerts/metrics.js';
import { createHealth } from '../../src/dataserver/stages/health.js';
import { createProducerMetrics } from '../../src/queue/metrics.js';
import { createTentacleMetrics, RejectReason } from '../../src/tentacle/metrics.js';
import { createDeliveryMetrics } from '../../src/agent/lane.js';
import { createLogger } from '../../src/core/log.js';

test('build info: one series at 1 with the version and the Node.js runtime', async () => {
  const registry = createMetricsRegistry({ defaultMetrics: false, version: '9.8.7' });
  const text = await registry.metrics();
  assert.match(
    text,
    new RegExp(
      `^tentacle_ingest_build_info\\{version="9\\.8\\.7",node_version="${process.versions.node.replace(/\./g, '\\.')}"\\} 1$`,
      'm',
    ),
  );
  assert.doesNotMatch(
    await createMetricsRegistry({ defaultMetrics: false }).metrics(),
    /build_info/,
  );
});

test('labelled counters: every known label value is exported at 0 before anything happens', async () => {
  const registry = createMetricsRegistry({ defaultMetrics: false });
  createTentacleMetrics(registry);
  createProducerMetrics(registry);
  createAlertMetrics(registry);
  createDeliveryMetrics(registry);
  createHealth({
    log: createLogger({ level: 'silent' }),
    registry,
    state: () => ({
      queued: 0,
      inFlight: 0,
      leftAtSource: false,
      writerAvailable: true,
      report: {},
    }),
    nudge: () => undefined,
  });
  const text = await registry.metrics();
  const expected = [
    'pandora_tentacle_files_received_total{result="ok"} 0',
    'pandora_tentacle_files_received_total{result="error"} 0',
    `pandora_tentacle_rejections_total{reason="${RejectReason.AuthFailed}"} 0`,
    `pandora_tentacle_rejections_total{reason="${RejectReason.ProxyHeader}"} 0`,
    'pandora_queue_refusals_total{reason="full"} 0',
    'pandora_queue_refusals_total{reason="memory"} 0',
    'pandora_alerts_results_total{result="fired"} 0',
    'pandora_alerts_results_total{result="ceased"} 0',
    'pandora_delivery_files_total{target="secondary",result="rejected"} 0',
    'pandora_dataserver_files_processed_total{result="ok"} 0',
    'pandora_dataserver_files_processed_total{result="poison"} 0',
  ];
  const lines = new Set(text.split('\n'));
  for (const line of expected) assert.ok(lines.has(line), `missing: ${line}`);
  const rejectLines = [...lines].filter((l) => l.startsWith('pandora_tentacle_rejections_total{'));
  assert.equal(rejectLines.length, Object.keys(RejectReason).length);
});
