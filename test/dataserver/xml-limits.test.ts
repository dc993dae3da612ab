/**
 * The structural limits of an agent packet (issue 12): modules per packet, datalist values per
 * module, elements (and attributes) per document, each at exactly the limit and one past it,
 * plus the bombs they exist for, a parse worker dying on a file, and the heap-fit estimate.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCode } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import { createWorkerParser } from '../../src/dataserver/parse-pool.js';
import { spawnParseWorker } from '../../src/dataserver/parse-worker.js';
import { estimatePacketHeap, packetHeapProblem } from '../../src/dataserver/packet-heap.js';
import type { ParseOptions, XmlLimits } from '../../src/dataserver/types.js';
import {
  DEFAULT_PARSE_OPTIONS,
  DEFAULT_XML_LIMITS,
  tryParseAgentXml,
} from '../../src/dataserver/xml/index.js';

const FILE = { mtimeSec: 1709287200, nowSec: 1709287200 };

function options(limits: Partial<XmlLimits>, rest: Partial<ParseOptions> = {}): ParseOptions {
  return {
    ...DEFAULT_PARSE_OPTIONS,
    ...rest,
    limits: { ...DEFAULT_XML_LIMITS, ...limits },
  };
}

function agent(body: string, attrs = ''): Buffer {
  return Buffer.from(
    `<?xml version="1.0"?>\n<agent_data agent_name="a1" timestamp="2024/03/01 10:00:00"${attrs}>\n${body}</agent_data>\n`,
  );
}

function modules(n: number): string {
  let out = '';
  for (let i = 0; i < n; i++)
    out += `<module><name>m${String(i)}</name><data>${String(i)}</data></module>\n`;
  return out;
}

function datalist(values: number): string {
  let out = '';
  for (let i = 0; i < values; i++) out += `<data><value>${String(i)}</value></data>`;
  return `<datalist>${out}</datalist>`;
}

function refusal(bytes: Buffer, opts: ParseOptions): { code: string; message: string } {
  const r = tryParseAgentXml(bytes, FILE, opts);
  assert.ok(r.error, 'refused');
  assert.equal(r.error.disposition, 'badxml');
  return r.error;
}

describe('max_modules_per_packet', () => {
  test('exactly the limit is read in full; one more is refused naming the key', () => {
    const opts = options({ maxModules: 50 });
    const ok = tryParseAgentXml(agent(modules(50)), FILE, opts);
    assert.equal(ok.packet?.modules.length, 50);
    const err = refusal(agent(modules(51)), opts);
    assert.equal(err.code, ErrorCode.XmlLimit);
    assert.equal(err.message, 'more than 50 modules (max_modules_per_packet)');
  });

  test('only <module> directly under the root counts (module_parent, nested names do not)', () => {
    const opts = options({ maxModules: 2 });
    const body =
      '<module><name>a</name><module_parent>x</module_parent><data>1</data></module>' +
      '<module><name>b</name><data>2</data><extra><module>not one</module></extra></module>';
    assert.equal(tryParseAgentXml(agent(body), FILE, opts).packet?.modules.length, 2);
  });
});

describe('max_datalist_values', () => {
  test('exactly the limit in one module; one more is refused naming the key', () => {
    const opts = options({ maxDatalistValues: 40 });
    const ok = tryParseAgentXml(
      agent(`<module><name>d</name>${datalist(40)}</module>`),
      FILE,
      opts,
    );
    assert.equal(ok.packet?.modules[0]?.data.length, 40);
    const err = refusal(agent(`<module><name>d</name>${datalist(41)}</module>`), opts);
    assert.equal(err.code, ErrorCode.XmlLimit);
    assert.equal(err.message, 'more than 40 datalist values in one module (max_datalist_values)');
  });

  test('the values of all datalists of a module count together, and start over per module', () => {
    const opts = options({ maxDatalistValues: 40 });
    const twoModules =
      `<module><name>a</name>${datalist(40)}</module>` +
      `<module><name>b</name>${datalist(40)}</module>`;
    const ok = tryParseAgentXml(agent(twoModules), FILE, opts);
    assert.deepEqual(
      ok.packet?.modules.map((m) => m.data.length),
      [40, 40],
    );
    const split = `<module><name>a</name>${datalist(20)}${datalist(21)}</module>`;
    assert.equal(refusal(agent(split), opts).code, ErrorCode.XmlLimit);
  });

  test('a datalist bomb (one module, 200,000 values) is refused at the default limit', () => {
    const bomb = agent(`<module><name>d</name>${datalist(200_000)}</module>`);
    const err = refusal(bomb, DEFAULT_PARSE_OPTIONS);
    assert.match(err.message, /\(max_datalist_values\)$/);
  });
});

describe('max_xml_elements', () => {
  test('elements: exactly the limit is read; one more is refused naming the key', () => {
    // The root and its 2 attributes, 3 elements per module.
    const opts = options({ maxElements: 1 + 2 + 3 * 10 });
    assert.equal(tryParseAgentXml(agent(modules(10)), FILE, opts).packet?.modules.length, 10);
    const err = refusal(agent(modules(10) + '<x/>'), opts);
    assert.equal(err.code, ErrorCode.XmlLimit);
    assert.equal(err.message, 'more than 33 elements and attributes (max_xml_elements)');
  });

  test('attributes count with the elements', () => {
    // Root (2 attributes) + one module of 3 elements.
    const opts = options({ maxElements: 1 + 2 + 3 });
    assert.ok(tryParseAgentXml(agent(modules(1)), FILE, opts).packet);
    assert.equal(refusal(agent(modules(1), ' os_name="x"'), opts).code, ErrorCode.XmlLimit);
  });

  test('an element bomb of 2 million empty elements is refused at the default limit', () => {
    const err = refusal(agent('<x/>'.repeat(2_000_000)), DEFAULT_PARSE_OPTIONS);
    assert.match(err.message, /\(max_xml_elements\)$/);
  });

  test('an attribute bomb (one tag, 1 million attributes) is refused at the default limit', () => {
    const attrs = Array.from({ length: 1_000_000 }, (_, i) => ` a${String(i)}=""`).join('');
    const err = refusal(agent('', attrs), DEFAULT_PARSE_OPTIONS);
    assert.match(err.message, /\(max_xml_elements\)$/);
  });

  test('a deeply nested bomb is refused by max_xml_depth before any limit', () => {
    const depth = 100_000;
    const err = refusal(agent('<n>'.repeat(depth) + '</n>'.repeat(depth)), DEFAULT_PARSE_OPTIONS);
    assert.equal(err.code, ErrorCode.XmlTooDeep);
  });

  test('16 MB of small text elements without `&` is refused (the scan is linear, not quadratic)', () => {
    // Before the bounded `&` search every text node searched to the end of the document: this
    // file took 76 s. Under the test timeout it would now fail only by a regression.
    const line = '<module><name>m</name><data>1</data><unit>%</unit></module>\n';
    const body = line.repeat(Math.floor((15 * 1024 * 1024) / line.length));
    const err = refusal(agent(body), DEFAULT_PARSE_OPTIONS);
    assert.match(err.message, /\(max_modules_per_packet\)$/);
  });
});

describe('parse workers and the heap', () => {
  test('a worker that runs out of heap on a file: that file is bad XML, the files sent with it are parsed', async () => {
    // Limits far too high for this worker's 32 MB: the bomb exhausts it while building.
    const opts = options({ maxModules: 1e9, maxElements: 1e9 }, { maxXmlSize: 1e9 });
    const pool = createWorkerParser(
      {
        threads: 1,
        parse: opts,
        spawn: () => spawnParseWorker({ resourceLimits: { maxOldGenerationSizeMb: 32 } }),
      },
      { logger: silentLogger() },
    );
    try {
      const bomb = agent(modules(400_000));
      const small = (i: number) => agent(modules(1).replace('m0', `ok${String(i)}`));
      const [first, refused, last] = await Promise.all([
        pool.parse({ bytes: small(1), info: FILE }),
        pool.parse({ bytes: bomb, info: FILE }),
        pool.parse({ bytes: small(2), info: FILE }),
      ]);
      assert.equal(first.packet?.modules[0]?.name, 'ok1');
      assert.ok(refused.error);
      assert.equal(refused.error.code, ErrorCode.XmlLimit);
      assert.equal(refused.error.disposition, 'badxml');
      assert.match(refused.error.message, /parse worker died parsing this file/);
      assert.equal(last.packet?.modules[0]?.name, 'ok2');
      // The pool replaced the worker and goes on.
      const after = await pool.parse({ bytes: small(3), info: FILE });
      assert.equal(after.packet?.modules[0]?.name, 'ok3');
    } finally {
      await pool.close();
    }
  });

  test('the defaults fit the documented heap; limits that cannot fit are named', () => {
    const heap256 = 304 * 1024 * 1024; // heap_size_limit under --max-old-space-size=256
    assert.equal(packetHeapProblem(DEFAULT_PARSE_OPTIONS, 2, heap256), undefined);
    assert.equal(packetHeapProblem(DEFAULT_PARSE_OPTIONS, 0, heap256), undefined);
    const bigFiles = { ...DEFAULT_PARSE_OPTIONS, maxXmlSize: 128 * 1024 * 1024 };
    assert.match(
      packetHeapProblem(bigFiles, 2, heap256) ?? '',
      /max_xml_size 134217728.*needs about \d+ MB of heap beside the 96 MB reserve, more than the 304 MB heap limit/,
    );
    const manyElements = options({ maxElements: 500_000 });
    assert.match(
      packetHeapProblem(manyElements, 2, heap256) ?? '',
      /max_xml_elements 500000\).*in a parse worker, more than its 304 MB heap limit/,
    );
    // Each limit moves the estimate.
    const base = estimatePacketHeap(DEFAULT_PARSE_OPTIONS);
    for (const more of [
      options({ maxModules: 20_000 }),
      options({ maxElements: 200_000 }),
      { ...DEFAULT_PARSE_OPTIONS, maxXmlSize: 32 * 1024 * 1024 },
    ]) {
      const e = estimatePacketHeap(more);
      assert.ok(e.workerBytes > base.workerBytes || e.mainBytes > base.mainBytes);
    }
  });
});
