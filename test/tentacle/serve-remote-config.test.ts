import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  compileFilters,
  ensureFilterFolders,
  listenerFilters,
  PANDORA_FILTERS,
} from '../../src/tentacle/index.js';
import { createTestDatabase } from '../helpers/db.js';
import { freePort } from '../helpers/net.js';
import { RawTentacle, startServeChild } from '../helpers/serve-child.js';
import { teardown } from '../helpers/teardown.js';
import { tempDir } from '../helpers/tmp.js';

// Remote agent configuration as in Pandora (issue 14): serve's built-in listener routes an
// agent's .conf/.md5 (and collections, commands) to the folders Pandora's console uses, and the
// agent fetches them back with RECV. The session below is the Perl client's bytes (tentacle.md
// §3.1, §3.3; case 55 of §14).

const md5hex = (text: string): string => createHash('md5').update(text).digest('hex');

test('the default filters are the shipped tentacle_server.conf ones', () => {
  assert.deepEqual(
    compileFilters(PANDORA_FILTERS).map((f) => [f.source, f.dir]),
    [
      ['.*\\.conf', 'conf'],
      ['.*\\.md5', 'md5'],
      ['.*\\.zip', 'collections'],
      ['.*\\.lock', 'trans'],
      ['.*\\.rcmd', 'commands'],
    ],
  );
  // tentacle_filters wins, then tentacle_config's filters, then Pandora's; none = no routing.
  assert.deepEqual(listenerFilters(undefined, undefined), {
    spec: PANDORA_FILTERS,
    pandoraDefault: true,
  });
  assert.equal(listenerFilters(undefined, '.*\\.conf:c').spec, '.*\\.conf:c');
  assert.equal(listenerFilters('.*\\.x:x', '.*\\.conf:c').spec, '.*\\.x:x');
  assert.equal(listenerFilters('none', '.*\\.conf:c').spec, '');
});

test('ensureFilterFolders creates the folders once, and nothing for no filters', () => {
  const tmp = tempDir('ti-filter-folders-');
  try {
    assert.deepEqual(ensureFilterFolders(tmp.path, PANDORA_FILTERS), [
      'conf',
      'md5',
      'collections',
      'trans',
      'commands',
    ]);
    assert.deepEqual(ensureFilterFolders(tmp.path, PANDORA_FILTERS), []);
    assert.deepEqual(ensureFilterFolders(tmp.path, ''), []);
  } finally {
    tmp.cleanup();
  }
});

test(
  'serve: an agent SENDs its .conf and .md5, they land in conf/ and md5/, and RECV gives them back',
  { timeout: 180_000 },
  async (t) => {
    const cleanup = teardown(t);
    const db = await createTestDatabase('ti_rc');
    cleanup(() => db.drop());
    const tmp = tempDir('ti-remote-config-');
    cleanup(() => {
      tmp.cleanup();
    });
    const incoming = join(tmp.path, 'data_in');
    mkdirSync(incoming);
    const port = await freePort();
    const serve = await startServeChild({
      args: [
        '--dbname',
        db.name,
        '--incomingdir',
        incoming,
        '--tentacle-port',
        String(port),
        '--servername',
        'rc01',
      ],
    });
    cleanup(async () => {
      assert.equal(await serve.stop(), 0, serve.stderr());
    });
    for (const folder of ['conf', 'md5', 'collections', 'trans', 'commands']) {
      assert.ok(existsSync(join(incoming, folder)), `${folder}/ created at start`);
    }
    assert.match(serve.logs(), /remote configuration folders created/);

    // What the console writes for an agent and the collection it deploys.
    writeFileSync(join(incoming, 'collections', 'fc_1.zip'), 'PK-collection');
    writeFileSync(join(incoming, 'commands', 'c0ffee.rcmd'), 'command: uptime\n');
    writeFileSync(join(incoming, 'queued.1709287200.data'), '<agent_data/>');

    const agent = md5hex('adama');
    const conf = 'server_ip 127.0.0.1\nagent_name adama\ninterval 300\n';
    const confMd5 = md5hex(conf);
    const c = await RawTentacle.connect(port);
    const expect: string[] = [];
    const step = async (bytes: string, reply: string): Promise<void> => {
      expect.push(reply);
      await c.step(bytes, Buffer.byteLength(expect.join('')));
    };
    await step(`SEND <${agent}.conf> SIZE ${String(conf.length)}\n`, 'SEND OK\n');
    await step(conf, 'SEND OK\n');
    await step(`SEND <${agent}.md5> SIZE ${String(confMd5.length)}\n`, 'SEND OK\n');
    await step(confMd5, 'SEND OK\n');
    // The agent compares the server's md5 with its own, then fetches the configuration.
    await step(`RECV <${agent}.md5>\n`, 'RECV SIZE 32\n');
    await step('RECV OK\n', confMd5);
    await step(`RECV <${agent}.conf>\n`, `RECV SIZE ${String(conf.length)}\n`);
    await step('RECV OK\n', conf);
    await step('RECV <fc_1.zip>\n', 'RECV SIZE 13\n');
    await step('RECV OK\n', 'PK-collection');
    await step('RECV <c0ffee.rcmd>\n', 'RECV SIZE 16\n');
    await step('RECV OK\n', 'command: uptime\n');
    // The data folder itself is not served (recv_any_file 0).
    await step('RECV <queued.1709287200.data>\n', 'RECV ERR (file does not exist)\n');
    await c.quit();
    assert.equal(c.received.toString('latin1'), expect.join(''));

    assert.equal(readFileSync(join(incoming, 'conf', `${agent}.conf`), 'utf8'), conf);
    assert.equal(readFileSync(join(incoming, 'md5', `${agent}.md5`), 'utf8'), confMd5);
    const root = readdirSync(incoming);
    assert.ok(!root.includes(`${agent}.conf`) && !root.includes(`${agent}.md5`), root.join(' '));
  },
);
