/**
 * The file handler on its own (issue 16): a real spool folder and the real parser, with a
 * writer that records what it is given and answers as the database would. Each case checks
 * where the file ends up, what reached the writer and what was counted.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Counter } from 'prom-client';
import { createMetricsRegistry } from '../../src/core/metrics.js';
import { silentLogger } from '../../src/core/log.js';
import { createInlineParser } from '../../src/dataserver/parser.js';
import { createSpoolDir } from '../../src/dataserver/spool/spool-dir.js';
import { createFileHandler } from '../../src/dataserver/stages/file-handler.js';
import { createByteBudget, type ByteBudget } from '../../src/dataserver/stages/byte-budget.js';
import { ENTRY_OVERHEAD_BYTES, HandedBytes } from '../../src/dataserver/stages/handed-bytes.js';
import type { IntakeFile } from '../../src/dataserver/stages/intake.js';
import type {
  BatchWriter,
  WriteJob,
  WriteResult,
} from '../../src/dataserver/writer/batch-writer.js';
import { DEFAULT_PARSE_OPTIONS } from '../../src/dataserver/xml/index.js';
import { tempDir } from '../helpers/tmp.js';

const GOOD = `<?xml version='1.0' encoding='UTF-8'?>
<agent_data agent_name='a1' interval='300' timestamp='2024/03/01 10:00:00'>
<module><name>cpu</name><type>generic_data</type><data>5</data></module>
</agent_data>`;

/** A writer that records each job and answers with `answer`. */
function recordingWriter(answer: WriteResult): BatchWriter & { jobs: WriteJob[] } {
  const jobs: WriteJob[] = [];
  return {
    jobs,
    submit(job) {
      jobs.push(job);
      return Promise.resolve(answer);
    },
    pending: 0,
    available: true,
    drain: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

function setup(
  t: TestContext,
  options: { maxXmlSize?: number; budget?: ByteBudget; handed?: HandedBytes } = {},
) {
  const tmp = tempDir('ti-handler-');
  t.after(() => {
    tmp.cleanup();
  });
  const spool = createSpoolDir(tmp.path, 'h01');
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const results = new Counter({
    name: 'results_total',
    help: 'by result',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const maxXmlSize = options.maxXmlSize ?? DEFAULT_PARSE_OPTIONS.maxXmlSize;
  const handler = createFileHandler({
    store: spool,
    parser: createInlineParser({ ...DEFAULT_PARSE_OPTIONS, maxXmlSize }),
    log: silentLogger(),
    registry,
    results,
    maxXmlSize,
    nowSec: () => 1_709_287_500,
    ...(options.budget ? { budget: options.budget } : {}),
    ...(options.handed ? { handed: options.handed } : {}),
  });
  const drop = (name: string, body: string): IntakeFile => {
    writeFileSync(join(tmp.path, name), body);
    const key = name.split('.')[0] ?? '';
    return { name, key, mtimeMs: statSync(join(tmp.path, name)).mtimeMs, recovered: false };
  };
  const counted = async () =>
    Object.fromEntries(
      (await results.get()).values.map((v) => [String(v.labels['result']), v.value]),
    );
  const left = () => ({
    spool: readdirSync(tmp.path).filter((n) => n !== '.processing'),
    claimed: readdirSync(spool.claimDir),
  });
  return { handler, drop, counted, left, spool };
}

test('a packet the writer commits is claimed, submitted once and removed', async (t) => {
  const s = setup(t);
  const w = recordingWriter({ status: 'committed' });
  await s.handler.handle(s.drop('a1.1709287200.data', GOOD), w);
  assert.equal(w.jobs.length, 1);
  const job = w.jobs[0];
  assert.ok(job?.kind === 'packet');
  assert.equal(job.packet.agentName, 'a1');
  assert.deepEqual(s.left(), { spool: [], claimed: [] });
  assert.deepEqual(await s.counted(), { ok: 1 });
});

test('bad XML goes to the writer as an event about the file, then becomes _BADXML', async (t) => {
  const s = setup(t);
  const w = recordingWriter({ status: 'committed' });
  await s.handler.handle(s.drop('a1.1709287200.data', '<agent_data'), w);
  const job = w.jobs[0];
  assert.ok(job?.kind === 'event');
  assert.equal(job.file?.fileName, 'a1.1709287200.data');
  assert.deepEqual(s.left(), { spool: ['a1.1709287200.data_BADXML'], claimed: [] });
  assert.deepEqual(await s.counted(), { badxml: 1 });
});

test('a file over max_xml_size is refused unread, with an event naming the limit', async (t) => {
  const s = setup(t, { maxXmlSize: 100 });
  const w = recordingWriter({ status: 'committed' });
  await s.handler.handle(s.drop('a1.1709287200.data', GOOD), w);
  const job = w.jobs[0];
  assert.ok(job?.kind === 'event');
  assert.match(job.event.evento, /max_xml_size/);
  assert.deepEqual(s.left(), { spool: ['a1.1709287200.data_BADXML'], claimed: [] });
});

test('a packet the database refuses becomes _FAILED', async (t) => {
  const s = setup(t);
  const w = recordingWriter({ status: 'failed', error: 'ER_SOMETHING' });
  await s.handler.handle(s.drop('a1.1709287200.data', GOOD), w);
  assert.deepEqual(s.left(), { spool: ['a1.1709287200.data_FAILED'], claimed: [] });
  assert.deepEqual(await s.counted(), { error: 1 });
});

test('an abandoned packet (database away at shutdown) stays claimed for the next start', async (t) => {
  const s = setup(t);
  const w = recordingWriter({ status: 'abandoned' });
  await s.handler.handle(s.drop('a1.1709287200.data', GOOD), w);
  assert.deepEqual(s.left(), { spool: [], claimed: ['a1.1709287200.data'] });
  assert.deepEqual(await s.counted(), {});
});

test('a recovered file is handled from the claim folder; a file taken by another is lost', async (t) => {
  const s = setup(t);
  const w = recordingWriter({ status: 'duplicate' });
  const file = s.drop('a1.1709287200.data', GOOD);
  assert.equal(await s.spool.claim(file.name), true);
  await s.handler.handle({ ...file, recovered: true }, w);
  assert.equal(w.jobs.length, 1);
  assert.deepEqual(s.left(), { spool: [], claimed: [] });
  // Gone before our claim (another process renamed it first): nothing reaches the writer.
  await s.handler.handle(file, w);
  assert.equal(w.jobs.length, 1);
  assert.deepEqual(await s.counted(), { duplicate: 1, lost: 1 });
  assert.equal(existsSync(join(s.spool.claimDir, file.name)), false);
});

test('over the byte budget a file waits before it is read, and goes once the first is finished', async (t) => {
  const budget = createByteBudget(GOOD.length + 10); // one file at a time
  const s = setup(t, { budget });
  const answers: ((r: WriteResult) => void)[] = [];
  const jobs: WriteJob[] = [];
  const w: BatchWriter = {
    submit(job) {
      jobs.push(job);
      return new Promise((resolve) => answers.push(resolve));
    },
    pending: 0,
    available: true,
    drain: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  const first = s.handler.handle(s.drop('a1.1709287200.data', GOOD), w);
  // a1 holds the budget before a2 arrives, so which file waits is fixed (not a claim race).
  await eventually(() => jobs.length === 1);
  const second = s.handler.handle(s.drop('a2.1709287200.data', GOOD.replace("'a1'", "'a2'")), w);
  await eventually(() => budget.waiting === 1);
  assert.equal(budget.held, GOOD.length);
  // Claimed, size known, not read: it waits in the claim folder beside the first.
  assert.deepEqual(s.left().claimed.sort(), ['a1.1709287200.data', 'a2.1709287200.data']);
  answers[0]?.({ status: 'committed' });
  await first;
  await eventually(() => jobs.length === 2);
  assert.equal(budget.waiting, 0);
  answers[1]?.({ status: 'committed' });
  await second;
  assert.equal(budget.held, 0, 'every byte given back');
  assert.deepEqual(
    jobs.map((j) => (j.kind === 'packet' ? j.packet.agentName : '')),
    ['a1', 'a2'],
  );
  assert.deepEqual(s.left(), { spool: [], claimed: [] });
});

test('handed-over bytes of the same file are parsed instead of the disk copy; others are read', async (t) => {
  const handed = new HandedBytes(1024 * 1024, 60_000);
  const s = setup(t, { handed });
  const w = recordingWriter({ status: 'committed' });
  // The disk copy says a1, the handed bytes a2: which one reached the writer shows the source.
  const file = s.drop('a1.1709287200.data', GOOD);
  const a2 = Buffer.from(GOOD.replace("'a1'", "'a2'"));
  handed.offer(file.name, { bytes: a2, mtimeMs: file.mtimeMs });
  await s.handler.handle(file, w);
  // Handed over for an older file of that name (another mtime): the disk is read.
  const again = s.drop('a1.1709287500.data', GOOD);
  handed.offer(again.name, { bytes: a2, mtimeMs: again.mtimeMs - 1000 });
  await s.handler.handle(again, w);
  assert.deepEqual(
    w.jobs.map((j) => (j.kind === 'packet' ? j.packet.agentName : '')),
    ['a2', 'a1'],
  );
  assert.equal(handed.held, 0, 'taken or dropped, nothing kept');
  assert.deepEqual(s.left(), { spool: [], claimed: [] });
  assert.deepEqual(await s.counted(), { ok: 2 });
});

test('handed-over bytes over max_xml_size are refused like a file read from disk', async (t) => {
  const handed = new HandedBytes(1024 * 1024, 60_000);
  const s = setup(t, { maxXmlSize: 100, handed });
  const w = recordingWriter({ status: 'committed' });
  const file = s.drop('a1.1709287200.data', GOOD);
  handed.offer(file.name, { bytes: Buffer.from(GOOD), mtimeMs: file.mtimeMs });
  await s.handler.handle(file, w);
  const job = w.jobs[0];
  assert.ok(job?.kind === 'event');
  assert.match(job.event.evento, /max_xml_size/);
});

test('the hand-over holds at most its byte limit and lets old entries go', () => {
  let now = 0;
  const entry = ENTRY_OVERHEAD_BYTES;
  const handed = new HandedBytes(entry + 10, 1000, () => now);
  const bytes = (n: number) => Buffer.alloc(n);
  assert.equal(handed.offer('a', { bytes: bytes(6), mtimeMs: 1 }), true);
  assert.equal(handed.offer('b', { bytes: bytes(6), mtimeMs: 1 }), false, 'over the limit');
  assert.equal(handed.offer('a', { bytes: bytes(4), mtimeMs: 2 }), true, 'replaces a');
  assert.equal(handed.held, entry + 4);
  now = 1000;
  assert.equal(handed.offer('c', { bytes: bytes(10), mtimeMs: 1 }), true, 'a expired');
  assert.equal(handed.take('a', 2), undefined);
  assert.equal(handed.take('c', 0), undefined, 'an older file of that name: not its bytes');
  assert.equal(handed.held, entry + 10, 'the newer upload keeps its entry for its own turn');
  assert.equal(handed.take('c', 1)?.length, 10);
  assert.equal(handed.held, 0);
});

test('a hand-over entry pins only its own bytes and counts even when empty', () => {
  const handed = new HandedBytes(2 * ENTRY_OVERHEAD_BYTES + 2, 60_000);
  // One byte of a 64 KiB socket chunk (the rest: the peer's next bytes).
  const chunk = Buffer.alloc(64 * 1024, 0x78);
  assert.equal(handed.offer('tiny', { bytes: chunk.subarray(100, 101), mtimeMs: 1 }), true);
  assert.equal(handed.offer('empty', { bytes: Buffer.alloc(0), mtimeMs: 1 }), true);
  assert.equal(handed.offer('more', { bytes: Buffer.alloc(0), mtimeMs: 1 }), false, 'by count');
  const taken = handed.take('tiny', 1);
  assert.deepEqual(taken, Buffer.from('x'));
  assert.equal(taken.buffer.byteLength, 1, 'not the 64 KiB chunk');
});

async function eventually(condition: () => boolean): Promise<void> {
  const ends = Date.now() + 5000;
  while (!condition()) {
    assert.ok(Date.now() < ends, 'condition not reached within 5 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}
