/**
 * Issue 12, defect 1, as the attacker sent it: one unauthenticated ZSEND of a few hundred KB
 * that unzips to a 16 MB agent XML of 158,000 tiny modules (under max_xml_size). It used to
 * exhaust the 256 MB heap of `serve` after ~47 s, and again at every restart. Here the real
 * `serve` runs on its production heap flags, with its parse workers and its Tentacle listener,
 * and gets the packet over a real socket between two ordinary ones.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { SERVE_NODE_FLAGS } from '../../src/core/heap.js';
import { LEDGER_TABLE } from '../../src/db/index.js';
import { DEFAULT_MAX_XML_SIZE_BYTES, DEFAULT_XML_LIMITS } from '../../src/dataserver/xml/index.js';
import { safeOutput } from '../../src/pandora/index.js';
import { connect, zipSingleFile } from '../../src/tentacle/index.js';
import { tempDir } from '../helpers/tmp.js';
import { killHard, productionServe, spawnServe, waitFor } from './child.js';

const ATTACK_MODULES = 158_000;

/** One agent, one module, one value: what a real agent sends. */
function ordinaryXml(agent: string, value: number): Buffer {
  return Buffer.from(`<?xml version='1.0' encoding='UTF-8'?>
<agent_data agent_name='${agent}' interval='300' timestamp='2024/03/01 10:00:00'>
<module><name>cpu</name><type>generic_data</type><data>${String(value)}</data></module>
</agent_data>`);
}

/** ~16 MB of agent XML: 158,000 modules of about 100 bytes each. */
function attackXml(): Buffer {
  const parts = [
    `<?xml version='1.0' encoding='UTF-8'?>\n<agent_data agent_name='bomb' interval='300' timestamp='2024/03/01 10:00:00'>\n`,
  ];
  for (let i = 0; i < ATTACK_MODULES; i++) {
    parts.push(
      `<module><name>m${String(i).padStart(6, '0')}</name><type>generic_data</type><data>${String(i % 97)}</data><unit>%</unit><min>0</min></module>\n`,
    );
  }
  parts.push('</agent_data>\n');
  return Buffer.from(parts.join(''));
}

test(
  'the 158,000-module ZSEND is refused as _BADXML naming the limit; serve stays up and ingests the next packet',
  { timeout: 240_000 },
  async (t) => {
    const { db, incoming, port, serve } = await productionServe(t, 'hostile');

    const xml = attackXml();
    const zip = zipSingleFile('bomb.1709287200.data', xml);
    assert.ok(xml.length > 15_000_000 && xml.length < DEFAULT_MAX_XML_SIZE_BYTES, `${xml.length}`);
    assert.ok(zip.length < 1_000_000, `archive of ${String(zip.length)} bytes`);
    assert.ok(ATTACK_MODULES > DEFAULT_XML_LIMITS.maxModules);

    // No password: anyone who reaches the port may upload, as in the report.
    const session = await connect({ host: '127.0.0.1', port, timeoutMs: 30_000 });
    await session.send('good1.1709287200.data', ordinaryXml('good1', 1));
    await session.zsend('bomb.1709287200.data', xml);
    await session.send('good2.1709287200.data', ordinaryXml('good2', 2));
    await session.quit();

    const badxml = join(incoming, 'bomb.1709287200.data_BADXML');
    await waitFor(() => Promise.resolve(existsSync(badxml)), 120_000, 'the bomb as _BADXML');

    await waitFor(
      async () => {
        const [rows] = await db.pool.query<RowDataPacket[]>(
          `SELECT COUNT(*) n FROM ${LEDGER_TABLE}`,
        );
        return Number(rows[0]?.['n']) === 3;
      },
      60_000,
      'three packets in the ledger',
    );
    assert.equal(serve.exitCode, null, `serve died: ${serve.stderrText()}`);

    // Every acknowledged packet accounted for: two ingested, the bomb refused with its event.
    const [data] = await db.pool.query<RowDataPacket[]>(
      `SELECT a.nombre agent, d.datos value FROM tagente_datos d
         JOIN tagente_modulo m ON m.id_agente_modulo = d.id_agente_modulo
         JOIN tagente a ON a.id_agente = m.id_agente ORDER BY a.nombre`,
    );
    assert.deepEqual(
      data.map((r) => [String(r['agent']), Number(r['value'])]),
      [
        ['good1', 1],
        ['good2', 2],
      ],
    );
    const [agents] = await db.pool.query<RowDataPacket[]>('SELECT nombre FROM tagente');
    assert.deepEqual(agents.map((r) => String(r['nombre'])).sort(), ['good1', 'good2']);
    // Event texts are stored safe_input-encoded, as the reference stores them.
    const [events] = await db.pool.query<RowDataPacket[]>(
      "SELECT evento, event_type FROM tevento WHERE event_type = 'error'",
    );
    assert.deepEqual(
      events.map((e) => safeOutput(String(e['evento']))),
      [
        "Unable to process XML data file 'bomb.1709287200.data': more than 10000 modules (max_modules_per_packet).",
      ],
    );
    // Nothing left claimed or waiting: a restart would not meet the bomb again.
    const claimDir = join(incoming, '.processing', 'hostile01');
    assert.deepEqual(existsSync(claimDir) ? readdirSync(claimDir) : [], []);
    assert.deepEqual(
      readdirSync(incoming).filter((n) => n.endsWith('.data')),
      [],
      'no data file left in the spool',
    );
    assert.equal(serve.exitCode, null, `serve died: ${serve.stderrText()}`);
    const exited = once(serve, 'exit');
    serve.kill('SIGTERM');
    assert.deepEqual(await exited, [0, null], serve.stderrText());
  },
);

