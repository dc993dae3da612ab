/**
 * Interop check of spec alerts.md §8 tests 38 and 39 against Pandora's real Perl server. Not
 * part of `npm test` (CI has no Pandora source): run it with
 * `scripts/perl-alertserver-check.sh PANDORA_SOURCE [--keep]`, which installs the Perl server's
 * Debian packages first (docs/alerts.md, "Interop check").
 *
 * 1. Our `serve` queues the scenario's alerts (scenario.ts): fire then recover of a, b and c.
 * 2. Reference rows: the Perl dataserver (`alertserver_queue 1`) processes the same packets with
 *    the same alerts in a second database; its fired and recovered rows of a and b and ours are
 *    compared key by key.
 * 3. The Perl Alert Server alone (`dataserver 0`, `alertserver 1`, `alertserver_threads 1`)
 *    consumes our queue; each expectation of tests 38 and 39 prints PASS or FAIL.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type mysql from 'mysql2/promise';
import { decodeQueueData } from '../../src/dataserver/alerts/index.js';
import { safeInput } from '../../src/pandora/index.js';
import { spawnServe, waitFor } from '../dataserver/child.js';
import { dropFile } from '../dataserver/harness.js';
import { createSchemaDatabase, type TestDatabase } from '../helpers/db.js';
import { tempDir } from '../helpers/tmp.js';
import {
  completeSchema,
  perlConf,
  perlLogin,
  sourcePaths,
  startPerl,
  stop,
  type PerlLogin,
} from './perl-server.js';
import {
  agentXml,
  defineAlerts,
  diffQueueRows,
  NON_ASCII,
  type ScenarioAlerts,
} from './scenario.js';

type Row = Record<string, unknown>;

const results: { ok: boolean; what: string; detail: string }[] = [];

function expect(ok: boolean, what: string, detail = ''): void {
  results.push({ ok, what, detail });
  console.log(`${ok ? 'PASS' : 'FAIL'} ${what}${ok || detail === '' ? '' : ` — ${detail}`}`);
}

async function rowsOf(db: TestDatabase, sql: string, values: unknown[] = []): Promise<Row[]> {
  return (await db.pool.query<mysql.RowDataPacket[]>(sql, values))[0];
}

/** The decoded queue rows in id order. */
async function queueOf(db: TestDatabase): Promise<unknown[][]> {
  const rows = await rowsOf(db, 'SELECT data FROM talert_execution_queue ORDER BY id');
  return rows.map((r) => decodeQueueData(String(r['data'])) as unknown[]);
}

function rowsOfAlert(queue: unknown[][], id: number): unknown[][] {
  return queue.filter((d) => Number((d[3] as Row | undefined)?.['id_template_module']) === id);
}

function linesOf(file: string): string[] {
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
    : [];
}

