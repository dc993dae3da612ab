// The parse worker contract: a real worker thread and the inline variant give the same answers.
import './logic-tz.js';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { parseFileInline, spawnParseWorker } from '../../src/dataserver/parse-worker.js';
import type { ParseRequest, ParseResponse } from '../../src/dataserver/types.js';
import { DEFAULT_PARSE_OPTIONS } from '../../src/dataserver/xml/index.js';
import { tempDir } from '../helpers/tmp.js';

const MTIME = 1709294400; // 2024-03-01 12:00:00 UTC

describe('parse worker', () => {
  const dir = tempDir('ti-parse-');
  const good = join(dir.path, 'host1.1.data');
  const noTimestamp = join(dir.path, 'host2.1.data');
  const bad = join(dir.path, 'bad.1.data');
  const big = join(dir.path, 'big.1.data');
  const nameless = join(dir.path, 'nameless.1.data');
  let worker: Worker;

  before(() => {
    writeFileSync(
      good,
      "<?xml version='1.0' encoding='ISO-8859-1'?><agent_data agent_name='h\xe9' timestamp='2024/03/01 10:00:00'><module><name>cpu</name><data>5</data></module></agent_data>",
      'latin1',
    );
    writeFileSync(noTimestamp, "<agent_data agent_name='host2'/>");
    utimesSync(noTimestamp, MTIME, MTIME);
    writeFileSync(bad, "<agent_data agent_name='x'><module>");
    writeFileSync(big, `<agent_data agent_name='x'>${' '.repeat(5000)}</agent_data>`);
    writeFileSync(nameless, '<agent_data/>');
    worker = spawnParseWorker();
  });

  after(async () => {
    await worker.terminate();
    dir.cleanup();
  });

  const requests = (): ParseRequest[] => [
    { id: 1, path: good, options: DEFAULT_PARSE_OPTIONS },
    { id: 2, path: noTimestamp, options: DEFAULT_PARSE_OPTIONS },
    { id: 3, path: bad, options: DEFAULT_PARSE_OPTIONS },
    { id: 4, path: big, options: { ...DEFAULT_PARSE_OPTIONS, maxXmlSize: 1000 } },
    { id: 5, path: join(dir.path, 'vanished.1.data'), options: DEFAULT_PARSE_OPTIONS },
    { id: 6, path: nameless, options: DEFAULT_PARSE_OPTIONS },
  ];

  function check(responses: ParseResponse[]): void {
    const byId = new Map(responses.map((r) => [r.id, r]));
    const r1 = byId.get(1);
    assert.ok(r1 && 'packet' in r1);
    assert.equal(r1.packet.agentNameEncoded, 'h&eacute;');
    assert.equal(r1.packet.modules[0]?.data[0]?.value, '5');
    const r2 = byId.get(2);
    assert.ok(r2 && 'packet' in r2);
    assert.deepEqual(r2.packet.time, {
      epoch: MTIME,
      text: '2024-03-01 12:00:00',
      source: 'mtime',
    });
    const errors = [3, 4, 5, 6].map((id) => {
      const r = byId.get(id);
      assert.ok(r && 'error' in r, `request ${String(id)}`);
      return [r.error.code, r.error.disposition];
    });
    assert.deepEqual(errors, [
      ['ERR_XML_TRUNCATED', 'badxml'],
      ['ERR_XML_TOO_LARGE', 'badxml'],
      ['ENOENT', 'io'],
      ['ERR_XML_NO_AGENT_NAME', 'drop'],
    ]);
  }

  it('inline', async () => {
    check(await Promise.all(requests().map((r) => parseFileInline(r))));
  });

  it('in a worker thread, several requests in flight', async () => {
    const responses: ParseResponse[] = [];
    const all = requests();
    const done = new Promise<void>((resolve) => {
      worker.on('message', (m: ParseResponse) => {
        responses.push(m);
        if (responses.length === all.length) resolve();
      });
    });
    for (const r of all) worker.postMessage(r);
    await done;
    check(responses);
  });

  it('a malformed request gets an error reply, and the worker keeps serving', async () => {
    const reply = once(worker, 'message');
    worker.postMessage({ id: 77, nonsense: true });
    const [m] = (await reply) as [ParseResponse];
    assert.equal(m.id, 77);
    assert.ok('error' in m);
    const next = once(worker, 'message');
    worker.postMessage({ id: 78, path: good, options: DEFAULT_PARSE_OPTIONS });
    const [ok] = (await next) as [ParseResponse];
    assert.ok('packet' in ok);
  });
});
