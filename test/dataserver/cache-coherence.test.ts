import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from './child.js';
import { X, mod, packet, startHarness, type Harness } from './harness.js';

// The state cache must never hide a change made by someone else: the console (module settings,
// deleted modules, a disabled agent) or the master's unknown task. No restarts in here.

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

const reloads = async () =>
  (await h.registry.getSingleMetric('pandora_dataserver_state_reloads_total')?.get())?.values[0]
    ?.value ?? 0;
const status = async () => ({
  ...(await h.rows('SELECT datos, estado FROM tagente_estado ORDER BY id_agente_estado'))[0],
});
const eventTypes = async () =>
  (
    await h.rows(
      "SELECT event_type FROM tevento WHERE event_type <> 'new_agent' ORDER BY id_evento",
    )
  ).map((r) => r['event_type']);

test('steady state reads nothing back: the cache stays valid across our own writes', async () => {
  await h.reset();
  await h.feed(X('10:00:00', '5'), X('10:05:00', '6'), X('10:10:00', '7'));
  await h.feed(X('10:15:00', '7', { attrs: "version='7.1' address='10.0.0.9'" }));
  assert.equal(await reloads(), 0);
});

test('a threshold changed in the console applies to the next datum', async () => {
  await h.reset();
  const p = (t: string, v: string) =>
    packet(t, mod('cpu', 'generic_data', v, '<min_critical>90</min_critical>'));
  await h.feed(p('10:00:00', '95'));
  assert.equal((await status())['estado'], 1);
  await h.rows('UPDATE tagente_modulo SET min_critical = 0');
  await h.feed(p('10:05:00', '95'));
  assert.equal(await reloads(), 1, 'the edit was seen and the agent reloaded once');
  assert.equal((await status())['estado'], 0);
  assert.deepEqual(await eventTypes(), ['going_up_critical', 'going_down_normal']);
});

test('history_data switched off in the console stops history at once', async () => {
  await h.reset();
  await h.feed(X('10:00:00', '5'));
  await h.rows('UPDATE tagente_modulo SET history_data = 0');
  await h.feed(X('10:05:00', '6'));
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos'), 1);
  assert.equal((await status())['datos'], '6.00000');
});

test('a module marked UNKNOWN by the master recovers with an event', async () => {
  await h.reset();
  await h.feed(X('10:00:00', '5'));
  await h.rows(
    'UPDATE tagente_estado SET estado = 3, last_status = 3, last_unknown_update = UNIX_TIMESTAMP()',
  );
  await h.feed(X('10:05:00', '5'));
  assert.equal((await status())['estado'], 0);
  assert.deepEqual(await eventTypes(), ['going_down_normal']);
});

test('a module deleted in the console is created again, leaving no orphan status row', async () => {
  await h.reset();
  await h.feed(X('10:00:00', '5'));
  await h.rows('DELETE FROM tagente_estado');
  await h.rows('DELETE FROM tagente_modulo');
  await h.feed(X('10:05:00', '6'));
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_modulo'), 1);
  assert.equal(
    await h.count(
      'SELECT COUNT(*) n FROM tagente_estado e LEFT JOIN tagente_modulo m USING (id_agente_modulo) WHERE m.id_agente_modulo IS NULL',
    ),
    0,
  );
  assert.equal((await status())['datos'], '6.00000');
});

test('an agent disabled in the console is left alone from the next file on', async () => {
  await h.reset();
  await h.feed(X('10:00:00', '5'));
  await h.rows('UPDATE tagente SET disabled = 1');
  await h.feed(X('10:05:00', '6'));
  assert.equal((await status())['datos'], '5.00000');
});

test('a deadlock with another writer (the unknown task locks status rows first) loses nothing', async (t) => {
  await h.reset();
  await h.feed(X('10:00:00', '5'));
  const [a] = await h.rows('SELECT id_agente FROM tagente');
  const id = Number(a?.['id_agente']);
  const other = await h.db.pool.getConnection();
  try {
    // The other writer's order: status rows, then the agent row (ours is the reverse).
    await other.query('START TRANSACTION');
    await other.query('SELECT * FROM tagente_estado WHERE id_agente = ? FOR UPDATE', [id]);
    const [name] = await Promise.all([
      h.feed(X('10:05:00', '6')),
      (async () => {
        await waitFor(
          async () =>
            (await h.count(
              "SELECT COUNT(*) n FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'",
            )) > 0,
          20_000,
          'our batch waiting for the status rows',
        );
        try {
          await other.query('SELECT * FROM tagente WHERE id_agente = ? FOR UPDATE', [id]);
          await other.query('COMMIT'); // InnoDB chose our batch as the victim: it retries
          t.diagnostic('deadlock victim: our batch (retried)');
        } catch {
          await other.query('ROLLBACK'); // the other writer was the victim
          t.diagnostic('deadlock victim: the other writer');
        }
      })(),
    ]);
    assert.ok(name);
  } finally {
    other.release();
  }
  assert.deepEqual(
    (await h.rows('SELECT datos FROM tagente_datos ORDER BY utimestamp')).map((r) => r['datos']),
    [5, 6],
  );
  assert.equal((await status())['datos'], '6.00000');
});

test('a cache smaller than the fleet evicts agents and reloads them with the same result', async () => {
  const fleet = ['alpha', 'bravo', 'charlie'];
  const round = (time: string, value: string) =>
    fleet.map((agent) =>
      packet(
        time,
        mod('cpu', 'generic_data', value, '<min_critical>90</min_critical>') +
          mod('mem', 'generic_data', value),
        `agent_name='${agent}' group='Servers' os_name='Linux' interval='300'`,
      ),
    );
  const run = async (extra: Record<string, string>) => {
    await h.reset(extra);
    await h.feed(...round('10:00:00', '5'));
    await h.feed(...round('10:05:00', '95'));
    await h.feed(...round('10:10:00', '95'));
    await h.feed(...round('10:15:00', '7'));
    return {
      status: await h.rows(
        `SELECT a.nombre, m.nombre AS module, e.datos, e.estado, e.status_changes, e.utimestamp > 0 AS seen
           FROM tagente_estado e JOIN tagente_modulo m USING (id_agente_modulo)
           JOIN tagente a ON a.id_agente = e.id_agente ORDER BY a.nombre, m.nombre`,
      ),
      history: await h.count('SELECT COUNT(*) n FROM tagente_datos'),
      events: await eventTypes(),
      modules: await h.count('SELECT COUNT(*) n FROM tagente_modulo'),
    };
  };
  const roomy = await run({});
  assert.equal(await reloads(), 0);
  const tight = await run({ dataserver_cache_modules: '2' });
  assert.ok((await reloads()) >= 6, 'every agent after the first round was reloaded');
  const cached = (await h.registry.getSingleMetric('pandora_dataserver_cache_modules')?.get())
    ?.values[0]?.value;
  assert.equal(cached, 2, 'one agent of two modules held at a time');
  assert.deepEqual(tight, roomy);
  assert.equal(roomy.modules, 6);
  assert.ok(roomy.events.includes('going_up_critical'));
});