/** Drops packets into a spool folder; each call resolves when `done(name)` says so. */
function feeder(dir: string, done: (name: string) => Promise<boolean>) {
  let seq = 0;
  return async (cpu: number, load: number, text: string): Promise<void> => {
    const name = `host1.${String(++seq)}.data`;
    dropFile(dir, name, agentXml(cpu, load, text));
    await waitFor(
      async () => !existsSync(join(dir, name)) && (await done(name)),
      60_000,
      `${name} processed`,
    );
  };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Phase 1: our serve queues fire and recovery of a, b, c. */
async function ourRows(db: TestDatabase, dir: string, files: { out: string; text: string }) {
  const incoming = join(dir, 'data_in');
  const ours = spawnServe({
    incomingDir: incoming,
    dbName: db.name,
    serverName: 'ti-interop',
    extra: ['--alert_config_refresh', '0'],
  });
  try {
    await ours.ready;
    const send = feeder(incoming, async (name) => {
      const done = await rowsOf(db, 'SELECT 1 FROM tingest_ledger WHERE file_name = ?', [name]);
      return done.length > 0;
    });
    await send(10, 10, 'start');
    const alerts = await defineAlerts(db.pool, files);
    await send(95, 95, NON_ASCII);
    // A second apart: the Alert Server takes rows ORDER BY utimestamp, ties in no set order.
    await pause(1100);
    await send(10, 10, 'all good');
    return alerts;
  } finally {
    await stop(ours, 10_000);
  }
}

/** Phase 2: the Perl dataserver queues the same fires (ASCII text: the reference throws on ✓). */
async function referenceRows(
  db: TestDatabase,
  dir: string,
  serverDir: string,
  login: PerlLogin,
): Promise<{ alerts: ScenarioAlerts; queue: unknown[][]; output: string }> {
  const incoming = join(dir, 'perl_reference_data_in');
  mkdirSync(incoming, { recursive: true });
  const perl = startPerl(serverDir, dir, 'reference', perlConf(dir, 'reference', db.name, login));
  try {
    const modules = async () => (await rowsOf(db, 'SELECT 1 FROM tagente_modulo')).length;
    const queued = async () => (await rowsOf(db, 'SELECT 1 FROM talert_execution_queue')).length;
    const send = feeder(incoming, async () => (await modules()) === 3);
    await send(10, 10, 'start');
    const alerts = await defineAlerts(db.pool, {
      out: join(dir, 'unused-out'),
      text: join(dir, 'unused-text'),
    });
    await send(95, 95, 'start');
    await waitFor(async () => (await queued()) >= 2, 30_000, 'the reference fired rows');
    await pause(1100);
    await send(10, 10, 'start');
    await waitFor(async () => (await queued()) >= 4, 30_000, 'the reference recovered rows');
    return { alerts, queue: await queueOf(db), output: perl.output() };
  } finally {
    await stop(perl.child, 20_000);
  }
}

async function main(): Promise<void> {
  const root = process.argv[2];
  if (root === undefined) throw new Error('usage: perl-alertserver.ts PANDORA_SOURCE [--keep]');
  const { server: serverDir, schema } = sourcePaths(resolve(root));
  const keep = process.argv.includes('--keep');

  const db = await createSchemaDatabase('ti_perl_interop');
  const refDb = await createSchemaDatabase('ti_perl_interop_ref');
  const tmp = tempDir('ti-perl-interop-');
  const files = { out: join(tmp.path, 'alerts-out'), text: join(tmp.path, 'alerts-text-out') };
  let login: PerlLogin | undefined;
  let executorOutput = '';
  try {
    const added = await completeSchema(db, schema);
    await completeSchema(refDb, schema);
    const columns = added.filter((name) => name.includes('.'));
    console.log(
      `scratch databases ${db.name} (ours), ${refDb.name} (reference); from pandoradb.sql: ` +
        `${String(added.length - columns.length)} tables our subset lacks; columns ${columns.join(' ')}`,
    );
    login = await perlLogin(db, [db.name, refDb.name]);

    // 1. Our rows.
    const { a, b, c } = await ourRows(db, tmp.path, files);
    const queue = await queueOf(db);
    const [aFire, aRecover] = rowsOfAlert(queue, a);
    const [bFire, bRecover] = rowsOfAlert(queue, b);
    const [cFire] = rowsOfAlert(queue, c);
    expect(queue.length === 6, 'our server queued 6 rows (a, b, c fired and recovered)');
    expect(
      aFire?.[0] === '95.00000' &&
        aFire[4] === 1 &&
        aRecover?.[0] === '10.00000' &&
        aRecover[4] === 0,
      'tests 1, 3: rows of a: "95.00000" mode 1, then "10.00000" mode 0',
      JSON.stringify([aFire?.[0], aFire?.[4], aRecover?.[0], aRecover?.[4]]),
    );
    expect(
      cFire?.[0] === NON_ASCII,
      `row of c: UTF-8 JSON with [0] ${JSON.stringify(NON_ASCII)}`,
      JSON.stringify(cFire?.[0]),
    );

    // 2. The reference's rows for the same packets and alerts.
    const reference = await referenceRows(refDb, tmp.path, serverDir, login);
    for (const [label, ourRow, alertId, index] of [
      ['fired row of a (Tmax on cpu)', aFire, reference.alerts.a, 0],
      ['recovered row of a', aRecover, reference.alerts.a, 1],
      ['fired row of b (Critical condition on load)', bFire, reference.alerts.b, 0],
      ['recovered row of b', bRecover, reference.alerts.b, 1],
    ] as const) {
      const refRow = rowsOfAlert(reference.queue, alertId)[index];
      if (ourRow === undefined || refRow === undefined) {
        expect(false, `${label}: ours and the Perl dataserver's`, 'missing');
        continue;
      }
      const diffs = diffQueueRows(ourRow, refRow);
      for (const d of diffs.filter((x) => x.typeOnly))
        console.log(
          `NOTE ${label} ${d.where}: ours ${JSON.stringify(d.ours)}, reference ${JSON.stringify(d.reference)} (JSON type only)`,
        );
      const real = diffs.filter((x) => !x.typeOnly);
      expect(
        real.length === 0,
        `${label}: same keys and values as the Perl dataserver's (clocks and server name aside)`,
        real
          .map(
            (d) =>
              `${d.where}: ours ${JSON.stringify(d.ours)}, reference ${JSON.stringify(d.reference)}`,
          )
          .join('; '),
      );
    }

    // 3. The Perl Alert Server consumes our queue.
    const conf = perlConf(tmp.path, 'executor', db.name, login);
    const executor = startPerl(serverDir, tmp.path, 'executor', conf);
    const started = Date.now();
    const emptied = await waitFor(
      async () => (await rowsOf(db, 'SELECT id FROM talert_execution_queue')).length === 0,
      60_000,
      'the Perl Alert Server to empty the queue',
    ).then(
      () => true,
      () => false,
    );
    const seconds = (Date.now() - started) / 1000;
    await stop(executor.child, 20_000);
    executorOutput = executor.output();
    expect(
      emptied && seconds <= 15,
      'test 38: queue empty within 15 s of starting the Perl Alert Server',
      emptied ? `${seconds.toFixed(1)} s` : 'not emptied in 60 s',
    );

    const events = await rowsOf(
      db,
      "SELECT id_alert_am, event_type, evento, criticity, source, custom_data FROM tevento WHERE event_type LIKE 'alert%' ORDER BY id_evento",
    );
    const of = (id: number, type: string) =>
      events.filter((e) => Number(e['id_alert_am']) === id && e['event_type'] === type);
    const aFired = of(a, 'alert_fired');
    expect(
      aFired.length === 1 &&
        aFired[0]?.['evento'] === safeInput('fired (Tmax) assigned to (cpu)') &&
        Number(aFired[0]['criticity']) === 4 &&
        String(aFired[0]['custom_data']).includes('"Echo action"'),
      'test 38: one alert_fired "fired (Tmax) assigned to (cpu)", criticity 4, custom_data lists the action',
      JSON.stringify(aFired),
    );
    const aRecovered = of(a, 'alert_recovered');
    expect(
      aRecovered.length === 1 && Number(aRecovered[0]?.['criticity']) === 2,
      'test 38: one alert_recovered, criticity 2',
      JSON.stringify(aRecovered),
    );
    const out = linesOf(files.out);
    expect(
      JSON.stringify(out) === JSON.stringify(['FIRED host1 cpu 95 1', 'RECOVERED host1 cpu 10 1']),
      'test 38: the file has exactly "FIRED host1 cpu 95 1" and "RECOVERED host1 cpu 10 1"',
      JSON.stringify(out),
    );
    const bFired = of(b, 'alert_fired');
    expect(
      bFired.length === 1 &&
        bFired[0]?.['evento'] === safeInput('host1 load generated an event alert (95)') &&
        Number(bFired[0]['criticity']) === 4 &&
        bFired[0]['source'] === 'pandora',
      'test 39: Monitoring Event alert_fired "host1 load generated an event alert (95)", criticity 4, source pandora',
      JSON.stringify(bFired),
    );
    const bCeased = of(b, 'alert_ceased');
    expect(
      bCeased.length === 1 &&
        bCeased[0]?.['evento'] === safeInput('RECOVERED: host1 load generated event alert (10)'),
      'test 39: Monitoring Event alert_ceased "RECOVERED: host1 load generated event alert (10)"',
      JSON.stringify(bCeased),
    );
    expect(
      !events.some((e) => String(e['evento']).startsWith(safeInput('fired (Critical condition)'))),
      'test 39: no generic "fired (Critical condition) …" event',
    );
    const text = linesOf(files.text);
    expect(
      JSON.stringify(text) === JSON.stringify([`FIRED msg ${NON_ASCII}`, 'RECOVERED msg all good']),
      `non-ASCII: the Perl Alert Server ran c's action with ${JSON.stringify(NON_ASCII)} as _data_`,
      JSON.stringify(text),
    );
    const rejected = executorOutput
      .split('\n')
      .filter((l) => /Invalid alert queued|Executing alert|Executing invalid alert/.test(l));
    expect(
      rejected.length === 0,
      'the Perl Alert Server decoded every row (no "Invalid alert queued")',
      rejected.join(' | '),
    );
  } finally {
    if (results.some((r) => !r.ok)) console.log(`Perl Alert Server output:\n${executorOutput}`);
    await login?.drop().catch((err: unknown) => {
      console.error(err);
    });
    if (keep) {
      console.log(`kept databases ${db.name}, ${refDb.name} and ${tmp.path}`);
      await Promise.all([db.pool.end(), refDb.pool.end()]);
    } else {
      await Promise.all([db.drop(), refDb.drop()]);
      tmp.cleanup();
    }
  }
  const failed = results.filter((r) => !r.ok).length;
  console.log(
    failed === 0
      ? `PASS all ${String(results.length)}`
      : `FAIL ${String(failed)} of ${String(results.length)}`,
  );
  process.exitCode = failed === 0 ? 0 : 1;
}

await main();
