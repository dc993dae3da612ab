import assert from 'node:assert/strict';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { sqlLiteral, sqlRows } from '../../src/dataserver/writer/sql-values.js';

test('sqlLiteral agrees with mysql2 escaping on every kind of value a batch holds', () => {
  const values: unknown[] = [
    0,
    -1,
    5.5,
    1709287200,
    'plain',
    '5.00000',
    '2024-03-01 10:00:00',
    "it's",
    'a\\b',
    'q"q',
    'line\nbreak',
    'tab\t',
    'nul\0',
    'ctrl\x1a',
    'ünïcödé €',
    '',
    null,
    undefined,
  ];
  for (const v of values) {
    assert.equal(sqlLiteral(v), mysql.escape(v as never), JSON.stringify(v));
  }
  assert.equal(sqlLiteral(Buffer.from([0xab, 0x01])), "X'ab01'");
  assert.equal(sqlLiteral(Number.NaN), 'NULL');
  assert.equal(
    sqlRows([
      [1, 'a'],
      [2, null],
    ]),
    "(1,'a'),(2,NULL)",
  );
});
