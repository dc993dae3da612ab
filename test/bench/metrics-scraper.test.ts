import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  countsByLabel,
  countsByResult,
  parsePrometheusText,
} from '../../bench/load/metrics-scraper.js';

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

test('Prometheus text: labelled samples by another label (Tentacle rejections by reason)', () => {
  const text = [
    'pandora_tentacle_rejections_total{reason="ERR_TENTACLE_ADDRESS_LIMIT"} 238',
    'pandora_tentacle_rejections_total{listener="a",reason="ERR_TENTACLE_TIMEOUT"} 2',
    'pandora_tentacle_rejections_total{subreason="x"} 5',
  ].join('\n');
  const samples = parsePrometheusText(text, ['pandora_tentacle_rejections_total']);
  assert.deepEqual(countsByLabel(samples, 'pandora_tentacle_rejections_total', 'reason'), {
    ERR_TENTACLE_ADDRESS_LIMIT: 238,
    ERR_TENTACLE_TIMEOUT: 2,
  });
});
