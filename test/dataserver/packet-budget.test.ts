/**
 * Issue 12, the gap left by the start-up heap check: it covers one packet at the limits, but up
 * to dataserver_batch_files × 4 packets can be in flight on the main thread. Several packets near
 * max_xml_size arriving together must wait for the byte budget rather than exhaust the heap.
 * The real `serve` on its production heap flags gets them over one Tentacle session. With the
 * gate it takes about 30 s here; without it (budget unbounded) the same run did not finish in
 * 300 s, the heap at its limit.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { LEDGER_TABLE } from '../../src/db/index.js';
import { DEFAULT_MAX_XML_SIZE_BYTES } from '../../src/dataserver/xml/index.js';
import { connect } from '../../src/tentacle/index.js';
import { productionServe, waitFor } from './child.js';

const AGENTS = 5;
const MODULES = 1000;
const VALUES_PER_MODULE = 7;

/**
 * About 14 MB of XML: 1,000 string modules with a datalist of 7 values of 2 KB each. A
 * character beyond Latin-1 makes every value a two-byte string in the heap.
 */
function nearLimitXml(agent: string): Buffer {
  const value = '€' + 'v'.repeat(1990);
  const parts = [
    `<?xml version='1.0' encoding='UTF-8'?>\n<agent_data agent_name='${agent}' interval='300' timestamp='2024/03/01 10:00:00'>\n`,
  ];
  for (let m = 0; m < MODULES; m++) {
    parts.push(`<module><name>s${String(m)}</name><type>generic_data_string</type><datalist>`);
    for (let v = 0; v < VALUES_PER_MODULE; v++)
      parts.push(
        `<data><value>${String(v)}${value}</value><timestamp>2024/03/01 09:5${String(v)}:00</timestamp></data>`,
      );
    parts.push('</datalist></module>\n');
  }
  parts.push('</agent_data>\n');
  return Buffer.from(parts.join(''));
}

test(
  'several near-limit packets arriving together are all ingested by serve on the production heap',
  { timeout: 280_000 },
  async (t) => {
    const { db, incoming, port, serve } = await productionServe(t, 'budget');
    const session = await connect({ host: '127.0.0.1', port, timeoutMs: 60_000 });
    for (let i = 1; i <= AGENTS; i++) {
      const xml = nearLimitXml(`big${String(i)}`);
      assert.ok(
        xml.length > 0.8 * DEFAULT_MAX_XML_SIZE_BYTES && xml.length < DEFAULT_MAX_XML_SIZE_BYTES,
        String(xml.length),
      );
      await session.zsend(`big${String(i)}.1709287200.data`, xml);
    }
    await session.quit();

    const count = async (sql: string) => {
      const [rows] = await db.pool.query<RowDataPacket[]>(sql);
      return Number(rows[0]?.['n']);
    };
    await waitFor(
      async () =>
        (await count(`SELECT COUNT(*) n FROM ${LEDGER_TABLE}`)) === AGENTS ||
        serve.exitCode !== null,
      240_000,
      'every packet in the ledger',
    );
    assert.equal(serve.exitCode, null, `serve died: ${serve.stderrText()}`);
    // Nothing lost: every packet's modules and values are rows, no file is left or refused.
    assert.equal(await count('SELECT COUNT(*) n FROM tagente'), AGENTS);
    assert.equal(await count('SELECT COUNT(*) n FROM tagente_modulo'), AGENTS * MODULES);
    assert.equal(
      await count('SELECT COUNT(*) n FROM tagente_datos_string'),
      AGENTS * MODULES * VALUES_PER_MODULE,
    );
    assert.deepEqual(
      readdirSync(incoming).filter((n) => n.includes('.data')),
      [],
    );
    assert.equal(await count("SELECT COUNT(*) n FROM tevento WHERE event_type = 'error'"), 0);
  },
);
