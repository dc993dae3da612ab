// One master across Pandora's own servers and ours (issue 15, ha.md §2.5): Pandora's servers
// elect the live `tserver` row with the highest `master` (any server type, status 1) and read
// our rows the same way. Perl-like rows are inserted beside in-process servers of ours on a
// real MariaDB; each scenario checks which side runs master duties: ours = the coordinator's
// fenced transactions commit; Pandora's = the reference's election statement names its row.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import mysql from 'mysql2/promise';
import pino from 'pino';
import { ErrorCode } from '../../src/core/errors.js';
import { createMetricsRegistry, type Registry } from '../../src/core/metrics.js';
import { resolveSettings } from '../../src/core/settings.js';
import { pandoraTablesDdl } from '../../src/db/index.js';
import {
  createHaCoordinator,
  createNodeState,
  ensureHaSchema,
  haConfigFrom,
  HA_SETTINGS,
  type HaCoordinator,
} from '../../src/ha/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { teardown } from '../helpers/teardown.js';
import { eventually, LOAD_SLACK_MS } from './fixtures/cluster.js';

const TICK_MS = 250;
const SETTLE_MS = 15_000;
/** Pandora server types beside the data server (network, plugin, alert): any type counts. */
const PERL_SERVER_TYPES = [1, 4, 21];

interface OurServer {
  readonly name: string;
  readonly coordinator: HaCoordinator;
  readonly registry: Registry;
  /** Parsed pino lines of this server. */
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

async function freshDb(cleanup: (fn: () => unknown) => void): Promise<TestDatabase> {
  const db = await createTestDatabase('ti_ha_pm');
  cleanup(() => db.drop());
  for (const ddl of pandoraTablesDdl()) await db.pool.query(ddl);
  await ensureHaSchema(db.pool);
  return db;
}

async function startOurs(
  db: TestDatabase,
  cleanup: (fn: () => unknown) => void,
  name: string,
  master: number,
): Promise<OurServer> {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const log = pino({ level: 'info' }, sink);
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const pool = mysql.createPool({
    host: db.host,
    port: db.port,
    user: db.user,
    password: db.password,
    database: db.name,
    connectionLimit: 4,
  });
  const { values } = resolveSettings(HA_SETTINGS, {
    flags: new Map([
      ['servername', name],
      ['master', String(master)],
      ['server_keepalive', '2'],
      ['ha_tick_ms', String(TICK_MS)],
      ['ha_startup_grace_ms', '0'],
      ['ha_preempt_delay_ms', '500'],
    ]),
  });
  const coordinator = createHaCoordinator(haConfigFrom(values, 'test'), { pool, log, registry });
  await coordinator.start();
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await coordinator.close();
    await pool.end();
  };
  cleanup(close);
  return { name, coordinator, registry, logs, close };
}

interface PerlRow {
  readonly name: string;
  readonly master: number;
  readonly status?: number;
  /** Seconds since the row's keepalive (0 = fresh). */
  readonly keepaliveAgeSec?: number;
  readonly serverKeepalive?: number;
}

/** A Pandora server's rows as its Perl process writes them: one per sub-server type. */
async function insertPerlServer(pool: Pool, row: PerlRow): Promise<void> {
  for (const type of PERL_SERVER_TYPES) {
    await pool.query(
      `INSERT INTO tserver (name, server_type, status, laststart, keepalive, master, version,
         server_keepalive, server_keepalive_utimestamp)
       VALUES (?, ?, ?, NOW(), NOW() - INTERVAL ? SECOND, ?, '7.0NG.777', ?, UNIX_TIMESTAMP())`,
      [
        row.name,
        type,
        row.status ?? 1,
        row.keepaliveAgeSec ?? 0,
        row.master,
        row.serverKeepalive ?? 60,
      ],
    );
  }
}

/** One Perl heartbeat: every row of the server back to status 1 with a fresh keepalive. */
async function perlHeartbeat(pool: Pool, name: string): Promise<void> {
  await pool.query('UPDATE tserver SET status = 1, keepalive = NOW() WHERE name = ?', [name]);
}

/** What a live Pandora server elects at its tick (the reference's statement, ha.md §2.5). */
async function pandoraPick(pool: Pool): Promise<string> {
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT name FROM tserver WHERE master <> 0 AND status = 1 ORDER BY master DESC LIMIT 1',
  );
  return String(rows[0]?.['name'] ?? '');
}

/** Our side acts: a fenced master transaction commits (false when it is refused). */
async function oursRunsDuties(server: OurServer): Promise<boolean> {
  try {
    await server.coordinator.runFenced('test-duty', () => Promise.resolve());
    return true;
  } catch (err) {
    assert.equal((err as { code?: string }).code, ErrorCode.HaFenced);
    return false;
  }
}

