/**
 * Scale-out under a flood of large packets (issue 17, hostile input): a real `serve` in queue
 * mode (listener + worker in one process) under the shipped heap flags, 64 connections each
 * sending multi-megabyte packets at once. The listener's enqueue byte budget (enqueue-memory.ts)
 * must keep the heap bounded: the process stays alive and answers /livez, the excess is refused
 * with `SEND ERR` (logged once per burst, counted), and every packet that got `SEND OK` is
 * applied exactly once.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SERVE_NODE_FLAGS } from '../../src/core/heap.js';
import { killHard, spawnServe, waitFor } from '../dataserver/child.js';
import { mod } from '../dataserver/harness.js';
import { createSchemaDatabase } from '../helpers/db.js';
import { freePort } from '../helpers/net.js';
import { RedisServer } from '../helpers/redis-server.js';
import { teardown } from '../helpers/teardown.js';
import { tempDir } from '../helpers/tmp.js';
import { RawPeer } from '../tentacle/fixtures/harness.js';
import { queueState } from './fixture.js';

const PARTITIONS = 16;
const CONNECTIONS = 64;
const PACKET_BYTES = 3_500_000;
const MAX_SIZE = 4_000_000;
/** Each connection stops after this many SEND OKs, or when the flood's time is up. */
const ACCEPTED_PER_CONNECTION = 2;
const FLOOD_MS = 25_000;
const MB = 1024 * 1024;

/** A valid agent packet of about PACKET_BYTES: one module, padded with whitespace. */
function bigPacket(connection: number, seq: number): { name: string; body: Buffer } {
  const agent = `flood-${String(connection)}`;
  const head = `<?xml version='1.0' encoding='UTF-8'?>
<agent_data agent_name='${agent}' interval='300' timestamp='2024-03-01 10:${String(seq).padStart(2, '0')}:00'>
${mod('cpu', 'generic_data', String(seq))}
`;
  const tail = '</agent_data>\n';
  const pad = ' '.repeat(PACKET_BYTES - head.length - tail.length);
  return { name: `${agent}.${String(1000 + seq)}.data`, body: Buffer.from(head + pad + tail) };
}

type Reply = 'ok' | 'refused' | 'cut';

/** One SEND on a fresh connection, as an agent does it. */
async function send(port: number, p: { name: string; body: Buffer }): Promise<Reply> {
  let peer: RawPeer | undefined;
  try {
    peer = await RawPeer.connect(port);
    peer.write(`SEND <${p.name}> SIZE ${String(p.body.length)}\n`);
    const first = await peer.readLine(10_000);
    if (first !== 'SEND OK') return first === 'SEND ERR' ? 'refused' : 'cut';
    peer.write(p.body);
    const last = await peer.readLine(20_000);
    if (last === 'SEND OK') return 'ok';
    return last === 'SEND ERR' ? 'refused' : 'cut';
  } catch {
    return 'cut';
  } finally {
    peer?.socket.destroy();
  }
}

function rssPeakBytes(pid: number): number {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kb) * 1024;
}

async function metric(httpPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${String(httpPort)}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return Number(line?.split(' ').pop());
}

