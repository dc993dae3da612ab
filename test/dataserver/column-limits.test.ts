// The column-limits table (src/db/column-limits.ts) against the live schema: the same lengths,
// types and charset as information_schema says, and exactly the boundary the database enforces.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import {
  COLUMN_LIMITS,
  LIVE_COLUMNS_SQL,
  columnLimitMismatches,
  fitEncodedToColumn,
  fitToColumn,
  fitsColumn,
  integerRange,
  textSize,
  type ColumnLimit,
  type LiveColumn,
  type TextLimit,
} from '../../src/db/column-limits.js';
import { silentLogger } from '../../src/core/log.js';
import { initDatabase } from '../../src/db/index.js';
import { createSchemaDatabase, testDbServer, type TestDatabase } from '../helpers/db.js';

async function liveColumns(db: TestDatabase): Promise<LiveColumn[]> {
  const [rows] = await db.pool.query<RowDataPacket[]>(LIVE_COLUMNS_SQL, [db.name]);
  return rows as unknown as LiveColumn[];
}

function textColumns(): [string, string, TextLimit][] {
  const out: [string, string, TextLimit][] = [];
  for (const [table, columns] of Object.entries(COLUMN_LIMITS)) {
    for (const [column, limit] of Object.entries(columns) as [string, ColumnLimit][]) {
      if ('chars' in limit || 'bytes' in limit) out.push([table, column, limit]);
    }
  }
  return out;
}

test('the limits table matches the live schema (information_schema)', async (t) => {
  const db = await createSchemaDatabase();
  t.after(() => db.drop());
  assert.deepEqual(columnLimitMismatches(await liveColumns(db)), []);

  // The comparison is not vacuous: a shorter column and a 3-byte charset are both reported.
  await db.pool.query('ALTER TABLE tagente MODIFY nombre VARCHAR(500) NOT NULL DEFAULT ""');
  await db.pool.query('ALTER TABLE tevento MODIFY evento TEXT CHARACTER SET utf8mb3');
  await db.pool.query('ALTER TABLE tagente_modulo MODIFY `min` INT DEFAULT 0');
  assert.deepEqual(columnLimitMismatches(await liveColumns(db)), [
    'tagente.nombre: 500 characters, expected 600',
    'tagente_modulo.min: int, expected bigint',
    'tevento.evento: charset utf8mb3, expected utf8mb4',
  ]);
});

test('the database takes a value cut to each text limit and refuses one character more', async (t) => {
  const db = await createSchemaDatabase();
  t.after(() => db.drop());
  const conn = await db.pool.getConnection();
  t.after(() => {
    conn.release();
  });
  await conn.query("SET SESSION sql_mode = 'STRICT_TRANS_TABLES'");
  // 4-byte characters (emoji) with an ASCII tail: chars and bytes limits cut differently.
  const long = '😀é'.repeat(40_000) + 'x';
  let checked = 0;
  for (const [table, column, limit] of textColumns()) {
    // tagent_custom_data needs a real agent and field (foreign keys); mediumtext values of
    // 16 MiB exceed the server's max_allowed_packet. Both are covered by the pipeline tests.
    if (table === 'tagent_custom_data' || limit.type === 'mediumtext') continue;
    const fitted = fitToColumn(long, limit);
    assert.ok(fitted.length < long.length, `${table}.${column} cut`);
    await conn.query('START TRANSACTION');
    await conn.query(`INSERT INTO \`${table}\` (\`${column}\`) VALUES (?)`, [fitted]);
    const [back] = await conn.query<RowDataPacket[]>(
      `SELECT \`${column}\` AS v FROM \`${table}\` WHERE \`${column}\` = ?`,
      [fitted],
    );
    assert.equal(back[0]?.['v'], fitted, `${table}.${column} stored whole`);
    const oneMore = long.slice(0, fitted.length + 2);
    await assert.rejects(
      conn.query(`INSERT INTO \`${table}\` (\`${column}\`) VALUES (?)`, [oneMore]),
      // Too long, or (a byte limit cutting into the emoji) an incomplete character.
      (err: { code?: string }) =>
        err.code === 'ER_DATA_TOO_LONG' || err.code === 'ER_TRUNCATED_WRONG_VALUE_FOR_FIELD',
      `${table}.${column} refuses one character more`,
    );
    await conn.query('ROLLBACK');
    checked++;
  }
  assert.ok(checked >= 15, `checked ${String(checked)} columns`);
});

