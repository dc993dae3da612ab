/**
 * The PROXY protocol header parser (HAProxy proxy-protocol.txt v1 and v2), fed the exact bytes
 * HAProxy writes: whole, split at every point, byte by byte, and broken in every way the spec
 * rules out.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inet4, inet6, TLVS, v2 } from './fixtures/proxy-headers.js';
import {
  couldBeProxyHeader,
  ProxyHeaderError,
  ProxyHeaderParser,
  V1_MAX_BYTES,
  V2_SIGNATURE,
  type ProxyHeader,
  type ProxyHeaderResult,
} from '../../src/tentacle/proxy-protocol.js';

const PAYLOAD = Buffer.from('SEND <a.data> SIZE 3\nabc', 'latin1');

function parseWhole(bytes: Buffer): ProxyHeaderResult {
  const result = new ProxyHeaderParser().push(bytes);
  assert.ok(result, 'header incomplete');
  return result;
}

/** Every way of cutting the input: byte by byte, and at each single split point. */
function* chunkings(bytes: Buffer): Generator<Buffer[]> {
  yield [...bytes].map((b) => Buffer.from([b]));
  for (let cut = 0; cut <= bytes.length; cut++) yield [bytes.subarray(0, cut), bytes.subarray(cut)];
}

/** Feeds the chunks; returns the header and every byte after it (rest + later chunks). */
function parseChunks(chunks: Buffer[]): { header: ProxyHeader; after: Buffer } {
  const parser = new ProxyHeaderParser();
  let result: ProxyHeaderResult | undefined;
  const after: Buffer[] = [];
  for (const chunk of chunks) {
    if (result) after.push(chunk);
    else result = parser.push(chunk);
  }
  assert.ok(result, 'header incomplete');
  return { header: result.header, after: Buffer.concat([result.rest, ...after]) };
}

function assertRefused(bytes: Buffer | string, message: RegExp): void {
  const input = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
  assert.throws(
    () => new ProxyHeaderParser().push(input),
    (err: unknown) =>
      err instanceof ProxyHeaderError &&
      err.code === 'ERR_TENTACLE_PROXY_HEADER' &&
      message.test(err.message),
  );
}

const CASES: { name: string; bytes: Buffer; header: ProxyHeader }[] = [
  {
    name: 'v1 TCP4',
    bytes: Buffer.from('PROXY TCP4 192.0.2.7 10.0.0.1 51234 41121\r\n'),
    header: {
      command: 'proxy',
      version: 1,
      source: { address: '192.0.2.7', port: 51234 },
      destination: { address: '10.0.0.1', port: 41121 },
    },
  },
  {
    name: 'v1 TCP6 (addresses in canonical form, mapped IPv4 as IPv4)',
    bytes: Buffer.from('PROXY TCP6 2001:DB8:0:0:0:0:0:7 ::ffff:10.0.0.1 65535 0\r\n'),
    header: {
      command: 'proxy',
      version: 1,
      source: { address: '2001:db8::7', port: 65535 },
      destination: { address: '10.0.0.1', port: 0 },
    },
  },
  {
    name: 'v1 UNKNOWN (rest of the line ignored)',
    bytes: Buffer.from('PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n'),
    header: { command: 'local', version: 1 },
  },
  {
    name: 'v1 UNKNOWN alone',
    bytes: Buffer.from('PROXY UNKNOWN\r\n'),
    header: { command: 'local', version: 1 },
  },
  {
    name: 'v2 PROXY IPv4 with TLVs',
    bytes: v2({ addresses: inet4([198, 51, 100, 9], [127, 0, 0, 1], 40000, 41121), tlvs: TLVS }),
    header: {
      command: 'proxy',
      version: 2,
      source: { address: '198.51.100.9', port: 40000 },
      destination: { address: '127.0.0.1', port: 41121 },
    },
  },
  {
    name: 'v2 PROXY IPv6 with TLVs',
    bytes: v2({
      family: 0x21,
      addresses: inet6(
        '2001:0db8:0000:0000:0000:0000:0000:0042',
        '0000:0000:0000:0000:0000:0000:0000:0001',
        1,
        2,
      ),
      tlvs: TLVS,
    }),
    header: {
      command: 'proxy',
      version: 2,
      source: { address: '2001:db8::42', port: 1 },
      destination: { address: '::1', port: 2 },
    },
  },
  {
    name: 'v2 PROXY IPv4 without TLVs',
    bytes: v2({ addresses: inet4([10, 1, 2, 3], [10, 9, 9, 9], 1024, 41121) }),
    header: {
      command: 'proxy',
      version: 2,
      source: { address: '10.1.2.3', port: 1024 },
      destination: { address: '10.9.9.9', port: 41121 },
    },
  },
  {
    name: 'v2 LOCAL (health check; addresses and TLVs skipped)',
    bytes: v2({ command: 0, addresses: inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2), tlvs: TLVS }),
    header: { command: 'local', version: 2 },
  },
  {
    name: 'v2 LOCAL with UNSPEC family and no body',
    bytes: v2({ command: 0, family: 0x00 }),
    header: { command: 'local', version: 2 },
  },
  {
    name: 'v2 PROXY with UNSPEC family keeps the socket address',
    bytes: v2({ family: 0x00, tlvs: TLVS }),
    header: { command: 'local', version: 2 },
  },
];