/**
 * As heavy as the defaults allow: 10,000 string modules whose datalists fill the rest of the
 * element budget, with values long enough to bring the file near max_xml_size.
 */
function packetAtTheLimits(): { xml: Buffer; values: number } {
  const { maxModules, maxElements } = DEFAULT_XML_LIMITS;
  // Root and its 3 attributes; module, name, type and datalist per module; data and value per value.
  const perModule = Math.floor((maxElements - 4 - 4 * maxModules) / 2 / maxModules);
  const values = perModule * maxModules;
  // One character beyond Latin-1 makes every value a two-byte string: 2 bytes of heap a byte.
  const valueText = '€' + 'v'.repeat(Math.floor((DEFAULT_MAX_XML_SIZE_BYTES * 0.9) / values) - 40);
  const parts = [
    `<?xml version='1.0' encoding='UTF-8'?>\n<agent_data agent_name='heavy' interval='300' timestamp='2024/03/01 10:00:00'>\n`,
  ];
  for (let m = 0; m < maxModules; m++) {
    parts.push(`<module><name>s${String(m)}</name><type>generic_data_string</type><datalist>`);
    for (let v = 0; v < perModule; v++)
      parts.push(`<data><value>${String(v)}${valueText}</value></data>`);
    parts.push('</datalist></module>\n');
  }
  parts.push('</agent_data>\n');
  return { xml: Buffer.from(parts.join('')), values };
}

test(
  'a packet at the default limits is ingested by serve on the production heap',
  { timeout: 600_000 },
  async (t) => {
    const { db, incoming, port, serve } = await productionServe(t, 'heavy');
    const { xml, values } = packetAtTheLimits();
    assert.ok(
      xml.length > 14_000_000 && xml.length < DEFAULT_MAX_XML_SIZE_BYTES,
      String(xml.length),
    );
    const session = await connect({ host: '127.0.0.1', port, timeoutMs: 60_000 });
    await session.zsend('heavy.1709287200.data', xml);
    await session.send('good1.1709287200.data', ordinaryXml('good1', 1));
    await session.quit();
    await waitFor(
      async () => {
        const [rows] = await db.pool.query<RowDataPacket[]>(
          `SELECT COUNT(*) n FROM ${LEDGER_TABLE}`,
        );
        return Number(rows[0]?.['n']) === 2 || serve.exitCode !== null;
      },
      480_000,
      'both packets in the ledger',
    );
    assert.equal(serve.exitCode, null, `serve died: ${serve.stderrText()}`);
    const [modules] = await db.pool.query<RowDataPacket[]>(
      'SELECT COUNT(*) n FROM tagente_modulo m JOIN tagente a ON a.id_agente = m.id_agente WHERE a.nombre = ?',
      ['heavy'],
    );
    assert.equal(Number(modules[0]?.['n']), DEFAULT_XML_LIMITS.maxModules);
    const [strings] = await db.pool.query<RowDataPacket[]>(
      'SELECT COUNT(*) n FROM tagente_datos_string',
    );
    assert.equal(Number(strings[0]?.['n']), values);
    assert.deepEqual(
      readdirSync(incoming).filter((n) => n.includes('.data')),
      [],
    );
  },
);

test(
  'serve on the production heap refuses to start when max_xml_size and the limits cannot fit it',
  { timeout: 120_000 },
  async (t) => {
    const tmp = tempDir('ti-heapfit-');
    t.after(() => {
      tmp.cleanup();
    });
    const serve = spawnServe({
      incomingDir: join(tmp.path, 'data_in'),
      dbName: 'ti_never_created',
      serverName: 'heapfit01',
      nodeFlags: SERVE_NODE_FLAGS,
      parseThreads: 2,
      extra: ['--max_xml_size', String(128 * 1024 * 1024)],
    });
    t.after(() => killHard(serve));
    const [code] = (await once(serve, 'exit')) as [number | null];
    assert.equal(code, 1, serve.stderrText());
    assert.match(
      serve.stderrText(),
      /^tentacle-ingest: a packet at the limits \(max_xml_size 134217728, .*more than the \d+ MB heap limit: lower them or start node with a larger --max-old-space-size\n$/,
    );
  },
);
