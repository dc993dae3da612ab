import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import {
  DB_CLOCK,
  eventInsertSql,
  eventRow,
  eventText,
  sqlExpression,
} from '../../src/db/index.js';
import { createSchemaDatabase } from '../helpers/db.js';

const COLUMNS = `id_agente, id_grupo, evento, event_type, criticity, estado, id_agentmodule,
  id_alert_am, tags, source, id_extra, id_usuario, critical_instructions, warning_instructions,
  unknown_instructions, ack_utimestamp, custom_data, data, module_status, event_custom_id,
  utimestamp - UNIX_TIMESTAMP() BETWEEN -5 AND 5 AS db_clock,
  ABS(TIMESTAMPDIFF(SECOND, timestamp, NOW())) <= 5 AS db_local_time`;

test('one event row: encoded text, the shared defaults, stamped on the database clock', async (t) => {
  const db = await createSchemaDatabase();
  t.after(() => db.drop());
  const row = eventRow({ evento: eventText("it's <down>"), event_type: 'system', at: DB_CLOCK });
  await db.pool.query(eventInsertSql(row));
  const [rows] = await db.pool.query<RowDataPacket[]>(`SELECT ${COLUMNS} FROM tevento`);
  assert.deepEqual(
    { ...rows[0] },
    {
      id_agente: 0,
      id_grupo: 0,
      evento: 'it&#039;s&#x20;&lt;down&gt;',
      event_type: 'system',
      criticity: 0,
      estado: 0,
      id_agentmodule: 0,
      id_alert_am: 0,
      tags: '',
      source: 'monitoring_server',
      id_extra: '',
      id_usuario: '',
      critical_instructions: '',
      warning_instructions: '',
      unknown_instructions: '',
      ack_utimestamp: 0,
      custom_data: '',
      data: '',
      module_status: 0,
      event_custom_id: '',
      db_clock: 1,
      db_local_time: 1,
    },
  );
});

test('INSERT … SELECT: one event per selected row, expressions and parameters in order', async (t) => {
  const db = await createSchemaDatabase();
  t.after(() => db.drop());
  const row = eventRow({
    id_grupo: sqlExpression('g.id_grupo'),
    evento: sqlExpression('CONCAT(?, g.nombre, ?)', 'group&#x20;', '&#x20;seen'),
    event_type: 'system',
    criticity: 3,
    at: { timestamp: '2026-01-02 03:04:05', utimestamp: 1_767_323_045 },
    event_custom_id: null,
  });
  const from = sqlExpression('FROM tgrupo g WHERE g.id_grupo IN (?) ORDER BY g.id_grupo', [2, 9]);
  await db.pool.query(eventInsertSql(row, from));
  const [rows] = await db.pool.query<RowDataPacket[]>(
    `SELECT id_grupo, evento, criticity, CAST(timestamp AS CHAR) AS ts, utimestamp,
       event_custom_id FROM tevento ORDER BY id_evento`,
  );
  const [groups] = await db.pool.query<RowDataPacket[]>(
    'SELECT id_grupo, nombre FROM tgrupo WHERE id_grupo IN (2, 9) ORDER BY id_grupo',
  );
  assert.ok(groups.length > 0, 'the seed has groups 2 or 9');
  assert.deepEqual(
    rows.map((r) => ({ ...r })),
    groups.map((g) => ({
      id_grupo: Number(g['id_grupo']),
      evento: `group&#x20;${String(g['nombre'])}&#x20;seen`,
      criticity: 3,
      ts: '2026-01-02 03:04:05',
      utimestamp: 1_767_323_045,
      event_custom_id: null,
    })),
  );
});
