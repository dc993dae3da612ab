/**
 * Spec tentacle.md §15 conformance cases, as raw-byte sessions against the real server on
 * 127.0.0.1 (port 0). Each row: server options, optional folder setup, the exact bytes the
 * client sends and the exact bytes (or close) it must get back, then what must be on disk.
 * Rows where we deliberately differ from the reference (§13/§14 [R]) say so in their title.
 * Authentication, TLS, compression, timeouts and the connection limit have their own files.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { TentacleServerOptions } from '../../src/tentacle/index.js';
import { runSteps, startServer, tempFilesIn, type Harness, type Step } from './fixtures/harness.js';

interface Case {
  readonly id: string;
  readonly title: string;
  readonly options?: Partial<TentacleServerOptions>;
  readonly setup?: (dir: string) => void;
  readonly steps: readonly Step[];
  readonly disk?: (h: Harness) => void;
}

const send = (s: string | Buffer): Step => ({ send: s });
const expect = (s: string | Buffer): Step => ({ expect: s });
const close: Step = { close: true };
const OK = expect('SEND OK\n');
const ERR_NAME = expect('SEND ERR (invalid file name)\n');
const ERR_BIG = expect('SEND ERR (file is too big)\n');
const ERR_EXISTS = expect('SEND ERR (file already exists)\n');

/** The reference's RECV, which serves any file in the storage folder (`recv_any_file 1`). */
const REFERENCE_RECV = { recvAnyFile: true } as const;

function read(h: Harness, name: string): string {
  return readFileSync(join(h.dir, name), 'latin1');
}

function nothingStored(h: Harness): void {
  assert.deepEqual(h.files(), []);
}

