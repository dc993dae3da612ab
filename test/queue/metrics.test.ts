/**
 * One name for one meaning (issue 17): the shared queue's waiting count is
 * `pandora_queue_jobs_waiting` whether a listener or a worker knows it, and a process with both
 * exports one series, not two names or a registration clash.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { JOBS_WAITING_METRIC, reportJobsWaiting } from '../../src/queue/index.js';

async function waiting(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((l) => l.startsWith(JOBS_WAITING_METRIC));
}

test('a listener and a worker in one registry share one series; the newest reader speaks', async () => {
  const registry = new Registry();
  const stopListener = reportJobsWaiting(registry, () => 7);
  assert.deepEqual(await waiting(registry), [`${JOBS_WAITING_METRIC} 7`]);
  const stopWorker = reportJobsWaiting(registry, () => 9);
  assert.deepEqual(await waiting(registry), [`${JOBS_WAITING_METRIC} 9`], 'one series');
  stopWorker();
  assert.deepEqual(await waiting(registry), [`${JOBS_WAITING_METRIC} 7`], 'back to the listener');
  stopListener();
  assert.deepEqual(await waiting(registry), [`${JOBS_WAITING_METRIC} 0`]);
  assert.deepEqual(await waiting(new Registry()), [], 'nothing in a registry nobody reported to');
});