async function gauge(registry: Registry, name: string): Promise<number> {
  const metric = registry.getSingleMetric(name);
  assert.ok(metric, name);
  return (await metric.get()).values[0]?.value ?? Number.NaN;
}

/** Holds for every sample over `ms` (the state is stable, not just reached once). */
async function holdsFor(ms: number, check: () => Promise<boolean>): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!(await check())) return false;
    await new Promise((resolve) => setTimeout(resolve, TICK_MS / 2));
  }
  return true;
}

test('a live Pandora row with a higher master: ours stands down and says who is master; lower: ours acts', async (t) => {
  const cleanup = teardown(t);
  const db = await freshDb(cleanup);
  const ours = await startOurs(db, cleanup, 'ours-a', 3);
  await eventually(() => oursRunsDuties(ours), SETTLE_MS, 'ours master alone');

  await insertPerlServer(db.pool, { name: 'perl-1', master: 5 });
  await eventually(async () => !(await oursRunsDuties(ours)), SETTLE_MS, 'ours stands down');
  assert.equal(await pandoraPick(db.pool), 'perl-1', 'Pandora runs the duties');
  const snap = ours.coordinator.snapshot();
  assert.equal(snap.role, 'standby');
  assert.equal(snap.master, 'perl-1');
  assert.deepEqual(snap.pandoraMaster, { name: 'perl-1', priority: 5 });
  assert.equal(await gauge(ours.registry, 'pandora_ha_pandora_master'), 1);
  const state = createNodeState(
    { minFreeBytes: 0, heartbeatStaleMs: 5000, drainDelayMs: 0 },
    { coordinator: ours.coordinator, log: pino({ level: 'silent' }) },
  );
  const status = await state.status();
  assert.deepEqual(
    [status.role, status.master, status.master_kind],
    ['standby', 'perl-1', 'pandora'],
  );
  assert.equal(await gauge(ours.registry, 'pandora_ha_master'), 0);
  const said = ours.logs.find((l) => l['event'] === 'pandoraMaster');
  assert.equal(said?.['master'], 'perl-1');
  const stepDown = ours.logs.find((l) => l['event'] === 'roleChanged' && l['role'] === 'standby');
  assert.match(String(stepDown?.['reason']), /Pandora server perl-1 \(master 5\)/);
  const [lease] = await db.pool.query<RowDataPacket[]>(
    "SELECT expires_at <= NOW(3) AS released FROM tha_lease WHERE role = 'master'",
  );
  assert.equal(lease[0]?.['released'], 1, 'the lease was released, not left to expire');
  assert.ok(await holdsFor(1500, async () => !(await oursRunsDuties(ours))), 'ours stays standby');

  // The operator gives the Perl server a lower master value (and restarts it).
  await db.pool.query("UPDATE tserver SET master = 2 WHERE name = 'perl-1'");
  await eventually(() => oursRunsDuties(ours), SETTLE_MS, 'ours master again');
  assert.equal(await pandoraPick(db.pool), 'ours-a', 'Pandora sees ours as master');
  assert.equal(ours.coordinator.snapshot().pandoraMaster, undefined);
  assert.equal(await gauge(ours.registry, 'pandora_ha_pandora_master'), 0);
  assert.ok(ours.logs.some((l) => l['event'] === 'pandoraMasterGone'));
});

test('rows that do not count: stale keepalive, status 0, status -1, master 0', async (t) => {
  const cleanup = teardown(t);
  const db = await freshDb(cleanup);
  // All outrank ours on paper; none is a live eligible Pandora server.
  await insertPerlServer(db.pool, { name: 'perl-stale', master: 7, keepaliveAgeSec: 200 });
  await insertPerlServer(db.pool, { name: 'perl-stopped', master: 7, status: 0 });
  await insertPerlServer(db.pool, { name: 'perl-dead', master: 7, status: -1 });
  await insertPerlServer(db.pool, { name: 'perl-never', master: 0 });
  const ours = await startOurs(db, cleanup, 'ours-a', 1);
  await eventually(() => oursRunsDuties(ours), SETTLE_MS, 'ours master');
  assert.ok(await holdsFor(1500, () => oursRunsDuties(ours)), 'ours stays master');
  assert.equal(ours.coordinator.snapshot().pandoraMaster, undefined);
  assert.equal(ours.coordinator.snapshot().master, 'ours-a');
  // The stale row is one a live Pandora server would mark -1 before electing (2 × 60 s < 200 s).
  const [stale] = await db.pool.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM tserver WHERE name = 'perl-stale'
       AND UNIX_TIMESTAMP(NOW()) - UNIX_TIMESTAMP(keepalive) > 2 * server_keepalive`,
  );
  assert.equal(Number(stale[0]?.['n']), PERL_SERVER_TYPES.length);
});

test('equal master values: exactly one side acts, the one the reference statement names', async (t) => {
  const cleanup = teardown(t);
  const db = await freshDb(cleanup);
  const ours = await startOurs(db, cleanup, 'ours-a', 4);
  await eventually(() => oursRunsDuties(ours), SETTLE_MS, 'ours master alone');
  await insertPerlServer(db.pool, { name: 'perl-tie', master: 4 });
  // Let a few ticks pass, then the verdict must be stable and agree with Pandora's.
  await new Promise((resolve) => setTimeout(resolve, 6 * TICK_MS));
  const pick = await pandoraPick(db.pool);
  assert.ok(pick === 'perl-tie' || pick === 'ours-a', pick);
  const oursActs = pick === 'ours-a';
  t.diagnostic(`tie resolved by the database's order: ${pick}`);
  assert.ok(
    await holdsFor(2000, async () => (await oursRunsDuties(ours)) === oursActs),
    `ours ${oursActs ? 'acts' : 'stands down'} throughout, as Pandora's pick (${pick}) says`,
  );
});