const cases: Case[] = [
  {
    id: '1',
    title: 'SEND, body, QUIT',
    steps: [send('SEND <a.data> SIZE 5\n'), OK, send('hello'), OK, send('QUIT\n'), close],
    disk: (h) => {
      assert.equal(read(h, 'a.data'), 'hello');
    },
  },
  {
    id: '2',
    title: 'two files in one session',
    steps: [
      send('SEND <agent1.1700000000.data> SIZE 31\n'),
      OK,
      send('<agent_data>hello</agent_data>\n'),
      OK,
      send('SEND <b.data> SIZE 12\n'),
      OK,
      send('second file\n'),
      OK,
      send('QUIT\n'),
      close,
    ],
    disk: (h) => {
      assert.deepEqual(h.files(), ['agent1.1700000000.data', 'b.data']);
      assert.equal(read(h, 'agent1.1700000000.data'), '<agent_data>hello</agent_data>\n');
      assert.equal(read(h, 'b.data'), 'second file\n');
    },
  },
  {
    id: '3',
    title: 'existing file without -o: refused, session goes on',
    setup: (dir) => {
      writeFileSync(join(dir, 'b.data'), 'old');
    },
    steps: [send('SEND <b.data> SIZE 3\n'), ERR_EXISTS, send('QUIT\n'), close],
    disk: (h) => {
      assert.equal(read(h, 'b.data'), 'old');
    },
  },
  {
    id: '4',
    title: '-o overwrites',
    options: { overwrite: true },
    setup: (dir) => {
      writeFileSync(join(dir, 'ov.data'), 'new');
    },
    steps: [send('SEND <ov.data> SIZE 5\n'), OK, send('newer'), OK],
    disk: (h) => {
      assert.equal(read(h, 'ov.data'), 'newer');
    },
  },
  {
    id: '5',
    title: '../x.data refused',
    steps: [send('SEND <../x.data> SIZE 3\n'), ERR_NAME, send('QUIT\n'), close],
    disk: nothingStored,
  },
  {
    id: '6',
    title: 'a/b refused',
    steps: [send('SEND <a/b> SIZE 3\n'), ERR_NAME],
    disk: nothingStored,
  },
  {
    id: '7',
    title: 'a\\b refused',
    steps: [send('SEND <a\\b> SIZE 3\n'), ERR_NAME],
    disk: nothingStored,
  },
  {
    id: '8',
    title: 'each forbidden character refused (session continues after each)',
    steps: "?[]=+<>:;',*~/\\"
      .split('')
      .flatMap((c) => [send(`SEND <x${c}y.data> SIZE 3\n`), ERR_NAME]),
    disk: nothingStored,
  },
  {
    id: '9',
    title: 'bad name and bad size: the name is checked first',
    steps: [send('SEND <a:b> SIZE 0\n'), ERR_NAME],
  },
  {
    id: '10',
    title: 'SIZE 0 is "too big"',
    steps: [send('SEND <z.data> SIZE 0\n'), ERR_BIG],
    disk: nothingStored,
  },
  { id: '11', title: 'SIZE max_size+1', steps: [send('SEND <z.data> SIZE 2000001\n'), ERR_BIG] },
  {
    id: '12',
    title: 'SIZE max_size exactly (2,000,000 bytes)',
    steps: [send('SEND <m.data> SIZE 2000000\n'), OK, send(Buffer.alloc(2_000_000, 0x6d)), OK],
    disk: (h) => {
      const data = readFileSync(join(h.dir, 'm.data'));
      assert.equal(data.length, 2_000_000);
      assert.ok(data.every((b) => b === 0x6d));
    },
  },
  {
    id: '13',
    title: 'huge digit string is "too big"',
    steps: [
      send('SEND <z.data> SIZE 99999999999999999999999999\n'),
      ERR_BIG,
      send('SEND <z.data> SIZE 00000000000000000000000000000000001\n'),
      OK,
      send('z'),
      OK,
    ],
    disk: (h) => {
      assert.equal(read(h, 'z.data'), 'z');
    },
  },
  {
    id: '14',
    title: 'leading zeros in SIZE',
    steps: [send('SEND <lz.data> SIZE 003\n'), OK, send('abc'), OK],
    disk: (h) => {
      assert.equal(read(h, 'lz.data'), 'abc');
    },
  },
  ...[
    'SEND <e.data> SIZE \n',
    'SEND <e.data> SIZE -2\n',
    'SEND <e.data> SIZE 2 \n',
    'SEND  <d> SIZE 2\n',
    'SEND <e.data> SIZE 2x\n',
    'SEND e.data SIZE 2\n',
  ].map((line, i): Case => ({
    id: `15.${i + 1}`,
    title: `malformed SEND ${JSON.stringify(line)}: close, no reply`,
    steps: [send(line), close],
    disk: nothingStored,
  })),
  {
    id: '16',
    title: 'CRLF line: close, no reply (CR is never stripped)',
    steps: [send('SEND <crlf.data> SIZE 3\r\n'), close],
    disk: nothingStored,
  },
  ...[
    'send <lc.data> SIZE 3\n',
    'HELLO\n',
    'STARTTLS\n',
    'LS <.>\n',
    'MV <x>\n',
    'QUIT\r\n',
    'QUIT \n',
    'RECV <a>x\n',
  ].map((line, i): Case => ({
    id: `17.${i + 1}`,
    title: `unknown command ${JSON.stringify(line)}: close, no reply`,
    steps: [send(line), close],
  })),
  { id: '18.1', title: 'empty line: close', steps: [send('\n'), close] },
  { id: '18.2', title: '"0" line: close', steps: [send('0\n'), close] },
  { id: '19', title: 'QUIT: close, no reply', steps: [send('QUIT\n'), close] },
  {
    id: '20',
    title: 'half-close mid-body: nothing stored, no temp file',
    steps: [send('SEND <mid.data> SIZE 10\n'), OK, send('abc'), { halfClose: true }, close],
    disk: (h) => {
      assert.deepEqual(h.files(), []);
    },
  },
  {
    id: '20b',
    title: 'disconnect after part of a large body went to disk: temp file removed',
    steps: [
      send('SEND <big.data> SIZE 300000\n'),
      OK,
      send(Buffer.alloc(200_000, 0x61)),
      { silence: 100 },
      { halfClose: true },
      close,
    ],
    disk: (h) => {
      assert.deepEqual(h.files(), []);
    },
  },
  {
    id: '21',
    title: '-o and a disconnect mid-body: the old file is untouched',
    options: { overwrite: true },
    setup: (dir) => {
      writeFileSync(join(dir, 'keep.data'), 'old');
    },
    steps: [send('SEND <keep.data> SIZE 10\n'), OK, send('abc'), { halfClose: true }, close],
    disk: (h) => {
      assert.deepEqual(h.files(), ['keep.data']);
      assert.equal(read(h, 'keep.data'), 'old');
    },
  },
  {
    id: '25',
    title: '1500-byte line (over the 1024-byte cap) split across 3 writes: close, no reply',
    steps: [
      send(`SEND <${'n'.repeat(500)}`),
      send('n'.repeat(500)),
      send(`${'n'.repeat(482)}> SIZE 2\n`),
      close,
    ],
    disk: nothingStored,
  },
  {
    id: '25b',
    title: 'a 1024-byte line (LF included) is accepted; 1025 is not',
    steps: [
      send(`SEND <${'n'.repeat(1024 - 'SEND <> SIZE 2\n'.length)}> SIZE 2\n`),
      ERR_NAME, // over NAME_MAX (255), refused up front [R]
      send(`SEND <${'n'.repeat(1025 - 'SEND <> SIZE 2\n'.length)}> SIZE 2\n`),
      close,
    ],
  },
  {
    id: '26',
    title: '[R] 300-byte name: SEND ERR (invalid file name) instead of OK-then-drop',
    steps: [
      send(`SEND <${'n'.repeat(300)}> SIZE 2\n`),
      ERR_NAME,
      send('SEND <n.data> SIZE 2\n'),
      OK,
      send('ok'),
      OK,
    ],
    disk: (h) => {
      assert.deepEqual(h.files(), ['n.data']);
    },
  },
  {
    id: '26b',
    title: 'a 255-byte name is stored',
    steps: [send(`SEND <${'n'.repeat(250)}.data> SIZE 2\n`), OK, send('ok'), OK],
    disk: (h) => {
      assert.deepEqual(h.files(), [`${'n'.repeat(250)}.data`]);
    },
  },
  {
    id: '27',
    title: '[R] empty, "." and ".." names: SEND ERR (invalid file name) up front',
    steps: [
      send('SEND <> SIZE 3\n'),
      ERR_NAME,
      send('SEND <.> SIZE 3\n'),
      ERR_NAME,
      send('SEND <..> SIZE 3\n'),
      ERR_NAME,
      send('ZSEND <..> SIZE 3\n'),
      expect('ZSEND ERR (invalid file name)\n'),
    ],
    disk: nothingStored,
  },
  {
    id: '28',
    title: 'unusual but allowed names are stored with exactly those bytes',
    steps: [
      'my file|&$(x).data',
      'été.data',
      'tab\there.data',
      'cr\rhere.data',
      '.hidden',
      ' lead.data',
      'quote"#%!@{}^`.data',
    ].flatMap((name) => {
      const n = Buffer.from(name, 'utf8');
      return [
        send(Buffer.concat([Buffer.from('SEND <'), n, Buffer.from('> SIZE 2\n')])),
        OK,
        send('ok'),
        OK,
      ];
    }),
    disk: (h) => {
      assert.deepEqual(
        h.files(),
        [
          ' lead.data',
          '.hidden',
          'cr\rhere.data',
          'my file|&$(x).data',
          'quote"#%!@{}^`.data',
          'tab\there.data',
          'été.data',
        ].sort(),
      );
    },
  },
  {
    id: '28b',
    title: 'a non-UTF-8 name round-trips as bytes',
    options: REFERENCE_RECV,
    steps: [
      send(Buffer.from('SEND <caf\xe9.data> SIZE 2\n', 'latin1')),
      OK,
      send('ok'),
      OK,
      send(Buffer.from('RECV <caf\xe9.data>\n', 'latin1')),
      expect('RECV SIZE 2\n'),
      send('RECV OK\n'),
      expect('ok'),
    ],
  },
  {
    id: '28c',
    title: '[R] NUL and trailing control bytes in a name are refused',
    steps: [
      send(Buffer.from('SEND <a\x00b> SIZE 2\n', 'latin1')),
      ERR_NAME,
      send('SEND <a.data\r> SIZE 2\n'),
      ERR_NAME,
      send('SEND <a.data\t> SIZE 2\n'),
      ERR_NAME,
    ],
    disk: nothingStored,
  },
  {
    id: '29',
    title: '[R] trailing-space name cannot overwrite (reference bug): refused',
    setup: (dir) => {
      writeFileSync(join(dir, 'b.data'), 'old');
    },
    steps: [send('SEND <b.data > SIZE 3\n'), ERR_NAME, send('SEND <b.data\t> SIZE 3\n'), ERR_NAME],
    disk: (h) => {
      assert.deepEqual(h.files(), ['b.data']);
      assert.equal(read(h, 'b.data'), 'old');
    },
  },
  {
    id: '30',
    title: 'greedy name match: `a> SIZE 1` is the name, refused for `>`',
    steps: [send('SEND <a> SIZE 1> SIZE 2\n'), ERR_NAME],
  },
  {
    id: '31',
    title: 'bytes after a body are the next command',
    steps: [send('SEND <e.data> SIZE 3\n'), OK, send('abcQUIT\n'), OK, close],
    disk: (h) => {
      assert.equal(read(h, 'e.data'), 'abc');
    },
  },
  {
    id: '41',
    title: 'ZSEND of non-ZIP data is stored as is (transparent fallback)',
    steps: [
      send('ZSEND <g.data> SIZE 5\n'),
      expect('ZSEND OK\n'),
      send('hello'),
      expect('ZSEND OK\n'),
    ],
    disk: (h) => {
      assert.equal(read(h, 'g.data'), 'hello');
    },
  },
  {
    id: '42',
    title: 'ZSEND of PK\\x03\\x04 garbage: ZSEND ERR, session survives',
    steps: [
      send('ZSEND <g2.data> SIZE 12\n'),
      expect('ZSEND OK\n'),
      send('PK\x03\x04garbage!'),
      expect('ZSEND ERR\n'),
      send('QUIT\n'),
      close,
    ],
    disk: nothingStored,
  },
  {
    id: '45',
    title: 'ZSEND checks: name, size, exists',
    setup: (dir) => {
      writeFileSync(join(dir, 'existing'), 'x');
    },
    steps: [
      send('ZSEND <a/b> SIZE 5\n'),
      expect('ZSEND ERR (invalid file name)\n'),
      send('ZSEND <g.data> SIZE 0\n'),
      expect('ZSEND ERR (file is too big)\n'),
      send('ZSEND <existing> SIZE 5\n'),
      expect('ZSEND ERR (file already exists)\n'),
    ],
    disk: (h) => {
      assert.deepEqual(h.files(), ['existing']);
    },
  },
  {
    id: '47',
    title: 'SEND of an empty file (SIZE 0): too big, then QUIT',
    steps: [send('SEND <empty.data> SIZE 0\n'), ERR_BIG, send('QUIT\n'), close],
    disk: nothingStored,
  },
  {
    id: '48',
    title: 'RECV: size, confirmation, raw bytes',
    options: REFERENCE_RECV,
    setup: (dir) => {
      writeFileSync(join(dir, 'z1.data'), 'x'.repeat(70));
    },
    steps: [
      send('RECV <z1.data>\n'),
      expect('RECV SIZE 70\n'),
      send('RECV OK\n'),
      expect('x'.repeat(70)),
      send('QUIT\n'),
      close,
    ],
  },
  {
    id: '48b',
    title: 'RECV of a large file streams all of it',
    options: REFERENCE_RECV,
    setup: (dir) => {
      writeFileSync(join(dir, 'big.data'), Buffer.alloc(1_500_000, 0x62));
    },
    steps: [
      send('RECV <big.data>\n'),
      expect('RECV SIZE 1500000\n'),
      send('RECV OK\n'),
      expect(Buffer.alloc(1_500_000, 0x62)),
      send('QUIT\n'),
      close,
    ],
  },
  {
    id: '49',
    title: 'RECV of missing, "..", "" and a folder: does not exist, session continues',
    setup: (dir) => {
      mkdirSync(join(dir, 'sub'));
    },
    steps: ['nope.data', '..', '', '.', 'sub'].flatMap((n) => [
      send(`RECV <${n}>\n`),
      expect('RECV ERR (file does not exist)\n'),
    ]),
  },
  {
    id: '50',
    title: 'RECV with forbidden characters',
    steps: [
      send('RECV <a:b>\n'),
      expect('RECV ERR (file has an invalid file name)\n'),
      send('RECV <sub/x.data>\n'),
      expect('RECV ERR (file has an invalid file name)\n'),
    ],
  },
  {
    id: '51',
    title: 'RECV answered with anything but RECV OK: nothing sent, line consumed',
    options: REFERENCE_RECV,
    setup: (dir) => {
      writeFileSync(join(dir, 'z1.data'), 'x'.repeat(70));
    },
    steps: [
      send('RECV <z1.data>\n'),
      expect('RECV SIZE 70\n'),
      send('NO\n'),
      { silence: 200 },
      send('QUIT\n'),
      close,
    ],
  },
  {
    id: '52',
    title: 'ZRECV errors',
    steps: [
      send('ZRECV <a:b>\n'),
      expect('ZRECV ERR (file has an invalid file name)\n'),
      send('ZRECV <nope>\n'),
      expect('ZRECV ERR (file does not exist)\n'),
    ],
  },
  {
    id: '54',
    title: '[R] RECV of an empty file: RECV SIZE 0, no body, session continues',
    options: REFERENCE_RECV,
    setup: (dir) => {
      writeFileSync(join(dir, 'empty.data'), '');
    },
    steps: [
      send('RECV <empty.data>\n'),
      expect('RECV SIZE 0\n'),
      send('RECV OK\n'),
      send('QUIT\n'),
      close,
    ],
  },
  {
    id: '55',
    title: 'filters route SEND and RECV (unanchored, first match wins)',
    options: { filters: '.*\\.conf:conf;.*\\.md5:md5/;.*\\.data:conf' },
    setup: (dir) => {
      mkdirSync(join(dir, 'conf'));
      mkdirSync(join(dir, 'md5'));
    },
    steps: [
      ...['abc.conf', 'abc.md5', 'x.conf.data', 'y.data'].flatMap((n) => [
        send(`SEND <${n}> SIZE 2\n`),
        OK,
        send('ok'),
        OK,
      ]),
      send('RECV <abc.conf>\n'),
      expect('RECV SIZE 2\n'),
      send('RECV OK\n'),
      expect('ok'),
      send('SEND <abc.conf> SIZE 2\n'),
      ERR_EXISTS,
    ],
    disk: (h) => {
      assert.deepEqual(h.files('conf'), ['abc.conf', 'x.conf.data', 'y.data']);
      assert.deepEqual(h.files('md5'), ['abc.md5']);
      assert.deepEqual(h.files(), ['conf', 'md5']);
    },
  },
  {
    id: '55b',
    title: 'filter regexes match bytes as latin1 (one byte = one character)',
    options: { filters: '^caf.\\.data$:one;^caf..\\.data$:two' },
    setup: (dir) => {
      mkdirSync(join(dir, 'one'));
      mkdirSync(join(dir, 'two'));
    },
    steps: [send(Buffer.from('SEND <café.data> SIZE 2\n', 'utf8')), OK, send('ok'), OK],
    disk: (h) => {
      assert.deepEqual(h.files('two'), ['café.data']);
      assert.deepEqual(h.files('one'), []);
    },
  },
  {
    id: '56',
    title:
      '[R] filter folder missing: SEND OK, body, then SEND ERR (reference drops); nothing stored',
    options: { filters: '.*\\.lock:trans' },
    steps: [
      send('SEND <a.lock> SIZE 2\n'),
      OK,
      send('l1'),
      expect('SEND ERR\n'),
      send('QUIT\n'),
      close,
    ],
    disk: nothingStored,
  },
  {
    id: '63',
    title: 'LS and MV with -I',
    options: { insecure: true },
    setup: (dir) => {
      writeFileSync(join(dir, 'one.data'), 'abc');
      writeFileSync(join(dir, 'two.data'), '');
      writeFileSync(join(dir, 'bad:name'), '');
    },
    steps: [
      send('LS <>\n'),
      expect('LS SIZE 23\n'),
      send('LS OK\n'),
      { expect: '.\n..\none.data\ntwo.data\n' },
      send('MV <one.data>\n'),
      expect('MV SIZE 3\n'),
      send('MV OK\n'),
      expect('abc'),
      send('MV <one.data>\n'),
      expect('MV ERR\n'),
      send('MV <a:b>\n'),
      expect('MV ERR\n'),
      send('LS <a:b>\n'),
      expect('LS ERR\n'),
      send('MV <two.data>\n'),
      expect('MV SIZE 0\n'),
      send('MV OK\n'),
      send('QUIT\n'),
      close,
    ],
    disk: (h) => {
      assert.deepEqual(h.files(), ['bad:name']);
    },
  },
  {
    id: '63b',
    title: 'LS lists the folder of the first filter matching its argument',
    options: { insecure: true, filters: '.*\\.conf:conf' },
    setup: (dir) => {
      mkdirSync(join(dir, 'conf'));
      writeFileSync(join(dir, 'conf', 'a.conf'), 'x');
    },
    steps: [
      send('LS <x.conf>\n'),
      expect('LS SIZE 12\n'),
      send('LS OK\n'),
      expect('.\n..\na.conf\n'),
    ],
  },
  {
    id: '64',
    title: '[R] SEND line and body in one write: both answered',
    steps: [send('SEND <pipe.data> SIZE 3\nabc'), OK, OK],
    disk: (h) => {
      assert.equal(read(h, 'pipe.data'), 'abc');
    },
  },
  {
    id: '64b',
    title: 'a whole pipelined session in one write',
    steps: [
      send('SEND <p1.data> SIZE 2\nabSEND <p2.data> SIZE 2\ncdQUIT\n'),
      OK,
      OK,
      OK,
      OK,
      close,
    ],
    disk: (h) => {
      assert.deepEqual(h.files(), ['p1.data', 'p2.data']);
    },
  },
];

