import { performance } from 'node:perf_hooks';
import { printableBytes } from '../../core/index.js';
import { RejectReason } from '../metrics.js';
import type { SessionCore } from './core.js';
import { SessionState } from './state.js';
import { startRelay } from './relay.js';
import { Reply } from './wire.js';

/** The PASS line (spec §2), checked at once or after the address's auth-throttle delay. */

/** The first line of a session with a password: checked now, later, or refused unchecked. */
export function authenticate(session: SessionCore, line: Buffer): void {
  const throttle = session.ctx.authThrottle;
  const turn = throttle.turn(session.peer, performance.now());
  if (turn === 'refuse') {
    session.reject(RejectReason.AuthThrottled, 'too many failed passwords from this address', {
      passDelayMaxSec: session.config.passDelayMaxMs / 1000,
    });
    session.close();
    return;
  }
  if (turn.waitMs === 0) {
    checkPass(session, line, 0);
    return;
  }
  // Hold the session (not the process) until the address's turn: the line is kept, the
  // socket and parser are paused, and the idle clock does not run against the peer.
  session
    .logger()
    .info(
      { event: 'pass_delayed', waitMs: Math.round(turn.waitMs) },
      'password check delayed: earlier failures from this address',
    );
  const kept = Buffer.from(line);
  session.state = SessionState.Work;
  session.hold();
  const timer = setTimeout(() => {
    session.busy = false;
    if (session.settledIfClosed()) return;
    session.state = SessionState.Auth;
    if (checkPass(session, kept, turn.waitMs)) session.release();
  }, turn.waitMs);
  timer.unref();
}

/** Checks a PASS line; true when the session reads on (false: closed, or relaying). */
function checkPass(session: SessionCore, line: Buffer, delayedMs: number): boolean {
  const expected = session.config.passLine;
  const throttle = session.ctx.authThrottle;
  if (expected && line.length === expected.length && line.equals(expected)) {
    throttle.succeeded(session.peer);
    session.reply(Reply.passOk);
    if (session.config.proxy) {
      // Relay once the parser has set aside the bytes that followed the PASS line.
      session.parser.pause();
      session.socket.pause();
      process.nextTick(() => {
        startRelay(session);
      });
      return false;
    }
    session.commandDone();
    return true;
  }
  // Wrong digest, upper case, single MD5, or no PASS at all: drop without a reply (spec §2).
  // Quiet mode changes nothing here: the reference's -q bypass is not reproduced.
  const failures = throttle.failed(session.peer, performance.now());
  session.reject(RejectReason.AuthFailed, 'invalid password', {
    line: printableBytes(line, 64),
    failures,
    delayedMs: Math.round(delayedMs),
  });
  session.close();
  return false;
}
