import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../../src/core/log.js';
import { initDatabase } from '../../src/db/index.js';
import { createTestDatabase, testDbServer } from '../helpers/db.js';
import { tempDir } from '../helpers/tmp.js';
import { killHard, spawnServe, startServe, waitFor } from './child.js';
import { dropFile, mod } from './harness.js';
import { teardown } from '../helpers/teardown.js';

// A child `tentacle-ingest serve` ingests a stream of files and is SIGKILLed at random moments,
// many times; after a final restart every file must be in the database exactly once.

const AGENTS = 100;
const ROUNDS = 30;
const KILLS = 18;

function agentPacket(agent: number, round: number): string {
  const t = new Date(Date.UTC(2024, 2, 1, 10, round * 5, 0)).toISOString().replace('T', ' ');
  return `<?xml version='1.0' encoding='UTF-8'?>
<agent_data agent_name='crash-${agent}' group='Servers' os_name='Linux' interval='300' timestamp='${t.slice(0, 19)}'>
${mod('cnt', 'generic_data', String(round))}
${mod('st', 'generic_data_string', `s${round}`)}
${mod('proc', 'generic_proc', String(round % 2))}
${mod('ev', 'async_data', '1')}
</agent_data>`;
}

test(
  'SIGKILL at random moments loses nothing and duplicates nothing',
  { timeout: 600_000 },
  async (t) => {
    const cleanup = teardown(t);
    const db = await createTestDatabase();
    cleanup(() => db.drop());
    const server = { ...testDbServer(), database: db.name };
    await initDatabase(server, { createDatabase: false }, { logger: silentLogger() });
    const tmp = tempDir('ti-crash-');
    cleanup(() => {
      tmp.cleanup();
    });
    const dir = join(tmp.path, 'data_in');
    mkdirSync(dir, { recursive: true });
    const count = async (sql: string): Promise<number> => {
      const [rows] = await db.pool.query(sql);
      return Number((rows as Record<string, unknown>[])[0]?.['n']);
    };

    // The stream: one round of packets (every agent) at a time while the child is being killed.
    let round = 0;
    const writeRound = () => {
      round++;
      for (let a = 1; a <= AGENTS; a++) {
        const name = `crash-${String(a)}.${String(1_000_000 + round)}.data`;
        dropFile(dir, name, agentPacket(a, round), 1_709_280_000 + round);
      }
    };
    writeRound();
    const feeder = setInterval(() => {
      if (round < ROUNDS) writeRound();
    }, 400);
    cleanup(() => {
      clearInterval(feeder);
    });

    // Small batches: more transactions in flight, so more kills land inside one.
    const serveOptions = {
      incomingDir: dir,
      dbName: db.name,
      serverName: 'crash01',
      // The poison-file guard off: it would rightly set aside a file that happened to be in
      // flight at two of these kills (all external); poison-file.test.ts covers the guard.
      extra: ['--dataserver_batch_files', '20', '--dataserver_poison_deaths', '0'],
    };
    const committedAtKill: number[] = [];
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let kill = 0; kill < KILLS; kill++) {
      const child = spawnServe({ ...serveOptions });
      cleanup(() => killHard(child)); // one that hangs at startup must not outlive the test
      // Odd kills: anywhere in startup (recovery of the claim folder included). Even kills: once
      // serving, within the next half second, while batches are being written.
      if (kill % 2 === 1)
        await new Promise((r) => setTimeout(r, 100 + Math.floor(random() * 1100)));
      else {
        await child.ready.catch(() => undefined);
        await new Promise((r) => setTimeout(r, Math.floor(random() * 500)));
      }
      await killHard(child);
      committedAtKill.push(await count('SELECT COUNT(*) n FROM tingest_ledger'));
    }
    clearInterval(feeder);
    while (round < ROUNDS) writeRound();

    const total = AGENTS * ROUNDS;
    const child = await startServe({ ...serveOptions });
    cleanup(() => killHard(child));
    await waitFor(
      async () => (await count('SELECT COUNT(*) n FROM tingest_ledger')) >= total,
      240_000,
      'all files committed',
    );
    const claimDir = join(dir, '.processing', 'crash01');
    await waitFor(
      () =>
        Promise.resolve(
          readdirSync(dir).filter((n) => n.endsWith('.data')).length === 0 &&
            readdirSync(claimDir).length === 0,
        ),
      60_000,
      'spool and claim folder empty',
    );
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code, signal] = (await exited) as [number | null, string | null];
    assert.equal(code, 0, `graceful exit (signal ${String(signal)}): ${child.stderrText()}`);

    t.diagnostic(
      `files committed at each of the ${String(KILLS)} kills: ${committedAtKill.join(',')}`,
    );
    // The kills landed while files were being processed, not only before or after.
    const midStream = new Set(committedAtKill.filter((n) => n > 0 && n < total));
    assert.ok(midStream.size >= 5, `committed files at each kill: ${committedAtKill.join(',')}`);
    assert.equal(await count('SELECT COUNT(*) n FROM tingest_ledger'), total);
    assert.deepEqual(
      readdirSync(dir).filter((n) => !n.startsWith('.')),
      [],
      'no _BADXML / _FAILED left',
    );
    assert.equal(await count('SELECT COUNT(*) n FROM tagente'), AGENTS);
    assert.equal(await count('SELECT COUNT(*) n FROM tagente_modulo'), AGENTS * 4);
    assert.equal(await count('SELECT COUNT(*) n FROM tagente_estado'), AGENTS * 4);
    // Every value changes or is async: exactly one row per module per packet, never two.
    const datos = 'SELECT COUNT(*) n FROM tagente_datos';
    assert.equal(await count(datos), total * 3);
    assert.equal(
      await count('SELECT COUNT(DISTINCT id_agente_modulo, utimestamp) n FROM tagente_datos'),
      total * 3,
    );
    assert.equal(await count('SELECT COUNT(*) n FROM tagente_datos_string'), total);
    assert.equal(
      await count(
        'SELECT COUNT(DISTINCT id_agente_modulo, utimestamp) n FROM tagente_datos_string',
      ),
      total,
    );
    // proc alternates 1,0,1,…: the first datum is silent, every later one is a transition.
    const events = (type: string) =>
      count(`SELECT COUNT(*) n FROM tevento WHERE event_type LIKE '${type}'`);
    assert.equal(await events('new_agent'), AGENTS);
    assert.equal(await events('going_%'), AGENTS * (ROUNDS - 1));
    // Order survived the restarts: every agent's status row holds its last packet.
    assert.equal(
      await count(
        `SELECT COUNT(*) n FROM tagente_estado e JOIN tagente_modulo m USING (id_agente_modulo)
        WHERE m.nombre = 'cnt' AND e.datos = '${String(ROUNDS)}.00000'`,
      ),
      AGENTS,
    );
  },
);
