import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countsByResult, parsePrometheusText } from '../../bench/load/metrics-scraper.js';

const SAMPLE = `# HELP pandora_dataserver_spool_files Data files known to the queue
# TYPE pandora_dataserver_spool_files gauge
pandora_dataserver_spool_files 42
# TYPE pandora_dataserver_files_processed_total counter
pandora_dataserver_files_processed_total{result="ok"} 2990
pandora_dataserver_files_processed_total{result="badxml"} 10
pandora_dataserver_xml_parse_duration_seconds_bucket{le="0.001"} 7
`;

test('Prometheus text: sums over labels, labelled samples by result', () => {
  const samples = parsePrometheusText(SAMPLE, [
    'pandora_dataserver_spool_files',
    'pandora_dataserver_files_processed_total',
  ]);
  assert.equal(samples.get('pandora_dataserver_spool_files'), 42);
  assert.equal(samples.get('pandora_dataserver_files_processed_total'), 3000);
  assert.equal(samples.has('pandora_dataserver_xml_parse_duration_seconds_bucket'), false);
  assert.deepEqual(countsByResult(samples, 'pandora_dataserver_files_processed_total'), {
    ok: 2990,
    badxml: 10,
  });
});
