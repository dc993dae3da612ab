/**
 * The worker side of scale-out mode against the local-spool mode, on this machine:
 *
 *   tsx bench/queue-workers.ts [--packets 3000] [--agents 300] [--runs 3] [--workers 1,2]
 *                              [--partitions 64] [--no-spool]
 *
 * Each run starts its own redis-server (no persistence, a free port) and `serve --no-tentacle`
 * processes on a fresh database, writes the packets (spool: files dropped into the incoming
 * folder; queue: jobs added with the topology's encoding, as a listener does after SEND OK) and
 * times until the ledger holds them all. CPU is read from /proc for the servers and for Redis
 * between "serving" and the last commit; the listener's own CPU is not part of it. Medians of
 * the runs are printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import {
  encodePacketJob,
  PACKET_JOB,
  partitionOf,
  partitionQueueName,
} from '../src/queue/index.js';
import { settingsHelp, type SettingsTable } from '../src/core/index.js';
import { formatMarkdownTable, median, readBenchFlags, readProcSnapshot } from './lib/index.js';

/** The bench's flags, read by the repository's one long-flag parser (core/settings.ts). */
const FLAGS = {
  packets: { kind: 'int', default: 3000, min: 1, help: 'packets written per run' },
  partitions: { kind: 'int', default: 64, min: 1, help: 'queue partitions' },
  agents: { kind: 'int', default: 300, min: 1, help: 'agents the packets cycle through' },
  runs: { kind: 'int', default: 3, min: 1, help: 'runs per mode (medians printed)' },
  workers: { kind: 'string', default: '1,2', help: 'queue-mode server counts, comma-separated' },
  spool: { kind: 'bool', default: true, help: 'also run the local-spool mode (--no-spool: not)' },
  help: { kind: 'bool', default: false, help: 'this text' },
} as const satisfies SettingsTable;

const flags = readBenchFlags(process.argv.slice(2), FLAGS);
if (flags === undefined) {
  console.log(`Usage: tsx bench/queue-workers.ts [flags]\n${settingsHelp(FLAGS)}`);
  process.exit(0);
}
const PACKETS = flags.packets;
const PARTITIONS = flags.partitions;
const AGENTS = flags.agents;
const RUNS = flags.runs;
const WORKER_COUNTS = flags.workers.split(',').map(Number);

interface Packet {
  readonly name: string;
  readonly bytes: Buffer;
}

/** `PACKETS` packets of `AGENTS` agents with ten modules each, round by round. */
function packets(): Packet[] {
  const out: Packet[] = [];
  for (let i = 0; i < PACKETS; i++) {
    const agent = i % AGENTS;
    const round = Math.floor(i / AGENTS);
    const t = new Date(Date.UTC(2024, 2, 1) + round * 300_000).toISOString();
    const modules = Array.from(
      { length: 10 },
      (_, m) =>
        `<module><name>m${String(m)}</name><type>generic_data</type><data>${String((round * 7 + m) % 100)}</data></module>`,
    ).join('');
    const xml = `<?xml version='1.0' encoding='UTF-8'?><agent_data agent_name='bench-${String(agent)}' group='Servers' interval='300' timestamp='${t.slice(0, 10)} ${t.slice(11, 19)}'>${modules}</agent_data>`;
    out.push({
      name: `bench-${String(agent)}.${String(1000 + round)}.data`,
      bytes: Buffer.from(xml),
    });
  }
  return out;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  return typeof address === 'object' && address ? address.port : 0;
}

function ready(child: ChildProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-4000);
      if (seen.includes(text)) resolve();
    });
    child.once('exit', (code) => {
      reject(new Error(`exited (${String(code)}) before "${text}"`));
    });
  });
}

function startServe(name: string, dir: string, db: string, extra: string[]): ChildProcess {
  const args = ['--import', 'tsx', 'src/main.ts', 'serve', '--no-tentacle'];
  args.push('--incomingdir', dir, '--dbhost', '127.0.0.1', '--dbuser', 'root', '--dbname', db);
  args.push('--servername', name, '--verbosity', '3', ...extra);
  return spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
}

const cpuOf = (pid: number | undefined) => (pid ? (readProcSnapshot(pid)?.cpuSeconds ?? 0) : 0);

interface RunResult {
  readonly seconds: number;
  readonly serverCpuMsPerPacket: number;
  readonly redisCpuMsPerPacket: number;
  /** Mean time a job was held (queue mode), from the servers' hold histograms. */
  readonly meanHoldMs: number;
}

