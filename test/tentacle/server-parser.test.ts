/**
 * The framing parser on its own (no I/O): fixture transcripts fed whole, byte by byte and split
 * at every index must give the same events; pausing holds input; random bytes end in clean
 * events or one error, never a throw or unbounded growth (mqtt-packet's testRandom idea).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_LINE_BYTES, ParserState, TentacleParser } from '../../src/tentacle/parser.js';

type Event = ['line', string] | ['payload', string] | ['end'] | ['error', string];

const SIZE = /^Z?SEND <.*> SIZE (\d+)$/s;

/** Runs the parser like the session does: a SEND line announces a body of SIZE bytes. */
function collect(chunks: readonly Buffer[], maxLineBytes = MAX_LINE_BYTES): Event[] {
  const events: Event[] = [];
  const parser = new TentacleParser(
    {
      onLine(line) {
        const text = line.toString('latin1');
        events.push(['line', text]);
        const size = Number(SIZE.exec(text)?.[1] ?? 0);
        if (size > 0) parser.expectPayload(size);
      },
      onPayload(chunk) {
        const last = events[events.length - 1];
        if (last?.[0] === 'payload') last[1] += chunk.toString('latin1');
        else events.push(['payload', chunk.toString('latin1')]);
      },
      onPayloadEnd() {
        events.push(['end']);
      },
      onError(err) {
        events.push(['error', err.code]);
      },
    },
    { maxLineBytes },
  );
  for (const c of chunks) parser.push(c);
  return events;
}

function splits(data: Buffer): Buffer[][] {
  const out: Buffer[][] = [[data], [...data].map((b) => Buffer.from([b]))];
  for (let i = 1; i < data.length; i++) out.push([data.subarray(0, i), data.subarray(i)]);
  return out;
}

const fixtures: { name: string; input: string; events: Event[] }[] = [
  { name: 'one line', input: 'QUIT\n', events: [['line', 'QUIT']] },
  { name: 'CR is kept', input: 'QUIT\r\n', events: [['line', 'QUIT\r']] },
  {
    name: 'empty line',
    input: '\n\n',
    events: [
      ['line', ''],
      ['line', ''],
    ],
  },
  {
    name: 'line, payload, next line in one chunk',
    input: 'SEND <a> SIZE 3\nabcQUIT\n',
    events: [['line', 'SEND <a> SIZE 3'], ['payload', 'abc'], ['end'], ['line', 'QUIT']],
  },
  {
    name: 'payload containing LF and a fake command',
    input: 'SEND <a> SIZE 7\nx\nQUIT\nQUIT\n',
    events: [['line', 'SEND <a> SIZE 7'], ['payload', 'x\nQUIT\n'], ['end'], ['line', 'QUIT']],
  },
  {
    name: 'two uploads back to back',
    input: 'SEND <a> SIZE 1\naZSEND <b> SIZE 2\nbb',
    events: [
      ['line', 'SEND <a> SIZE 1'],
      ['payload', 'a'],
      ['end'],
      ['line', 'ZSEND <b> SIZE 2'],
      ['payload', 'bb'],
      ['end'],
    ],
  },
  { name: 'partial line is held', input: 'SEND <a', events: [] },
  {
    name: 'line of 1023 bytes + LF',
    input: `${'x'.repeat(1023)}\n`,
    events: [['line', 'x'.repeat(1023)]],
  },
  {
    name: 'line of 1024 bytes + LF',
    input: `${'x'.repeat(1024)}\nQUIT\n`,
    events: [['error', 'ERR_TENTACLE_LINE_TOO_LONG']],
  },
  {
    name: '1024 bytes without LF',
    input: 'x'.repeat(1024),
    events: [['error', 'ERR_TENTACLE_LINE_TOO_LONG']],
  },
];

