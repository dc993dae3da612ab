/**
 * Live fuzz (bounded, seeded, a few seconds): random and mutated byte streams into real
 * sessions over TCP. The server must never crash, never write outside its storage folder, and
 * never hold more than its per-connection memory bound; afterwards it still serves a clean
 * upload and no temp file is left.
 */
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { MAX_LINE_BYTES } from '../../src/tentacle/parser.js';
import { MEMORY_BUFFER_BYTES } from '../../src/tentacle/spool-writer.js';
import { RawPeer, runSteps, startServer, tempFilesIn } from './fixtures/harness.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 20261122);
const DURATION_MS = Number(process.env['FUZZ_MS'] ?? 4000);
const CONCURRENCY = 8;
const MAX_SIZE = 20_000;

function mulberry32(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = [
  'a.data',
  '../up.data',
  'sub/x',
  'x.conf',
  '..',
  '.',
  '',
  'a b ',
  'n\x00ul',
  '/etc/passwd',
  'ok.1.data',
  '\\win',
  'é.data',
  'x'.repeat(300),
];
const WORDS = [
  'SEND',
  'ZSEND',
  'RECV',
  'ZRECV',
  'LS',
  'MV',
  'QUIT',
  'PASS',
  'RECV OK',
  'LS OK',
  'MV OK',
  'ZRECV OK',
];

function validish(rand: () => number): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const name = rand() < 0.3 ? `f${Math.floor(rand() * 1e6)}.data` : pick(NAMES);
  const word = pick(WORDS);
  const size = rand() < 0.8 ? Math.floor(rand() * 3000) : Math.floor(rand() * 1e9);
  const line = word.endsWith('SEND')
    ? `${word} <${name}> SIZE ${size}\n`
    : word.endsWith('OK') || word === 'QUIT'
      ? `${word}\n`
      : `${word} <${name}>\n`;
  const body = word.endsWith('SEND')
    ? Buffer.alloc(Math.min(size, 4000), 0x41 + Math.floor(rand() * 26))
    : Buffer.alloc(0);
  if (word === 'ZSEND' && rand() < 0.5) body.write('PK\x03\x04', 'latin1');
  return Buffer.concat([Buffer.from(line, 'latin1'), body]);
}

function mutate(data: Buffer, rand: () => number): Buffer {
  const out = Buffer.from(data);
  const flips = Math.floor(rand() * 4);
  for (let i = 0; i < flips && out.length > 0; i++) {
    out[Math.floor(rand() * out.length)] = Math.floor(rand() * 256);
  }
  return out;
}

function stream(rand: () => number): Buffer {
  const parts: Buffer[] = [];
  const n = 1 + Math.floor(rand() * 6);
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.15) {
      const junk = Buffer.alloc(Math.floor(rand() * 2500));
      for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(rand() * 256);
      parts.push(junk);
    } else {
      parts.push(r < 0.6 ? validish(rand) : mutate(validish(rand), rand));
    }
  }
  return Buffer.concat(parts);
}

async function fuzzOne(port: number, data: Buffer, rand: () => number): Promise<void> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  await new Promise<void>((resolve) => {
    socket.once('connect', resolve);
    socket.once('close', resolve);
  });
  for (let off = 0; off < data.length && !socket.destroyed;) {
    const n = 1 + Math.floor(rand() * 1500);
    socket.write(data.subarray(off, off + n));
    off += n;
    if (rand() < 0.3) await new Promise((r) => setImmediate(r));
  }
  const end = rand();
  if (end < 0.4) socket.destroy();
  else if (end < 0.8) socket.end();
  else await new Promise((r) => setTimeout(r, 20)).then(() => socket.destroy());
}

/** Every path under `dir`, as bytes (fuzzed names need not be UTF-8). */
function walk(dir: Buffer, out: Buffer[] = []): Buffer[] {
  for (const name of readdirSync(dir, { encoding: 'buffer' })) {
    const p = Buffer.concat([dir, Buffer.from('/'), name]);
    out.push(p);
    if (lstatSync(p).isDirectory()) walk(p, out);
  }
  return out;
}

test(`live fuzz: random and mutated sessions (seed ${SEED}, ${DURATION_MS} ms)`, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tentacle-fuzz-'));
  t.after(() => {
    rmSync(root, { recursive: true, force: true });
  });
  const storage = join(root, 'storage');
  mkdirSync(join(storage, 'conf'), { recursive: true });
  writeFileSync(join(root, 'outside-sentinel'), 'x');
  const h = await startServer(t, {
    directory: storage,
    maxSize: MAX_SIZE,
    insecure: true,
    filters: '.*\\.conf:conf',
    maxConnections: CONCURRENCY * 2,
    timeoutSec: 1,
    retries: 1,
  });
  // Per connection: a partial line, one body buffer plus the chunk that overflows it, or a
  // whole ZSEND archive (max_size).
  const perConnection = MAX_LINE_BYTES + Math.max(MEMORY_BUFFER_BYTES + 65536, MAX_SIZE);
  const rand = mulberry32(SEED);
  let sessions = 0;
  let maxBuffered = 0;
  const sampler = setInterval(() => {
    maxBuffered = Math.max(maxBuffered, h.server.bufferedBytes());
  }, 1);
  const until = performance.now() + DURATION_MS;
  const workers = Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < until) {
      await fuzzOne(h.port, stream(rand), rand);
      sessions++;
    }
  });
  await Promise.all(workers);
  clearInterval(sampler);
  assert.ok(sessions > 100, `only ${sessions} sessions`);
  assert.ok(maxBuffered <= perConnection * CONCURRENCY * 2, `held ${maxBuffered} bytes`);

  // Every fuzz client has closed its side: the server lets go of all of them promptly
  // (EOF is noticed even mid-command), without waiting for the idle limit.
  const settle = performance.now() + 1500;
  while (h.server.activeConnections() + h.server.waitingConnections() > 0) {
    assert.ok(performance.now() < settle, 'connections of departed clients linger');
    await new Promise((r) => setTimeout(r, 20));
  }
  // Still alive and serving.
  const peer = await RawPeer.connect(h.port);
  await runSteps(peer, [
    { send: 'SEND <after.fuzz.data> SIZE 2\n' },
    { expect: 'SEND OK\n' },
    { send: 'ok' },
    { expect: 'SEND OK\n' },
  ]);
  peer.destroy();
  await h.server.drain();

  // Nothing outside the storage folder, no temp file inside it.
  const inside = Buffer.from(`${storage}/`);
  const outside = walk(Buffer.from(root))
    .filter((p) => !p.subarray(0, inside.length).equals(inside))
    .map((p) => relative(root, p.toString('latin1')));
  assert.deepEqual(outside.sort(), ['outside-sentinel', 'storage']);
  assert.deepEqual(tempFilesIn(storage), []);
  assert.deepEqual(tempFilesIn(join(storage, 'conf')), []);
  t.diagnostic(
    `${sessions} sessions, max buffered ${maxBuffered} bytes, ${readdirSync(storage, { encoding: 'buffer' }).length} names stored`,
  );
});