describe('PROXY header parser', () => {
  for (const c of CASES) {
    test(`${c.name}: whole, at every split point, and byte by byte`, () => {
      const whole = parseWhole(Buffer.concat([c.bytes, PAYLOAD]));
      assert.deepEqual(whole.header, c.header);
      assert.deepEqual(whole.rest, PAYLOAD);
      for (const chunks of chunkings(Buffer.concat([c.bytes, PAYLOAD]))) {
        const { header, after } = parseChunks(chunks);
        assert.deepEqual(header, c.header);
        assert.deepEqual(after, PAYLOAD);
      }
    });
  }

  test('the header alone completes with nothing after it', () => {
    const { rest } = parseWhole(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n'));
    assert.equal(rest.length, 0);
  });

  test('a v1 header of exactly 107 bytes is accepted; 107 bytes without CRLF are refused', () => {
    // The spec's worst case: UNKNOWN with two full IPv6 addresses.
    const full = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const max = `PROXY UNKNOWN ${full} ${full} 65535 65535\r\n`;
    assert.equal(max.length, V1_MAX_BYTES);
    assert.equal(parseWhole(Buffer.from(max)).header.command, 'local');
    const tcp6 = parseWhole(Buffer.from(`PROXY TCP6 ${full} ${full} 65535 65535\r\n`));
    assert.deepEqual(tcp6.header.command === 'proxy' && tcp6.header.source, {
      address: full,
      port: 65535,
    });
    assertRefused(`PROXY UNKNOWN ${'x'.repeat(200)}\r\n`, /longer than 107 bytes/);
    // Byte by byte, it is refused at byte 107 without waiting for more.
    const parser = new ProxyHeaderParser();
    const long = Buffer.from(`PROXY UNKNOWN ${'x'.repeat(V1_MAX_BYTES)}`);
    for (let i = 0; i < V1_MAX_BYTES - 1; i++)
      assert.equal(parser.push(long.subarray(i, i + 1)), undefined);
    assert.throws(
      () => parser.push(long.subarray(V1_MAX_BYTES - 1, V1_MAX_BYTES)),
      /longer than 107/,
    );
  });

  test('a v2 header holds at most its preamble and address block, however long its TLVs', () => {
    const parser = new ProxyHeaderParser();
    const bytes = v2({
      addresses: inet4([1, 1, 1, 1], [2, 2, 2, 2], 3, 4),
      tlvs: Buffer.alloc(60_000),
    });
    let result: ProxyHeaderResult | undefined;
    for (let i = 0; i < bytes.length && !result; i += 1000) {
      result = parser.push(bytes.subarray(i, i + 1000));
      assert.ok(parser.bufferedBytes <= 16 + 12);
    }
    assert.ok(result);
    assert.equal(result.rest.length, 0);
    assert.deepEqual(result.header, {
      command: 'proxy',
      version: 2,
      source: { address: '1.1.1.1', port: 3 },
      destination: { address: '2.2.2.2', port: 4 },
    });
  });

  test('missing CRLF: LF alone, CR followed by something else', () => {
    assertRefused('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', /LF without CR/);
    assertRefused('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rSEND', /CR without LF/);
  });

  test('garbage is refused at its first wrong byte', () => {
    assertRefused('SEND <a.data> SIZE 3\n', /not a PROXY header/);
    assertRefused('\x16\x03\x01\x02\x00', /not a PROXY header/); // a TLS ClientHello
    assertRefused('PROXZ', /not a PROXY header/);
    assertRefused('proxy TCP4', /not a PROXY header/);
    assertRefused('\r\n\r\n\0\r\nQUIX', /not a PROXY header/);
    assertRefused('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\0\r\n', /non-printable/);
  });

  test('a malformed v1 line is refused', () => {
    assertRefused('PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n', /unknown protocol "TCP5"/);
    assertRefused('PROXY \r\n', /unknown protocol/);
    assertRefused('PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', /4 fields/);
    assertRefused('PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n', /4 fields/);
    assertRefused('PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n', /4 fields/);
    assertRefused('PROXY TCP4 ::1 5.6.7.8 1 2\r\n', /invalid TCP4 address "::1"/);
    assertRefused('PROXY TCP6 1.2.3.4 ::1 1 2\r\n', /invalid TCP6 address "1.2.3.4"/);
    assertRefused('PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n', /invalid TCP4 address/);
    assertRefused('PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n', /invalid port "65536"/);
    assertRefused('PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n', /invalid port "01"/);
    assertRefused('PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n', /invalid port "-2"/);
  });

  test('a malformed v2 preamble is refused', () => {
    const a4 = inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2);
    assertRefused(v2({ version: 1, addresses: a4 }), /version 1/);
    assertRefused(v2({ command: 2, addresses: a4 }), /command 2/);
    assertRefused(v2({ family: 0x41, addresses: a4 }), /address family 0x41/);
    assertRefused(v2({ family: 0x13, addresses: a4 }), /address family 0x13/);
    assertRefused(v2({ family: 0x12, addresses: a4 }), /transport 2, not a stream/);
    assertRefused(v2({ family: 0x10, addresses: a4 }), /transport 0, not a stream/);
    assertRefused(v2({ family: 0x21, addresses: a4 }), /too short for its addresses/);
    assertRefused(v2({ addresses: a4.subarray(0, 11) }), /too short for its addresses/);
  });

  test('bytes pushed after the header are the caller’s, not the parser’s', () => {
    const parser = new ProxyHeaderParser();
    assert.ok(parser.push(Buffer.from('PROXY UNKNOWN\r\n')));
    assert.throws(() => parser.push(PAYLOAD), /already complete/);
  });

  test('random bytes never crash it: a header, a wait for more, or a ProxyHeaderError', () => {
    let seed = 12;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const prefixes = [
      Buffer.from('PROXY '),
      V2_SIGNATURE,
      Buffer.concat([V2_SIGNATURE, Buffer.from([0x21])]),
    ];
    for (let run = 0; run < 3000; run++) {
      const noise = Buffer.from(
        Array.from({ length: Math.floor(random() * 120) }, () => Math.floor(random() * 256)),
      );
      const input = Buffer.concat([prefixes[run % prefixes.length] ?? Buffer.alloc(0), noise]);
      const parser = new ProxyHeaderParser();
      try {
        for (let i = 0; i < input.length; i += 7) if (parser.push(input.subarray(i, i + 7))) break;
      } catch (err) {
        if (!(err instanceof ProxyHeaderError)) throw err;
      }
      assert.ok(parser.bufferedBytes <= 232);
    }
  });
});

describe('couldBeProxyHeader (sniffing peers not allowed to send one)', () => {
  test('decides on the first differing byte, waits while every byte matches', () => {
    assert.equal(couldBeProxyHeader(Buffer.from('S')), false);
    assert.equal(couldBeProxyHeader(Buffer.from('PASS 0123')), false);
    assert.equal(couldBeProxyHeader(Buffer.from([0x16, 0x03])), false);
    assert.equal(couldBeProxyHeader(Buffer.from('PROX')), undefined);
    assert.equal(couldBeProxyHeader(Buffer.from('\r\n\r\n')), undefined);
    assert.equal(couldBeProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4')), true);
    assert.equal(couldBeProxyHeader(V2_SIGNATURE), true);
    assert.equal(couldBeProxyHeader(Buffer.from('\r\n\r\nQUIT\n')), false);
  });
});