test('integer ranges are the database ones (BIGINT bounds are doubles inside ±2^63)', async (t) => {
  const db = await createSchemaDatabase();
  t.after(() => db.drop());
  const [lo, hi] = integerRange(COLUMN_LIMITS.tagente_modulo.min);
  await db.pool.query('INSERT INTO tagente_modulo (`min`, `max`) VALUES (?, ?)', [lo, hi]);
  await assert.rejects(db.pool.query('INSERT INTO tagente_modulo (`max`) VALUES (?)', [2 ** 63]), {
    code: 'ER_WARN_DATA_OUT_OF_RANGE',
  });
  const [ilo, ihi] = integerRange(COLUMN_LIMITS.tagente.intervalo);
  assert.deepEqual([ilo, ihi], [0, 4_294_967_295]);
  assert.deepEqual(integerRange(COLUMN_LIMITS.tagente.timezone_offset), [-128, 127]);
});

test('fitToColumn cuts on a character boundary and to the exact size', () => {
  const samples = [
    '',
    'abc',
    'é'.repeat(300),
    '😀'.repeat(300),
    'a😀'.repeat(200),
    '\ud83d'.repeat(9),
  ];
  const limits: TextLimit[] = [
    { type: 'varchar', chars: 100 },
    { type: 'tinytext', bytes: 255 },
    { type: 'varchar', chars: 1 },
    { type: 'tinytext', bytes: 3 },
  ];
  for (const text of samples) {
    for (const limit of limits) {
      const cut = fitToColumn(text, limit);
      const max = limit.type === 'varchar' ? limit.chars : limit.bytes;
      assert.ok(text.startsWith(cut));
      assert.ok(textSize(cut, limit) <= max, 'within the limit');
      assert.ok(fitsColumn(cut, limit));
      if (cut.length < text.length) {
        // Maximal: the next character would not fit.
        const next = text.codePointAt(cut.length) ?? 0;
        assert.ok(textSize(cut + String.fromCodePoint(next), limit) > max, 'maximal');
        const last = cut.charCodeAt(cut.length - 1);
        assert.ok(!(last >= 0xd800 && last <= 0xdbff) || text === samples[5], 'no half pair');
      }
      if (limit.type !== 'varchar') assert.equal(textSize(cut, limit), Buffer.byteLength(cut));
    }
  }
  assert.equal(fitToColumn('😀😀', { type: 'varchar', chars: 1 }), '😀');
  assert.equal(fitToColumn('😀😀', { type: 'tinytext', bytes: 7 }), '😀');
});

test('an encoded value is not left with half an entity', () => {
  const limit: TextLimit = { type: 'varchar', chars: 10 };
  assert.equal(fitEncodedToColumn('ab&#x20;&#x20;cd', limit), 'ab&#x20;');
  assert.equal(fitEncodedToColumn('abcdefg&amp;', limit), 'abcdefg');
  assert.equal(fitEncodedToColumn('short&amp;', limit), 'short&amp;');
});

test('init-db on an existing schema reports the columns that differ (an older utf8mb3 Pandora)', async (t) => {
  const db = await createSchemaDatabase();
  t.after(() => db.drop());
  const cfg = { ...testDbServer(), database: db.name };
  const fresh = await initDatabase(cfg, { createDatabase: false }, { logger: silentLogger() });
  assert.deepEqual(fresh.columnMismatches, []);
  await db.pool.query(
    'ALTER TABLE tagente_datos_string MODIFY datos MEDIUMTEXT CHARACTER SET utf8mb3',
  );
  const again = await initDatabase(cfg, { createDatabase: false }, { logger: silentLogger() });
  assert.equal(again.schema, 'existing');
  assert.deepEqual(again.columnMismatches, [
    'tagente_datos_string.datos: charset utf8mb3, expected utf8mb4',
  ]);
});
