// The parse worker contract: a real worker thread and the inline variant give the same answers.
import './logic-tz.js';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Worker } from 'node:worker_threads';
import {
  decodeParseReply,
  encodeParseReply,
  parseRequest,
  spawnParseWorker,
} from '../../src/dataserver/parse-worker.js';
import { createSpoolDir } from '../../src/dataserver/spool/spool-dir.js';
import type { ParseReply, ParseRequest, ParseResponse } from '../../src/dataserver/types.js';
import { DEFAULT_PARSE_OPTIONS } from '../../src/dataserver/xml/index.js';
import { tempDir } from '../helpers/tmp.js';

const MTIME = 1709294400; // 2024-03-01 12:00:00 UTC
const INFO = { mtimeSec: MTIME, nowSec: MTIME + 60 };
/** Bytes with an ArrayBuffer of their own, as the pipeline reads them (pooled ones are copied). */
const owned = (text: string, encoding: BufferEncoding = 'utf8') =>
  new Uint8Array(Buffer.from(text, encoding));

describe('parse worker', () => {
  let worker: Worker;
  before(() => {
    worker = spawnParseWorker();
  });
  after(async () => {
    await worker.terminate();
  });

  const requests = (): ParseRequest[] => [
    {
      id: 1,
      bytes: owned(
        "<?xml version='1.0' encoding='ISO-8859-1'?><agent_data agent_name='h\xe9' timestamp='2024/03/01 10:00:00'><module><name>cpu</name><data>5</data></module></agent_data>",
        'latin1',
      ),
      info: INFO,
      options: DEFAULT_PARSE_OPTIONS,
    },
    {
      id: 2,
      bytes: owned("<agent_data agent_name='host2'/>"),
      info: INFO,
      options: DEFAULT_PARSE_OPTIONS,
    },
    {
      id: 3,
      bytes: owned("<agent_data agent_name='x'><module>"),
      info: INFO,
      options: DEFAULT_PARSE_OPTIONS,
    },
    {
      id: 4,
      bytes: owned(`<agent_data agent_name='x'>${' '.repeat(5000)}</agent_data>`),
      info: INFO,
      options: { ...DEFAULT_PARSE_OPTIONS, maxXmlSize: 1000 },
    },
    { id: 6, bytes: owned('<agent_data/>'), info: INFO, options: DEFAULT_PARSE_OPTIONS },
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
    const errors = [3, 4, 6].map((id) => {
      const r = byId.get(id);
      assert.ok(r && 'error' in r, `request ${String(id)}`);
      return [r.error.code, r.error.disposition];
    });
    assert.deepEqual(errors, [
      ['ERR_XML_TRUNCATED', 'badxml'],
      ['ERR_XML_TOO_LARGE', 'badxml'],
      ['ERR_XML_NO_AGENT_NAME', 'drop'],
    ]);
  }

  it('inline', () => {
    check(requests().map((r) => parseRequest(r)));
  });

  it('in a worker thread, several requests in flight, bytes transferred', async () => {
    const responses: ParseResponse[] = [];
    const all = requests();
    const done = new Promise<void>((resolve) => {
      worker.on('message', (m: ParseReply) => {
        responses.push(decodeParseReply(m));
        if (responses.length === all.length) resolve();
      });
    });
    for (const r of all) worker.postMessage(r, [r.bytes.buffer as ArrayBuffer]);
    await done;
    worker.removeAllListeners('message');
    check(responses);
    assert.equal(all[0]?.bytes.byteLength, 0, 'moved to the worker, not copied');
  });

  it('several requests in one message get their replies in one message, in order', async () => {
    const reply = once(worker, 'message');
    const batch = [...requests(), { id: 99, nonsense: true }];
    worker.postMessage(batch);
    const [replies] = (await reply) as [ParseReply[]];
    assert.ok(Array.isArray(replies));
    assert.ok('packetJson' in (replies[0] ?? {}), 'a packet travels as JSON text');
    const answers = replies.map(decodeParseReply);
    assert.deepEqual(
      answers.map((a) => a.id),
      [1, 2, 3, 4, 6, 99],
    );
    check(answers.slice(0, 5));
    assert.ok('error' in (answers[5] ?? {}));
  });

  it('a malformed request gets an error reply, and the worker keeps serving', async () => {
    const reply = once(worker, 'message');
    worker.postMessage({ id: 77, nonsense: true });
    const [m] = (await reply) as [ParseResponse];
    assert.equal(m.id, 77);
    assert.ok('error' in m);
    const next = once(worker, 'message');
    worker.postMessage(requests()[1]);
    const [ok] = (await next) as [ParseReply];
    assert.ok('packet' in decodeParseReply(ok));
  });
});

/** Every property of `a` and `b` reads the same (an absent property reads as undefined). */
function readsTheSame(a: unknown, b: unknown, path = 'packet'): void {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) {
    assert.equal(b, a, path);
    return;
  }
  assert.equal(Array.isArray(b), Array.isArray(a), path);
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  for (const key of new Set([...Object.keys(ra), ...Object.keys(rb)]))
    readsTheSame(ra[key], rb[key], `${path}.${key}`);
}

describe('parse worker replies', () => {
  const parse = (xml: string): ParseResponse =>
    parseRequest({ id: 5, bytes: owned(xml), info: INFO, options: DEFAULT_PARSE_OPTIONS });

  it('a packet sent as JSON text reads back the same, undefined fields included', () => {
    const response = parse(
      "<agent_data agent_name='a' interval='60' os_name='Linux'><module><name>m</name>" +
        '<type>generic_data</type><data>7</data><min_warning>5</min_warning></module>' +
        '<module><name>l</name><datalist><data><value>1</value><timestamp>bad</timestamp></data></datalist></module></agent_data>',
    );
    const reply = encodeParseReply(response);
    assert.ok('packetJson' in reply);
    const decoded = decodeParseReply(structuredClone(reply));
    assert.ok('packet' in response && 'packet' in decoded);
    readsTheSame(response.packet, decoded.packet);
  });

  it('a packet whose JSON would hold null goes by structured clone', () => {
    const response = parse("<agent_data agent_name='null'/>");
    const reply = encodeParseReply(response);
    assert.ok('packet' in reply);
    assert.equal(reply.packet.agentName, 'null');
    assert.equal(decodeParseReply(reply), reply);
  });

  it('errors go as they are', () => {
    const response = parse("<agent_data agent_name='x'><module>");
    assert.equal(encodeParseReply(response), response);
  });
});

describe('reading a claimed file', () => {
  const dir = tempDir('ti-claimed-');
  after(() => {
    dir.cleanup();
  });

  it('reads it whole within the limit, and only its size beyond it', async () => {
    const spool = createSpoolDir(dir.path, 'test01');
    writeFileSync(join(dir.path, 'small.1.data'), 'x'.repeat(1000));
    writeFileSync(join(dir.path, 'big.1.data'), 'y'.repeat(5000));
    for (const name of ['small.1.data', 'big.1.data']) assert.equal(await spool.claim(name), true);
    const small = await spool.readClaimed('small.1.data', 1000);
    assert.ok(Buffer.isBuffer(small));
    assert.equal(small.toString(), 'x'.repeat(1000));
    assert.deepEqual(await spool.readClaimed('big.1.data', 1000), { tooLarge: 5000 });
    await assert.rejects(spool.readClaimed('vanished.1.data', 1000), { code: 'ENOENT' });
  });
});