async function run(mode: 'spool' | number, data: readonly Packet[]): Promise<RunResult> {
  const tmp = mkdtempSync(join(tmpdir(), 'ti-bench-q-'));
  const db = `ti_bench_${randomBytes(4).toString('hex')}`;
  const admin = await mysql.createConnection({ host: '127.0.0.1', user: 'root' });
  const children: ChildProcess[] = [];
  try {
    const redisPort = await freePort();
    const redisServer = spawn(
      'redis-server',
      ['--port', String(redisPort), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(redisServer);
    await ready(redisServer, 'Ready to accept connections');
    const url = `redis://127.0.0.1:${String(redisPort)}`;
    const queueFlags = ['--queue_url', url, '--queue_partitions', String(PARTITIONS)];
    const count = mode === 'spool' ? 1 : mode;
    const httpPorts = await Promise.all(Array.from({ length: count }, () => freePort()));
    // One after the other: the first one creates the schema of the fresh database.
    const servers: ChildProcess[] = [];
    for (let i = 0; i < count; i++) {
      const server = startServe(`bench0${String(i + 1)}`, join(tmp, `s${String(i)}`), db, [
        ...(mode === 'spool' ? [] : queueFlags),
        '--http_port',
        String(httpPorts[i] ?? 0),
      ]);
      children.push(server);
      servers.push(server);
      await ready(server, 'tentacle-ingest serving');
    }
    const cpu0 = servers.map((s) => cpuOf(s.pid));
    const redisCpu0 = cpuOf(redisServer.pid);
    const t0 = performance.now();
    if (mode === 'spool') {
      const dir = join(tmp, 's0');
      mkdirSync(dir, { recursive: true });
      for (const p of data) {
        writeFileSync(join(dir, `.${p.name}.part`), p.bytes);
        renameSync(join(dir, `.${p.name}.part`), join(dir, p.name));
      }
    } else {
      await enqueue(url, data);
    }
    for (;;) {
      const [rows] = await admin.query(`SELECT COUNT(*) n FROM \`${db}\`.tingest_ledger`);
      if (Number((rows as { n: number }[])[0]?.n) >= data.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - t0) / 1000;
    const serverCpu = servers.reduce((sum, s, i) => sum + cpuOf(s.pid) - (cpu0[i] ?? 0), 0);
    const redisCpu = cpuOf(redisServer.pid) - redisCpu0;
    let holdSum = 0;
    let holdCount = 0;
    for (const port of httpPorts) {
      const text = await (await fetch(`http://127.0.0.1:${String(port)}/metrics`)).text();
      const value = (name: string) =>
        Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? 0);
      holdSum += value('pandora_queue_job_hold_seconds_sum');
      holdCount += value('pandora_queue_job_hold_seconds_count');
    }
    return {
      meanHoldMs: holdCount > 0 ? (holdSum * 1000) / holdCount : 0,
      seconds,
      serverCpuMsPerPacket: (serverCpu * 1000) / data.length,
      redisCpuMsPerPacket: (redisCpu * 1000) / data.length,
    };
  } finally {
    for (const c of children.reverse()) {
      if (c.exitCode === null) {
        c.kill('SIGKILL');
        await once(c, 'exit');
      }
    }
    await admin.query(`DROP DATABASE IF EXISTS \`${db}\``);
    await admin.end();
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function enqueue(url: string, data: readonly Packet[]): Promise<void> {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const queues = new Map<number, Queue>();
  try {
    const byPartition = new Map<number, Packet[]>();
    for (const p of data) {
      const n = partitionOf(p.name, PARTITIONS);
      byPartition.set(n, [...(byPartition.get(n) ?? []), p]);
    }
    for (const [n, list] of byPartition) {
      const queue = new Queue(partitionQueueName(n), { connection, prefix: 'pandora' });
      queues.set(n, queue);
      await queue.addBulk(
        list.map((p) => ({
          name: PACKET_JOB,
          data: encodePacketJob(p.name, p.bytes, 'bench'),
          opts: { attempts: 1, removeOnComplete: true },
        })),
      );
    }
  } finally {
    for (const q of queues.values()) await q.close();
    connection.disconnect();
  }
}

const data = packets();
const withSpool = flags.spool;
const modes: ('spool' | number)[] = [...(withSpool ? ['spool' as const] : []), ...WORKER_COUNTS];
const rows: Record<string, string>[] = [];
for (const mode of modes) {
  const results: RunResult[] = [];
  for (let r = 0; r < RUNS; r++) results.push(await run(mode, data));
  const med = (f: (x: RunResult) => number) => median(results.map(f));
  rows.push({
    mode: mode === 'spool' ? 'local spool, 1 server' : `queue, ${String(mode)} worker(s)`,
    'packets/s': (data.length / med((x) => x.seconds)).toFixed(0),
    'server CPU ms/packet': med((x) => x.serverCpuMsPerPacket).toFixed(3),
    'Redis CPU ms/packet': mode === 'spool' ? '–' : med((x) => x.redisCpuMsPerPacket).toFixed(3),
    'total CPU ms/packet': med((x) => x.serverCpuMsPerPacket + x.redisCpuMsPerPacket).toFixed(3),
    'mean job hold ms': mode === 'spool' ? '–' : med((x) => x.meanHoldMs).toFixed(1),
  });
  process.stderr.write(`${String(mode)}: ${JSON.stringify(results)}\n`);
}
process.stdout.write(`${formatMarkdownTable(rows)}\n`);
