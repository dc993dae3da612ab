/**
 * Scale-out acceptance test 5, listener side (scaleout.md §6): Redis (AOF, appendfsync always)
 * is killed with SIGKILL and started again while agents upload. Every upload gets an answer
 * within the Tentacle client's 4 s (SEND ERR during the outage, never a hang), the agents
 * resend what was refused, and every packet that got SEND OK is in Redis after the restart, in
 * each agent's send order.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RedisServer } from '../helpers/redis-server.js';
import { jobsIn, sendFile, startQueueListener } from './fixtures/listener.js';

const AGENTS = 4;
const PACKETS_PER_AGENT = 15;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('test 5: Redis killed and restarted during ingest loses no acknowledged packet', async (t) => {
  const redis = await RedisServer.start(t, { appendfsync: 'always' });
  const { tentacle, producer } = await startQueueListener(t, redis.url, 'outage');
  const acked = new Map<string, string[]>();
  let okTotal = 0;
  let errors = 0;
  let sawNotReady = false;

  const agent = async (name: string): Promise<void> => {
    const mine: string[] = [];
    acked.set(name, mine);
    const peer = await tentacle.connect();
    for (let seq = 0; seq < PACKETS_PER_AGENT;) {
      const file = `${name}.${String(1_700_000_000 + seq)}.data`;
      const body = Buffer.from(`<agent_data agent_name="${name}" seq="${String(seq)}"/>\n`);
      // readLine waits at most 4 s, the client's patience: a hang fails the test.
      const reply = await sendFile(peer, file, body);
      if (reply === 'SEND OK') {
        mine.push(file);
        okTotal++;
        seq++;
      } else {
        assert.equal(reply, 'SEND ERR');
        errors++;
        await sleep(200); // the agent keeps the file and sends it again
      }
    }
  };

  const outage = (async () => {
    while (okTotal < 20) await sleep(5);
    await redis.kill('SIGKILL');
    await sleep(1500);
    sawNotReady = producer.readinessReason() === 'queue';
    await redis.restart();
  })();
  await Promise.all([
    ...Array.from({ length: AGENTS }, (_, i) => agent(`host${String(i)}`)),
    outage,
  ]);

  assert.ok(errors > 0, 'uploads during the outage were refused');
  assert.ok(sawNotReady, '/readyz reason queue while Redis is down');
  const jobs = await jobsIn(redis.url, 'outage');
  for (const [name, mine] of acked) {
    // A refused upload whose add reached Redis before the crash may appear twice in a row
    // (the ledger skips the copy); order is what matters.
    const names = jobs.filter((j) => j.name.startsWith(`${name}.`)).map((j) => j.name);
    const collapsed = names.filter((n, i) => n !== names[i - 1]);
    assert.deepEqual(collapsed, mine, `${name}: every acknowledged packet, in send order`);
  }
});
