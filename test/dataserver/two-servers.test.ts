import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Pool } from 'mysql2/promise';
import { createSchemaDatabase } from '../helpers/db.js';
import { teardown } from '../helpers/teardown.js';
import { tempDir } from '../helpers/tmp.js';
import { killHard, spawnServe, waitFor } from './child.js';
import { dropFile, mod, startHarness } from './harness.js';

// Two `serve` processes on one database receive the packets of the same agents alternately (a
// round-robin balancer); the rows must equal those of one server processing them in order.

const AGENTS = 20;
const ROUNDS = 16;
const CPU = [10, 10, 75, 75, 95, 95, 95, 80, 10, 10, 10, 96, 50, 50, 75, 10];
const PROC = [1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 1];

function agentPacket(agent: number, round: number): string {
  const t = new Date(Date.UTC(2024, 2, 1, 10, 0, 0) + round * 300_000).toISOString();
  const cpu = (CPU[round % CPU.length] ?? 0) + (agent % 3);
  return `<?xml version='1.0' encoding='UTF-8'?>
<agent_data agent_name='pair-${String(agent)}' group='Servers' os_name='Linux' interval='300' timestamp='${t.slice(0, 10)} ${t.slice(11, 19)}'>
${mod('cpu', 'generic_data', String(cpu), '<min_warning>70</min_warning><min_critical>90</min_critical>')}
${mod('proc', 'generic_proc', String(PROC[round % PROC.length] ?? 1), '<min_ff_event>1</min_ff_event>')}
${mod('st', 'generic_data_string', round % 4 < 2 ? 'OK' : 'FAIL')}
${mod('bytes', 'generic_data_inc', String(1000 * round * round + agent))}
</agent_data>`;
}

async function snapshot(pool: Pool) {
  const q = async (sql: string) => {
    const [rows] = await pool.query(sql);
    return (rows as Record<string, unknown>[]).map((r) => JSON.stringify(r));
  };
  const names = 'a.nombre AS agent, m.nombre AS module';
  const joins =
    'JOIN tagente_modulo m USING (id_agente_modulo) JOIN tagente a ON a.id_agente = m.id_agente';
  return {
    agents: await q(
      'SELECT nombre, alias, id_grupo, intervalo, ultimo_contacto_remoto FROM tagente ORDER BY nombre',
    ),
    history: await q(
      `SELECT ${names}, d.datos, d.utimestamp FROM tagente_datos d ${joins} ORDER BY 1, 2, 4, 3`,
    ),
    strings: await q(
      `SELECT ${names}, d.datos, d.utimestamp FROM tagente_datos_string d ${joins} ORDER BY 1, 2, 4, 3`,
    ),
    status: await q(
      `SELECT ${names}, e.datos, e.estado, e.known_status, e.last_status, e.last_known_status,
              e.status_changes, e.timestamp, e.last_try, e.last_execution_try, e.current_interval,
              e.last_status_change, e.ff_start_utimestamp, e.warning_count
         FROM tagente_estado e ${joins} ORDER BY 1, 2`,
    ),
    inc: await q(
      `SELECT ${names}, d.datos, d.utimestamp FROM tagente_datos_inc d ${joins} ORDER BY 1, 2`,
    ),
    events: await q(
      `SELECT a.nombre AS agent, COALESCE(m.nombre, '') AS module, v.event_type, v.criticity, v.estado,
              v.evento, v.data, v.module_status, v.ack_utimestamp > 0 AS acked
         FROM tevento v JOIN tagente a ON a.id_agente = v.id_agente
         LEFT JOIN tagente_modulo m ON m.id_agente_modulo = v.id_agentmodule
        ORDER BY 1, 2, v.id_evento`,
    ),
  };
}

/**
 * A fresh database with the schema, two spool folders and a `serve` process on each
 * (`<label>01`, `<label>02`), all torn down after the test.
 */
async function startPair(t: TestContext, label: string) {
  const cleanup = teardown(t);
  const db = await createSchemaDatabase();
  cleanup(() => db.drop());
  const tmp = tempDir(`ti-${label}-`);
  cleanup(() => {
    tmp.cleanup();
  });
  const dirs = [join(tmp.path, 's1'), join(tmp.path, 's2')];
  for (const d of dirs) mkdirSync(d, { recursive: true });
  // Each child is stopped at the end even when the other one failed to start.
  const servers = dirs.map((dir, i) =>
    spawnServe({ incomingDir: dir, dbName: db.name, serverName: `${label}0${String(i + 1)}` }),
  );
  for (const s of servers) cleanup(() => killHard(s));
  await Promise.all(servers.map((s) => s.ready));
  return { db, dirs };
}

test(
  'two servers dealt packets alternately write what one server writes',
  { timeout: 600_000 },
  async (t) => {
    const { db, dirs } = await startPair(t, 'pair');
    const reference = await startHarness({ servername: 'pair01' });
    t.after(() => reference.close());

    const committed = async () => {
      const [rows] = await db.pool.query('SELECT COUNT(*) n FROM tingest_ledger');
      return Number((rows as Record<string, unknown>[])[0]?.['n']);
    };
    for (let round = 0; round < ROUNDS; round++) {
      // The balancer: round r goes to server r % 2; agents report every interval, so round r+1
      // arrives after round r was processed.
      const dir = dirs[round % 2] ?? '';
      const mtime = 1_709_280_000 + round;
      for (let a = 1; a <= AGENTS; a++) {
        const name = `pair-${String(a)}.${String(1000 + round)}.data`;
        dropFile(dir, name, agentPacket(a, round), mtime);
        dropFile(reference.dir, name, agentPacket(a, round), mtime);
      }
      await reference.ds.drain();
      await waitFor(
        async () => (await committed()) === AGENTS * (round + 1),
        60_000,
        `round ${String(round)}`,
      );
    }

    const pair = await snapshot(db.pool);
    const single = await snapshot(reference.db.pool);
    assert.equal(pair.agents.length, AGENTS);
    assert.ok(pair.history.length > AGENTS * ROUNDS, 'history rows exist');
    assert.ok(pair.events.length > AGENTS * 3, 'status events exist');
    for (const key of Object.keys(single) as (keyof typeof single)[]) {
      assert.deepEqual(pair[key], single[key], `${key} differ`);
    }
  },
);

test(
  'two servers receiving the first packets of new agents at once create each agent once',
  { timeout: 300_000 },
  async (t) => {
    const { db, dirs } = await startPair(t, 'race');
    const N = 60;
    for (let a = 1; a <= N; a++) {
      dirs.forEach((dir, i) => {
        const body = mod(`m${String(i)}`, 'generic_data', '1');
        const xml = `<?xml version='1.0'?><agent_data agent_name='race-${String(a)}' group='Servers' timestamp='2024/03/01 10:00:0${String(i)}'>${body}</agent_data>`;
        dropFile(dir, `race-${String(a)}.${String(i)}.data`, xml);
      });
    }
    const count = async (sql: string) => {
      const [rows] = await db.pool.query(sql);
      return Number((rows as Record<string, unknown>[])[0]?.['n']);
    };
    await waitFor(
      async () => (await count('SELECT COUNT(*) n FROM tingest_ledger')) === 2 * N,
      60_000,
      'all committed',
    );
    assert.equal(await count('SELECT COUNT(*) n FROM tagente'), N);
    assert.equal(await count('SELECT COUNT(DISTINCT nombre) n FROM tagente'), N);
    assert.equal(await count('SELECT COUNT(*) n FROM tagente_modulo'), 2 * N);
    assert.equal(await count("SELECT COUNT(*) n FROM tevento WHERE event_type = 'new_agent'"), N);
  },
);