describe('spec §15 conformance (raw bytes over TCP)', () => {
  for (const c of cases) {
    test(`case ${c.id}: ${c.title}`, async (t) => {
      const h = await startServer(t, c.options ?? {}, c.setup);
      const peer = await h.connect();
      await runSteps(peer, c.steps);
      peer.destroy();
      // Let the server finish its side (a stored file is in place before its OK, but a
      // dropped transfer's temp file is removed asynchronously).
      await h.server.drain();
      c.disk?.(h);
      assert.deepEqual(tempFilesIn(h.dir), [], 'no temp file is left behind');
    });
  }

  test('case 8 (exhaustive): exactly the 15 reference bytes are forbidden', async (t) => {
    const h = await startServer(t);
    const peer = await h.connect();
    const forbidden: number[] = [];
    for (let b = 1; b < 256; b++) {
      if (b === 0x0a) continue;
      const name = Buffer.from([0x78, b, 0x79]); // x?y
      peer.write(Buffer.concat([Buffer.from('SEND <'), name, Buffer.from('> SIZE 99999999\n')]));
      const line = await peer.readLine();
      if (line === 'SEND ERR (invalid file name)') forbidden.push(b);
      else assert.equal(line, 'SEND ERR (file is too big)');
    }
    assert.equal(Buffer.from(forbidden).toString('latin1'), "'*+,/:;<=>?[\\]~");
    assert.equal(existsSync(join(h.dir, 'x')), false);
  });
});
