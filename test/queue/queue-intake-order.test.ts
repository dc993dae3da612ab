import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../src/core/log.js';
import { createMetricsRegistry } from '../../src/core/metrics.js';
import { createQueueIntake } from '../../src/dataserver/stages/queue-intake.js';
import type {
  ArrivedJob,
  JobOutcome,
  QueueSource,
} from '../../src/dataserver/stages/queue-source.js';

// The intake's own rules over a source that only records calls (Redis and BullMQ are covered by
// queue-intake.test.ts and scaleout-workers.test.ts): suspects alone, poison marked, abandoned
// files back at the head, held files released at close.

function recordingSource() {
  let deliver: ((job: ArrivedJob) => Promise<JobOutcome>) | undefined;
  const calls: string[] = [];
  const source: QueueSource = {
    start(onJob) {
      deliver = onJob;
      return Promise.resolve();
    },
    countStart: (job) => calls.push(`count ${job.name}`),
    uncountStart: (job) => calls.push(`uncount ${job.name}`),
    figures: () => Promise.resolve({ waiting: 0, active: 0, oldestWaitingAgeSec: 0 }),
    quarantineKey: 'test:ingest:quarantine',
    quarantine: (job, suffix) => {
      calls.push(`quarantine ${job.name}${suffix}`);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
  let id = 0;
  const arrive = (name: string, starts = 0): Promise<JobOutcome> => {
    if (!deliver) throw new Error('not started');
    const job = {
      partition: id % 4,
      jobId: String(++id),
      name,
      bytes: Buffer.from('<agent_data/>'),
      storedAt: 1_700_000_000_000,
      via: 'test',
      starts,
    };
    return deliver(job);
  };
  return { source, calls, arrive };
}

async function intakeWith(poisonStarts = 2) {
  const { source, calls, arrive } = recordingSource();
  const intake = createQueueIntake(
    { poisonStarts },
    { source, log: silentLogger(), registry: createMetricsRegistry(), ready: () => undefined },
  );
  await intake.start([]);
  return { intake, calls, arrive };
}

test('a suspect is handed alone and nothing is handed beside it', async (t) => {
  const { intake, calls, arrive } = await intakeWith();
  t.after(() => intake.close());
  const a = arrive('a.1.data');
  void arrive('b.1.data', 1);
  void arrive('c.1.data');
  assert.equal(intake.next()?.name, 'a.1.data');
  assert.equal(intake.next(), undefined, 'b waits for a; c waits behind b');
  const fileA = { name: 'a.1.data', key: 'a', mtimeMs: 0, recovered: false };
  await intake.store.remove('a.1.data');
  assert.equal(await a, 'complete');
  intake.done(fileA);
  const b = intake.next();
  assert.equal(b?.name, 'b.1.data');
  assert.equal(b.deaths, undefined, 'one death: handled again, not quarantined');
  assert.equal(intake.next(), undefined, 'nothing beside the suspect');
  await intake.store.reject('b.1.data', '_BADXML');
  intake.done(b);
  assert.equal(intake.next()?.name, 'c.1.data');
  assert.deepEqual(calls, [
    'count a.1.data',
    'count b.1.data',
    'quarantine b.1.data_BADXML', // a refused packet's bytes are kept before its job completes
    'count c.1.data',
  ]);
});

test('a job at poison_deaths unfinished handings is handed marked for quarantine', async (t) => {
  const { intake, calls, arrive } = await intakeWith(2);
  t.after(() => intake.close());
  void arrive('p.1.data', 2);
  const file = intake.next();
  assert.equal(file?.deaths, 2);
  assert.deepEqual(calls, [], 'a quarantine is no start');
});

test('an abandoned file goes back to the head, its start taken back', async (t) => {
  const { intake, calls, arrive } = await intakeWith();
  t.after(() => intake.close());
  void arrive('x.1.data');
  void arrive('y.1.data');
  const x = intake.next();
  assert.ok(x);
  intake.done(x); // neither removed nor rejected
  assert.equal(intake.next()?.name, 'x.1.data', 'x again, before y');
  assert.deepEqual(calls, ['count x.1.data', 'uncount x.1.data', 'count x.1.data']);
});

test('close releases held files that were not handed, and finished ones complete', async () => {
  const { intake, arrive } = await intakeWith();
  const handed = arrive('h.1.data');
  const held = arrive('w.1.data');
  const file = intake.next();
  assert.equal(file?.name, 'h.1.data');
  const closed = intake.close();
  assert.equal(await held, 'release');
  assert.equal(intake.next(), undefined, 'nothing handed while closing');
  assert.equal(await arrive('late.1.data'), 'release', 'a job arriving while closing goes back');
  await intake.store.remove('h.1.data');
  intake.done(file);
  assert.equal(await handed, 'complete');
  await closed;
});
