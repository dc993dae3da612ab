/**
 * The definition cache's freshness (spec alerts.md §5.5): from half of `alert_config_refresh`
 * a reload runs in the background while callers keep the loaded definitions; past the full
 * age a caller waits for a reload, so a console change applies to data processed more than
 * `alert_config_refresh` seconds after it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { connectionOptions } from '../../src/db/pool.js';
import { AlertDefinitionCache } from '../../src/dataserver/alerts/index.js';
import { createSchemaDatabase, testDbServer, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let pool: mysql.Pool;
before(async () => {
  db = await createSchemaDatabase('ti_alertdefs');
  pool = mysql.createPool({
    ...connectionOptions({ ...testDbServer(), database: db.name }),
    connectionLimit: 2,
  });
});
after(async () => {
  await pool.end();
  await db.drop();
});

const setStorm = (on: boolean) =>
  pool.query("UPDATE tconfig SET `value` = ? WHERE token = 'event_storm_protection'", [
    on ? '1' : '0',
  ]);

test('refresh ahead from half the age, a wait past it', async () => {
  const [rows] = await pool.query<mysql.RowDataPacket[]>(
    "SELECT COUNT(*) AS n FROM tconfig WHERE token = 'event_storm_protection'",
  );
  if (Number(rows[0]?.['n']) === 0)
    await pool.query("INSERT INTO tconfig (token, `value`) VALUES ('event_storm_protection', '0')");
  await setStorm(false);
  let now = 1_000_000;
  const cache = new AlertDefinitionCache(pool, 10, () => now);
  const first = await cache.get();
  assert.equal(first.eventStormProtection, false);

  await setStorm(true);
  now += 4;
  assert.equal(await cache.get(), first, 'young: the same definitions, no reload');
  now += 2; // age 6: served at once, a reload starts behind it
  assert.equal(await cache.get(), first);
  // Past the age of the first load the caller waits, here for the reload already under way:
  // it started at age 6, so it carries that time and sees the change.
  now += 4;
  const second = await cache.get();
  assert.equal(second.loadedAt, 1_000_006, 'the reload started in the background at age 6');
  assert.equal(second.eventStormProtection, true);

  await setStorm(false);
  now += 7; // past the age of the last load (6 + 10): this caller waits for a fresh one
  const third = await cache.get();
  assert.equal(third.loadedAt, now);
  assert.equal(third.eventStormProtection, false);
});
