import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { waitFor } from './child.js';
import { X, dropFile, mod, packet, startHarness, type Harness } from './harness.js';

// Spec §9, cases 54–68 (timestamps and ordering) and the ledger, from spool files to rows.

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

const claimDir = () => join(h.dir, '.processing', 'pandora01');

test('54: use_xml_timestamp 0 takes the file mtime and ignores the tz offset', async () => {
  await h.reset({ use_xml_timestamp: '0' });
  dropFile(h.dir, 'host1.1.data', X('10:00:00', '5', { attrs: "timezone_offset='3'" }), 1709294400);
  await h.ds.drain();
  const [a] = await h.rows('SELECT ultimo_contacto_remoto FROM tagente');
  assert.equal(a?.['ultimo_contacto_remoto'], '2024-03-01 12:00:00');
  const [d] = await h.rows('SELECT utimestamp FROM tagente_datos');
  assert.equal(Number(d?.['utimestamp']), 1709294400);
});

test('57: timezone_offset is applied once', async () => {
  await h.reset();
  await h.feed(X('10:00:00', '5', { attrs: "timezone_offset='2'" }));
  const [a] = await h.rows('SELECT ultimo_contacto_remoto, timezone_offset FROM tagente');
  assert.deepEqual({ ...a }, { ultimo_contacto_remoto: '2024-03-01 12:00:00', timezone_offset: 2 });
  const [d] = await h.rows('SELECT utimestamp FROM tagente_datos');
  assert.equal(Number(d?.['utimestamp']), 1709287200 + 7200);
});

test('58: datalist items are separate data; async keeps all, sync compacts', async () => {
  const list = (type: string) =>
    packet(
      '10:00:00',
      `<module><name>log</name><type>${type}</type><datalist>
        <data><value><![CDATA[a]]></value><timestamp>2024/03/01 09:58:10</timestamp></data>
        <data><value><![CDATA[a]]></value><timestamp>2024/03/01 09:59:00</timestamp></data>
        <data><value><![CDATA[b]]></value><timestamp>2024/03/01 09:59:40</timestamp></data>
      </datalist></module>`,
    );
  await h.reset();
  await h.feed(list('async_string'));
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos_string'), 3);
  const [s] = await h.rows('SELECT datos, timestamp FROM tagente_estado');
  assert.deepEqual({ ...s }, { datos: 'b', timestamp: '2024-03-01 09:59:40' });
  await h.reset();
  await h.feed(list('generic_data_string'));
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos_string'), 2);
});

test('59: out-of-order data is stored but does not move the status row back', async () => {
  await h.reset();
  await h.feed(X('10:00:00', '5'), X('10:05:00', '5'), X('10:10:00', '5'), X('09:55:00', '7'));
  const [s] = await h.rows('SELECT datos FROM tagente_estado');
  assert.equal(s?.['datos'], '5.00000');
  assert.equal(
    await h.count('SELECT COUNT(*) n FROM tagente_datos WHERE utimestamp = ?', [1709286900]),
    1,
  );
});