describe('TentacleParser', () => {
  for (const f of fixtures) {
    test(`${f.name}: same events whole, byte by byte and split at every index`, () => {
      for (const chunks of splits(Buffer.from(f.input, 'latin1'))) {
        assert.deepEqual(collect(chunks), f.events);
      }
    });
  }

  test('payload chunks are views of the input, not copies', () => {
    const input = Buffer.from('SEND <a> SIZE 5\nhelloQUIT\n');
    const seen: Buffer[] = [];
    const parser = new TentacleParser({
      onLine: (line) => {
        if (line.toString().startsWith('SEND')) parser.expectPayload(5);
      },
      onPayload: (chunk) => seen.push(chunk),
      onPayloadEnd: () => undefined,
      onError: () => undefined,
    });
    parser.push(input);
    const [view] = seen;
    assert.ok(view && seen.length === 1);
    assert.equal(view.buffer, input.buffer);
    assert.equal(view.byteOffset, input.byteOffset + 16);
  });

  test('pause() holds the rest of the chunk; resume() continues where it stopped', () => {
    const lines: string[] = [];
    const parser = new TentacleParser({
      onLine: (line) => {
        lines.push(line.toString());
        parser.pause();
      },
      onPayload: () => undefined,
      onPayloadEnd: () => undefined,
      onError: () => undefined,
    });
    parser.push(Buffer.from('A\nB\nC'));
    assert.deepEqual(lines, ['A']);
    assert.equal(parser.bufferedBytes, 3);
    parser.push(Buffer.from('\n')); // arrives while paused: held too
    parser.resume();
    assert.deepEqual(lines, ['A', 'B']);
    parser.resume();
    assert.deepEqual(lines, ['A', 'B', 'C']);
    assert.equal(parser.bufferedBytes, 0);
  });

  test('a payload that ends while paused reports its end on resume', () => {
    const events: string[] = [];
    const parser = new TentacleParser({
      onLine: (line) => {
        events.push(`line:${line.toString()}`);
        if (line.toString() === 'GO') parser.expectPayload(2);
      },
      onPayload: (chunk) => {
        events.push(`payload:${chunk.toString()}`);
        parser.pause(); // e.g. waiting for a disk write
      },
      onPayloadEnd: () => events.push('end'),
      onError: () => undefined,
    });
    parser.push(Buffer.from('GO\nxyQUIT\n'));
    assert.deepEqual(events, ['line:GO', 'payload:xy']);
    parser.resume();
    assert.deepEqual(events, ['line:GO', 'payload:xy', 'end', 'line:QUIT']);
  });

  test('takeBuffered() hands over a partial line and held input', () => {
    const parser = new TentacleParser({
      onLine: () => {
        parser.pause();
      },
      onPayload: () => undefined,
      onPayloadEnd: () => undefined,
      onError: () => undefined,
    });
    parser.push(Buffer.from('PASS x\nSEND <a'));
    assert.deepEqual(Buffer.concat(parser.takeBuffered()).toString(), 'SEND <a');
    assert.equal(parser.state, ParserState.Closed);
  });

  test('random bytes: never a throw, at most one error, partial line stays under the cap', () => {
    let seed = 0x7e57;
    const rand = (): number => {
      // mulberry32
      seed = (seed + 0x6d2b79f5) | 0;
      let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
      return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
    };
    for (let round = 0; round < 2000; round++) {
      const len = Math.floor(rand() * 3000);
      const data = Buffer.alloc(len);
      for (let i = 0; i < len; i++) {
        // Mostly printable with frequent LFs and command words, so lines and payloads happen.
        const r = rand();
        data[i] =
          r < 0.05 ? 0x0a : r < 0.9 ? 0x20 + Math.floor(rand() * 95) : Math.floor(rand() * 256);
      }
      if (rand() < 0.5)
        data.write(
          `SEND <f> SIZE ${Math.floor(rand() * 500) + 1}\n`,
          Math.floor(rand() * Math.max(1, len - 30)),
        );
      const chunks: Buffer[] = [];
      for (let off = 0; off < len;) {
        const n = 1 + Math.floor(rand() * 700);
        chunks.push(data.subarray(off, off + n));
        off += n;
      }
      let errors = 0;
      let maxBuffered = 0;
      const parser = new TentacleParser({
        onLine: (line) => {
          assert.ok(line.length < MAX_LINE_BYTES);
          assert.equal(line.includes(0x0a), false);
          const size = Number(SIZE.exec(line.toString('latin1'))?.[1] ?? 0);
          if (size > 0) parser.expectPayload(size);
        },
        onPayload: (chunk) => {
          assert.ok(chunk.length > 0);
        },
        onPayloadEnd: () => undefined,
        onError: () => errors++,
      });
      for (const c of chunks) {
        parser.push(c);
        maxBuffered = Math.max(maxBuffered, parser.bufferedBytes);
      }
      assert.ok(errors <= 1);
      assert.ok(maxBuffered < MAX_LINE_BYTES, `buffered ${maxBuffered}`);
      // The same input in one piece gives the same outcome.
      assert.deepEqual(collect([data]), collect(chunks));
    }
  });
});