test(
  'a flood of large packets: bounded memory, clean refusals, every SEND OK applied once',
  { timeout: 300_000 },
  async (t) => {
    const cleanup = teardown(t);
    const db = await createSchemaDatabase('ti_flood');
    cleanup(() => db.drop());
    // A Redis of the test's own: the flood must not fill the shared one.
    const redis = await RedisServer.start(t, { appendonly: false });
    const tmp = tempDir('ti-flood-');
    cleanup(() => {
      tmp.cleanup();
    });
    const port = await freePort();
    const httpPort = await freePort();
    const prefix = 'flood';
    const child = spawnServe({
      incomingDir: join(tmp.path, 'in'),
      dbName: db.name,
      serverName: 'flood01',
      tentaclePort: port,
      nodeFlags: SERVE_NODE_FLAGS,
      extra: [
        ...['--queue_url', redis.url, '--queue_prefix', prefix],
        ...['--queue_partitions', String(PARTITIONS), '--queue_lock_ms', '10000'],
        ...['--tentacle_max_size', String(MAX_SIZE), '--http_port', String(httpPort)],
      ],
    });
    cleanup(() => killHard(child));
    await child.ready;
    const pid = child.pid ?? 0;

    let peakHeap = 0;
    const sampling = { on: true };
    const sampler = (async () => {
      while (sampling.on) {
        const used = await metric(httpPort, 'nodejs_heap_size_used_bytes').catch(() => 0);
        peakHeap = Math.max(peakHeap, used);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();

    const acknowledged: string[] = [];
    /** Packets refused or cut when the flood ended: the agent still has them and resends. */
    const unsent: { name: string; body: Buffer }[] = [];
    const replies = { ok: 0, refused: 0, cut: 0 };
    const floodEnds = Date.now() + FLOOD_MS;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, c) => {
        let seq = 0;
        let tried = false;
        while (seq < ACCEPTED_PER_CONNECTION && Date.now() < floodEnds) {
          const p = bigPacket(c, seq);
          const reply = await send(port, p);
          tried = true;
          replies[reply]++;
          if (reply === 'ok') {
            acknowledged.push(p.name);
            seq++; // a refused or cut packet is resent, as an agent does
            tried = false;
          }
        }
        if (tried) unsent.push(bigPacket(c, seq));
      }),
    );
    sampling.on = false;
    await sampler;

    assert.equal(child.exitCode, null, `the server is alive: ${child.stderrText()}`);
    const live = await fetch(`http://127.0.0.1:${String(httpPort)}/livez`);
    assert.equal(live.status, 200, '/livez answers');
    assert.ok(replies.ok > 0, `some packets were taken: ${JSON.stringify(replies)}`);
    assert.ok(replies.refused > 0, `some were refused cleanly: ${JSON.stringify(replies)}`);
    const memoryRefusals = await metric(httpPort, 'pandora_queue_refusals_total{reason="memory"}');
    assert.ok(memoryRefusals > 0, 'the memory refusals are counted');
    const rss = rssPeakBytes(pid);
    t.diagnostic(
      `replies ${JSON.stringify(replies)}, peak heap used ${String(Math.round(peakHeap / MB))} MB ` +
        `(sampled), peak RSS ${String(Math.round(rss / MB))} MB`,
    );
    // The heap limit is 304 MB: bounded means well under it, and RSS under what the old budget
    // (64 MB of packets priced at 1x) let it reach.
    assert.ok(peakHeap < 256 * MB, `heap stays bounded: ${String(peakHeap)}`);
    assert.ok(rss < 700 * MB, `RSS stays bounded: ${String(rss)}`);

    const reasons = await (await fetch(`http://127.0.0.1:${String(httpPort)}/metrics`)).text();
    t.diagnostic(
      reasons
        .split('\n')
        .filter((l) => l.startsWith('pandora_queue_refusals_total'))
        .join(', '),
    );

    // The agents resend what they still hold, one at a time, until each is taken. A refusal
    // may come after the add (the enqueue deadline passed) and a cut upload may have been
    // taken: the ledger skips such a resend, so each packet is applied once all the same.
    for (const p of unsent) {
      let reply: Reply = 'cut';
      for (let attempt = 0; attempt < 20 && reply !== 'ok'; attempt++) {
        reply = await send(port, p);
        if (reply !== 'ok') await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(reply, 'ok', `${p.name} is taken once the flood is over`);
      acknowledged.push(p.name);
    }
    const applied = async (): Promise<string[]> => {
      const [rows] = await db.pool.query('SELECT file_name FROM tingest_ledger ORDER BY 1');
      return (rows as { file_name: string }[]).map((r) => r.file_name);
    };
    const queueEmpty = async () => {
      const state = await queueState(prefix, PARTITIONS, redis.url);
      return state.waiting + state.active === 0;
    };
    await waitFor(
      async () => (await queueEmpty()) && (await applied()).length >= acknowledged.length,
      180_000,
      'every acknowledged packet applied, the queue empty',
    );
    assert.deepEqual(await applied(), [...acknowledged].sort(), 'ledger == SEND OK, once each');

    const logs = child.stdoutText();
    const bursts = logs.split('\n').filter((l) => l.includes('"event":"queue_refusing"'));
    assert.ok(bursts.length >= 1, 'the refusals are logged');
    assert.ok(
      bursts.length < replies.refused,
      `logged once per burst, not per upload: ${String(bursts.length)} lines, ${String(replies.refused)} refusals`,
    );
  },
);