test('62: files of one agent are processed strictly in order, one at a time', async () => {
  await h.reset({ dataserver_batch_files: '8' });
  for (let i = 1; i <= 20; i++) {
    const t = `10:${String(i).padStart(2, '0')}:00`;
    dropFile(h.dir, `host1.${1000 + i}.data`, X(t, String(i)), 1709280000 + i);
  }
  await h.ds.drain();
  const [s] = await h.rows('SELECT datos FROM tagente_estado');
  assert.equal(s?.['datos'], '20.00000');
  const rows = await h.rows('SELECT datos FROM tagente_datos ORDER BY utimestamp');
  assert.deepEqual(
    rows.map((r) => Number(r['datos'])),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
  // Out-of-order processing would have left last_try behind the newest stored row.
  const [e] = await h.rows('SELECT last_try FROM tagente_estado');
  assert.equal(e?.['last_try'], '2024-03-01 10:20:00');
});

test('63: LIFO processes the newest first; the stale one is stored only', async () => {
  await h.reset({ dataserver_lifo: '1' });
  // Both present before a scan: stop, drop, start.
  await h.ds.close();
  dropFile(h.dir, 'host1.1.data', X('10:00:00', '5'), 1709287200);
  dropFile(h.dir, 'host1.2.data', X('10:05:00', '6'), 1709287500);
  await h.restart({ dataserver_lifo: '1' });
  await h.ds.drain();
  const [s] = await h.rows('SELECT datos FROM tagente_estado');
  assert.equal(s?.['datos'], '6.00000');
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos'), 2);
});

test('66: a backlog of one agent raises one system event', async () => {
  await h.reset({ too_many_xml: '10' });
  await h.ds.close();
  for (let i = 1; i <= 12; i++)
    dropFile(
      h.dir,
      `host1.${2000 + i}.data`,
      X(`10:${String(i).padStart(2, '0')}:00`, '5'),
      1709280000 + i,
    );
  await h.restart({ too_many_xml: '10' });
  await h.ds.drain();
  const ev = await h.rows("SELECT criticity, evento FROM tevento WHERE event_type = 'system'");
  assert.equal(ev.length, 1);
  assert.equal(ev[0]?.['criticity'], 3);
  assert.match(
    String(ev[0]['evento']),
    /^More&#x20;than&#x20;10&#x20;XML&#x20;files&#x20;queued&#x20;for&#x20;agent&#x20;host1$/,
  );
});

test('67: two file keys for one agent never create two agents or two modules', async () => {
  await h.reset();
  await h.ds.close();
  dropFile(h.dir, 'host1_1.data', X('10:00:00', '5'), 1709287200);
  dropFile(h.dir, '815ad1c058df1b7ba9c0998e2aa8a7b4.2.data', X('10:05:00', '6'), 1709287200);
  await h.restart();
  await h.ds.drain();
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente'), 1);
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_modulo'), 1);
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos'), 2);
});

test('68: a file left claimed by a crashed run is processed at the next start', async () => {
  await h.reset();
  await h.ds.close();
  dropFile(claimDir(), 'host1.77.data', X('10:00:00', '5'));
  await h.restart();
  await h.ds.drain();
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos'), 1);
  assert.deepEqual(readdirSync(claimDir()), []);
});

test('ledger: a file committed but not deleted (crash) is removed at restart, not applied twice', async () => {
  await h.reset();
  const content = X('10:00:00', '5', { module: '<type>async_data</type>' }).replace(
    '<type>generic_data</type>',
    '',
  );
  const [name] = await h.feed(content);
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos'), 1);
  await h.ds.close();
  // Put the same bytes back where a crash between COMMIT and unlink would have left them.
  dropFile(claimDir(), name ?? 'x', content);
  await h.restart();
  await h.ds.drain();
  assert.equal(
    await h.count('SELECT COUNT(*) n FROM tagente_datos'),
    1,
    'async data would store twice',
  );
  assert.ok(!existsSync(join(claimDir(), name ?? 'x')));
  assert.equal(await h.count('SELECT COUNT(*) n FROM tingest_ledger'), 1);
});

test('the same packet delivered twice under its name (resend) is applied once', async () => {
  await h.reset();
  const content = packet('10:00:00', mod('q', 'async_data', '5'));
  const [name = ''] = await h.feed(content);
  // The agent's buffer resends the file it thought lost: same name, same bytes.
  dropFile(h.dir, name, content);
  await h.ds.drain();
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos'), 1);
  assert.equal(await h.count('SELECT COUNT(*) n FROM tingest_ledger'), 1);
});

test('identical bytes under two names (no timestamp attribute, same values) are two packets', async () => {
  await h.reset();
  const content = packet('10:00:00', mod('q', 'async_data', '5')).replace(/ timestamp='[^']*'/, '');
  assert.ok(!content.includes('timestamp='));
  await h.feed(content, content);
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos'), 2);
});

test('ledger: a bad file whose event was committed before a crash gets no second event', async () => {
  await h.reset();
  const bad = X('10:00:00', '5').replace('</agent_data>', '');
  const [name = ''] = await h.feed(bad);
  assert.equal(await h.count('SELECT COUNT(*) n FROM tevento'), 1);
  await h.ds.close();
  dropFile(claimDir(), name, bad);
  await h.restart();
  await h.ds.drain();
  assert.equal(await h.count('SELECT COUNT(*) n FROM tevento'), 1);
  assert.ok(existsSync(join(h.dir, `${name}_BADXML`)));
  assert.deepEqual(readdirSync(claimDir()), []);
});

test('ledger: records older than ledger_retention are pruned, recent ones kept', async () => {
  await h.reset();
  await h.rows(
    `INSERT INTO tingest_ledger (file_sha256, file_name, server_name, id_agente, utimestamp)
     VALUES (UNHEX(SHA2('old', 256)), 'old.1.data', 'pandora01', 0, UNIX_TIMESTAMP() - 7200),
            (UNHEX(SHA2('new', 256)), 'new.1.data', 'pandora01', 0, UNIX_TIMESTAMP())`,
  );
  await h.restart({ ledger_retention: '3600' });
  await waitFor(
    async () =>
      (await h.count("SELECT COUNT(*) n FROM tingest_ledger WHERE file_name = 'old.1.data'")) === 0,
    20_000,
    'the old record pruned',
  );
  assert.equal(await h.count('SELECT COUNT(*) n FROM tingest_ledger'), 1);
});

test('xml_parser fast-xml-parser ingests the same rows as the builtin tree builder', async () => {
  const rowsWith = async (xmlParser: string): Promise<unknown[]> => {
    await h.reset({ xml_parser: xmlParser });
    assert.equal(h.config.parse.xmlParser, xmlParser);
    await h.feed(
      packet(
        '10:00:00',
        mod('cpu', 'generic_data', '5') + mod('s', 'generic_data_string', 'a&amp;b'),
      ),
      packet('10:05:00', mod('cpu', 'generic_data', '7') + mod('s', 'generic_data_string', 'é')),
    );
    return h.rows(
      `SELECT m.nombre, e.datos, e.estado,
         (SELECT COUNT(*) FROM tagente_datos d WHERE d.id_agente_modulo = m.id_agente_modulo) AS h,
         (SELECT GROUP_CONCAT(datos ORDER BY utimestamp) FROM tagente_datos_string s
           WHERE s.id_agente_modulo = m.id_agente_modulo) AS hs
       FROM tagente_modulo m JOIN tagente_estado e USING (id_agente_modulo) ORDER BY m.nombre`,
    );
  };
  const builtin = await rowsWith('builtin');
  const library = await rowsWith('fast-xml-parser');
  assert.equal(builtin.length, 2);
  assert.deepEqual(library, builtin);
  await h.reset();
});
