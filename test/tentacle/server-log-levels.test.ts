/**
 * Log levels of the per-connection lines (issue 13): the reference logs a connection and its
 * files only with `-v`, so at the usual `info` level a busy server writes nothing per
 * connection; refusals keep their `warn`. The standalone `tentacle-server` asks for them at
 * `info`, the level its `-v` turns on.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createTentacleServer, type ConnectionLogLevel } from '../../src/tentacle/index.js';
import { memoryLogger, RawPeer, runSteps, type LogRecord } from './fixtures/harness.js';

const INFO = 30;
const WARN = 40;

/** One connection that has a SEND refused, stores a file and quits; the info-level records. */
async function oneConnection(
  t: { after(fn: () => unknown): void },
  connectionLogLevel: ConnectionLogLevel | undefined,
): Promise<LogRecord[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tentacle-log-'));
  const { logger, records } = memoryLogger('info');
  const server = createTentacleServer(
    { addresses: '127.0.0.1', port: 0, sync: 'none', maxSize: 10, directory: dir },
    { logger, ...(connectionLogLevel ? { connectionLogLevel } : {}) },
  );
  const [address] = await server.listen();
  if (!address) throw new Error('no address');
  t.after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const peer = await RawPeer.connect(address.port);
  t.after(() => {
    peer.destroy();
  });
  await runSteps(peer, [
    { send: 'SEND <big.data> SIZE 11\n' },
    { expect: 'SEND ERR (file is too big)\n' },
    { send: 'SEND <ok.data> SIZE 2\n' },
    { expect: 'SEND OK\n' },
    { send: 'ok' },
    { expect: 'SEND OK\n' },
    { send: 'QUIT\n' },
    { close: true },
  ]);
  return records;
}

const events = (records: LogRecord[]): unknown[] => records.map((r) => r['event']);

test('default: no line per connection or file at info; the refusal is still a warning', async (t) => {
  const records = await oneConnection(t, undefined);
  assert.ok(!events(records).includes('connected'), 'no connected line');
  assert.ok(!events(records).includes('file_received'), 'no file_received line');
  const refused = records.find((r) => r['event'] === 'rejected');
  assert.equal(refused?.level, WARN);
  assert.equal(refused['peer'], '127.0.0.1');
});

test('connectionLogLevel info (tentacle-server): the connection and its file are logged', async (t) => {
  const records = await oneConnection(t, 'info');
  const connected = records.find((r) => r['event'] === 'connected');
  const received = records.find((r) => r['event'] === 'file_received');
  assert.equal(connected?.level, INFO);
  assert.equal(connected['peer'], '127.0.0.1');
  assert.equal(received?.level, INFO);
  assert.equal(received['name'], 'ok.data');
});
