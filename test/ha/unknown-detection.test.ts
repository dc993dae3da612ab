// Unknown-module detection, the master duty (dataserver.md §5.4, ha.md E9): overdue modules go
// to UNKNOWN exactly once with one going_unknown event each (reference text, safe_input form),
// quiet modules change status without an event, async and keep-alive modules are left alone,
// and nothing is written by a server that is not master.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { ErrorCode } from '../../src/core/errors.js';
import { markUnknownModules } from '../../src/ha/index.js';
import { eventually, startHttpNode } from '../http/fixtures.js';

interface ModuleSeed {
  readonly name: string;
  readonly type: number;
  readonly ageSec: number;
  readonly interval: number;
  readonly quiet?: number;
  readonly estado?: number;
}

test('overdue modules go unknown once, with one reference event each; others untouched', async (t) => {
  const node = await startHttpNode();
  t.after(() => node.close());
  const pool = node.db.pool;
  await eventually(() => Promise.resolve(node.coordinator.isMaster()), 10_000, 'master');

  const [agent] = await pool.query<ResultSetHeader>(
    "INSERT INTO tagente (nombre, alias, id_grupo) VALUES ('web&#x20;01', 'web 01', 12)",
  );
  const seeds: ModuleSeed[] = [
    { name: 'cpu&#x20;load', type: 1, ageSec: 700, interval: 300 }, // overdue (> 2 × 300)
    { name: 'disk', type: 1, ageSec: 500, interval: 300 }, // within 2 intervals
    { name: 'quiet_one', type: 3, ageSec: 1000, interval: 300, quiet: 1 },
    { name: 'async', type: 21, ageSec: 5000, interval: 300 }, // async: never unknown here
    { name: 'keepalive', type: 100, ageSec: 5000, interval: 300 },
    { name: 'already', type: 1, ageSec: 5000, interval: 300, estado: 3 },
  ];
  const ids = new Map<string, number>();
  for (const seed of seeds) {
    const [mod] = await pool.query<ResultSetHeader>(
      `INSERT INTO tagente_modulo (id_agente, id_tipo_modulo, nombre, module_interval, id_modulo,
         quiet, unknown_instructions) VALUES (?, ?, ?, ?, 1, ?, 'check the agent')`,
      [agent.insertId, seed.type, seed.name, seed.interval, seed.quiet ?? 0],
    );
    ids.set(seed.name, mod.insertId);
    await pool.query(
      `INSERT INTO tagente_estado (id_agente_modulo, id_agente, estado, known_status, last_status,
         utimestamp, current_interval, datos) VALUES (?, ?, ?, ?, ?, UNIX_TIMESTAMP() - ?, ?, '1')`,
      [
        mod.insertId,
        agent.insertId,
        seed.estado ?? 0,
        seed.estado ?? 0,
        seed.estado ?? 0,
        seed.ageSec,
        seed.interval,
      ],
    );
  }

  const changed = await node.coordinator.runFenced('unknown-detection', markUnknownModules);
  assert.equal(changed, 2, 'cpu load and the quiet module');
  const again = await node.coordinator.runFenced('unknown-detection', markUnknownModules);
  assert.equal(again, 0, 'a second pass changes nothing');

  const [states] = await pool.query<RowDataPacket[]>(
    `SELECT tm.nombre, te.estado, te.last_status, te.known_status, te.last_unknown_update > 0 AS stamped
     FROM tagente_estado te JOIN tagente_modulo tm USING (id_agente_modulo) ORDER BY tm.id_agente_modulo`,
  );
  assert.deepEqual(
    states.map((r): unknown[] => [r['nombre'], r['estado'], r['last_status'], r['known_status']]),
    [
      ['cpu&#x20;load', 3, 3, 0],
      ['disk', 0, 0, 0],
      ['quiet_one', 3, 3, 0],
      ['async', 0, 0, 0],
      ['keepalive', 0, 0, 0],
      ['already', 3, 3, 3],
    ],
  );

  const [events] = await pool.query<RowDataPacket[]>(
    `SELECT id_agente, id_grupo, id_agentmodule, evento, event_type, criticity, estado,
       module_status, source, unknown_instructions, tags, ack_utimestamp, utimestamp > 0 AS dated
     FROM tevento`,
  );
  assert.equal(events.length, 1, 'one event; the quiet module raises none');
  assert.deepEqual(
    { ...events[0] },
    {
      id_agente: agent.insertId,
      id_grupo: 12,
      id_agentmodule: ids.get('cpu&#x20;load'),
      evento: 'Module&#x20;&#039;cpu&#x20;load&#039;&#x20;is&#x20;going&#x20;to&#x20;UNKNOWN',
      event_type: 'going_unknown',
      criticity: 5,
      estado: 0,
      module_status: 3,
      source: 'monitoring_server',
      unknown_instructions: 'check the agent',
      tags: '',
      ack_utimestamp: 0,
      dated: 1,
    },
  );
  const [audit] = await pool.query<RowDataPacket[]>(
    "SELECT COUNT(*) AS n FROM tha_master_audit WHERE action = 'unknown-detection' AND epoch = 1",
  );
  assert.equal(Number(audit[0]?.['n']), 2, 'both passes audited with their epoch');

  // Not master any more: the duty is refused and writes nothing.
  await node.coordinator.setCandidate(false);
  await pool.query('UPDATE tagente_estado SET estado = 0 WHERE estado = 3');
  await assert.rejects(
    node.coordinator.runFenced('unknown-detection', markUnknownModules),
    (err: { code?: string }) => err.code === ErrorCode.HaFenced,
  );
  const [after] = await pool.query<RowDataPacket[]>(
    'SELECT COUNT(*) AS n FROM tagente_estado WHERE estado = 3',
  );
  assert.equal(Number(after[0]?.['n']), 0);
});
