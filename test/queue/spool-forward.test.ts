/**
 * Scale-out acceptance test 8, listener side (scaleout.md §4, §6): a Perl-style file written into
 * the local incoming folder is forwarded to the queue (enqueue, then delete), oldest first per
 * agent; while Redis is down nothing is deleted, and the next pass forwards it.
 */
import assert from 'node:assert/strict';
import { readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SpoolForwarder } from '../../src/queue/index.js';
import { memoryLogger } from '../tentacle/fixtures/harness.js';
import { RedisServer } from '../helpers/redis-server.js';
import { jobsIn, startQueueListener } from './fixtures/listener.js';

test('test 8: files in the local spool are forwarded oldest first, then deleted', async (t) => {
  const redis = await RedisServer.start(t);
  const { tentacle, producer } = await startQueueListener(t, redis.url, 'fwd');
  const dir = tentacle.dir;
  const base = Date.now() / 1000 - 100;
  // Names sort the other way round from their age: the order must come from mtime.
  const files = [
    { name: 'perl-agent.1700000009.data', age: 0 },
    { name: 'perl-agent.1700000005.data', age: 1 },
    { name: 'perl-agent.1700000001.data', age: 2 },
    { name: 'other_1700000000.data', age: 1 },
  ];
  for (const f of files) {
    const path = join(dir, f.name);
    writeFileSync(path, `<agent_data agent_name="${f.name}"/>`);
    utimesSync(path, base + f.age, base + f.age);
  }
  writeFileSync(join(dir, 'perl-agent.conf'), 'not a packet');

  const forwarder = new SpoolForwarder({ dir }, producer, memoryLogger().logger);
  t.after(() => forwarder.close());

  await redis.kill('SIGKILL');
  assert.equal(await forwarder.forwardOnce(), 0, 'nothing forwarded while Redis is down');
  assert.equal(readdirSync(dir).length, 5, 'and nothing deleted');
  await redis.restart();
  while (!producer.isConnected) await new Promise((r) => setTimeout(r, 50));

  assert.equal(await forwarder.forwardOnce(), 4);
  assert.deepEqual(readdirSync(dir), ['perl-agent.conf']);
  const jobs = await jobsIn(redis.url, 'fwd');
  assert.deepEqual(
    jobs.filter((j) => j.name.startsWith('perl-agent')).map((j) => j.name),
    ['perl-agent.1700000009.data', 'perl-agent.1700000005.data', 'perl-agent.1700000001.data'],
  );
  const other = jobs.find((j) => j.name === 'other_1700000000.data');
  assert.equal(other?.bytes.toString(), '<agent_data agent_name="other_1700000000.data"/>');
});
