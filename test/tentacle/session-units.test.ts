// The session's pure parts, reached without a socket: the command-line checks of wire.ts and
// the deadline precedence of deadlines.ts. The live behaviour is in server-*.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RejectReason } from '../../src/tentacle/metrics.js';
import { checkDeadlines, type SessionClocks } from '../../src/tentacle/session/deadlines.js';
import {
  isUnstorableName,
  parseNameLine,
  parseSize,
  parseUploadLine,
  SEND,
} from '../../src/tentacle/session/wire.js';

const b = (text: string): Buffer => Buffer.from(text, 'latin1');

describe('wire: command lines', () => {
  test('SEND: the name runs to the last "> SIZE "; the size needs one or more digits', () => {
    const parsed = parseUploadLine(b('SEND <a> SIZE 1> SIZE 42'), SEND.prefix.length);
    assert.deepEqual(parsed && [parsed.name.toString('latin1'), parsed.digits.toString('latin1')], [
      'a> SIZE 1',
      '42',
    ]);
    assert.equal(parseUploadLine(b('SEND <a> SIZE '), SEND.prefix.length), undefined);
    assert.equal(parseUploadLine(b('SEND <a> SIZE 4x'), SEND.prefix.length), undefined);
    assert.equal(parseUploadLine(b('SEND <a> SIZE -4'), SEND.prefix.length), undefined);
    assert.equal(parseUploadLine(b('SEND <> SIZE 4'), SEND.prefix.length)?.name.length, 0);
  });

  test('sizes: leading zeros count for nothing; 0, over max and over 15 digits are "too big"', () => {
    assert.equal(parseSize(b('0007'), 100), 7);
    assert.equal(parseSize(b('0'), 100), 0);
    assert.equal(parseSize(b('000'), 100), 0);
    assert.equal(parseSize(b('100'), 100), 100);
    assert.equal(parseSize(b('101'), 100), 0);
    assert.equal(parseSize(b(`000${'9'.repeat(15)}`), Number.MAX_SAFE_INTEGER), 999999999999999);
    assert.equal(parseSize(b('1'.repeat(16)), Number.MAX_SAFE_INTEGER), 0);
  });

  test('RECV/LS: the line must end in ">"', () => {
    assert.equal(parseNameLine(b('RECV <x.data>'), 6)?.toString('latin1'), 'x.data');
    assert.equal(parseNameLine(b('RECV <x.data'), 6), undefined);
    assert.equal(parseNameLine(b('RECV <'), 6), undefined);
    assert.equal(parseNameLine(b('RECV <>'), 6)?.length, 0);
  });

  test('names the reference would store wrongly are refused', () => {
    for (const bad of ['', '.', '..', 'a\0b', 'a ', 'a\t', 'a\r', 'x'.repeat(256)]) {
      assert.equal(isUnstorableName(b(bad)), true, JSON.stringify(bad));
    }
    for (const good of ['...', '.a', 'a b', ' a', 'x'.repeat(255)]) {
      assert.equal(isUnstorableName(b(good)), false, JSON.stringify(good));
    }
  });
});

describe('deadlines: which limit ran out', () => {
  const limits = {
    firstByteTimeoutMs: 1_000,
    commandTimeoutMs: 2_000,
    transferTimeoutMs: 10_000,
    idleTimeoutMs: 4_000,
  };
  const clocks = (c: Partial<SessionClocks>): SessionClocks => ({
    awaitingFirstByteSince: 0,
    lineStartedAt: 0,
    commandStartedAt: 0,
    lastActivity: 0,
    ...c,
  });
  const reasonOf = (r: ReturnType<typeof checkDeadlines>): string | number =>
    typeof r === 'number' ? r : r.reason;

  test('nothing expired: the time to the nearest running limit', () => {
    assert.equal(checkDeadlines(limits, clocks({ lastActivity: 100 }), true, 1, 600), 3_500);
    const waiting = clocks({ awaitingFirstByteSince: 100, lastActivity: 100 });
    assert.equal(checkDeadlines(limits, waiting, true, 1, 600), 500);
  });

  test('the first-byte and line limits apply only while the peer sends a line', () => {
    const c = clocks({ awaitingFirstByteSince: 1, lineStartedAt: 1, lastActivity: 3_000 });
    assert.equal(
      reasonOf(checkDeadlines(limits, c, true, 1, 3_000)),
      RejectReason.FirstByteTimeout,
    );
    assert.equal(checkDeadlines(limits, c, false, 3, 3_000), 4_000);
  });

  test('when several ran out, the order is first byte, line, transfer, idle', () => {
    const all = clocks({
      awaitingFirstByteSince: 1,
      lineStartedAt: 1,
      commandStartedAt: 1,
      lastActivity: 1,
    });
    const now = 20_000;
    assert.equal(
      reasonOf(checkDeadlines(limits, all, true, 1, now)),
      RejectReason.FirstByteTimeout,
    );
    const started = { ...all, awaitingFirstByteSince: 0 };
    assert.equal(
      reasonOf(checkDeadlines(limits, started, true, 1, now)),
      RejectReason.CommandTimeout,
    );
    assert.equal(
      reasonOf(checkDeadlines(limits, started, false, 2, now)),
      RejectReason.TransferDeadline,
    );
    const between = { ...started, commandStartedAt: 0 };
    const idle = checkDeadlines(limits, between, false, 2, now);
    assert.deepEqual(idle, {
      left: 1 + 4_000 - now,
      reason: RejectReason.Timeout,
      message: 'connection timed out',
      detail: { idleTimeoutSec: 4, state: 2 },
    });
  });
});