test('the Pandora master goes stale: ours takes over; it comes back: ours hands back', async (t) => {
  const cleanup = teardown(t);
  const db = await freshDb(cleanup);
  // A Perl server beating every 300 ms with server_keepalive 1: dead 2 s after its last beat.
  await insertPerlServer(db.pool, { name: 'perl-1', master: 6, serverKeepalive: 1 });
  let beating = true;
  const beat = setInterval(() => {
    if (beating) void perlHeartbeat(db.pool, 'perl-1').catch(() => undefined);
  }, 300);
  cleanup(() => {
    clearInterval(beat);
  });
  const ours = await startOurs(db, cleanup, 'ours-a', 2);
  await eventually(
    () => Promise.resolve(ours.coordinator.snapshot().pandoraMaster?.name === 'perl-1'),
    SETTLE_MS,
    'ours sees the Pandora master',
  );
  assert.ok(
    await holdsFor(1500, async () => !(await oursRunsDuties(ours))),
    'ours never acts while Pandora is master',
  );

  beating = false; // the Perl process is killed: its rows stay status 1 and age
  const killedAt = Date.now();
  await eventually(() => oursRunsDuties(ours), SETTLE_MS, 'ours takes over');
  const takeoverMs = Date.now() - killedAt;
  t.diagnostic(`takeover after the Pandora server stopped beating: ${takeoverMs} ms`);
  assert.ok(takeoverMs >= 1500, `not before the row can be stale (${takeoverMs} ms)`);
  assert.ok(takeoverMs <= 2000 + 300 + 2 * TICK_MS + LOAD_SLACK_MS, `${takeoverMs} ms`);
  assert.equal(ours.coordinator.snapshot().master, 'ours-a');

  beating = true; // the Perl server restarts
  await eventually(async () => !(await oursRunsDuties(ours)), SETTLE_MS, 'ours hands back');
  assert.equal(await pandoraPick(db.pool), 'perl-1');
  assert.equal(ours.coordinator.snapshot().master, 'perl-1');
});

test('ours 5 and 2 around a Pandora 3: 5 acts; when 5 stops, 2 stays standby; Pandora stops: 2 acts', async (t) => {
  const cleanup = teardown(t);
  const db = await freshDb(cleanup);
  await insertPerlServer(db.pool, { name: 'perl-1', master: 3 });
  const high = await startOurs(db, cleanup, 'ours-high', 5);
  const low = await startOurs(db, cleanup, 'ours-low', 2);
  await eventually(() => oursRunsDuties(high), SETTLE_MS, 'ours-high master');
  assert.equal(await pandoraPick(db.pool), 'ours-high', 'Pandora stands down for ours');
  assert.equal(low.coordinator.snapshot().pandoraMaster, undefined, 'the pick is ours');

  await high.close(); // SIGTERM: status 0 at once, lease released
  await eventually(
    () => Promise.resolve(low.coordinator.snapshot().master === 'perl-1'),
    SETTLE_MS,
    'ours-low sees the Pandora master',
  );
  assert.equal(await pandoraPick(db.pool), 'perl-1', 'Pandora takes over');
  assert.ok(
    await holdsFor(2000, async () => !(await oursRunsDuties(low))),
    'ours-low never acts beside the Pandora master',
  );
  const [noMaster] = await db.pool.query<RowDataPacket[]>(
    "SELECT COUNT(*) AS n FROM tevento WHERE evento LIKE 'No&#x20;master%'",
  );
  assert.equal(Number(noMaster[0]?.['n']), 0, 'a Pandora master is a master: no such event');

  await db.pool.query("UPDATE tserver SET status = 0 WHERE name = 'perl-1'"); // clean stop
  await eventually(() => oursRunsDuties(low), SETTLE_MS, 'ours-low master');
  assert.equal(await pandoraPick(db.pool), 'ours-low');
});
