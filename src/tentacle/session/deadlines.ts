import { RejectReason } from '../metrics.js';
import type { TentacleConfig } from '../options.js';

/**
 * A session's four clocks (performance.now() ms) and which of them has run out: the first
 * byte, the line being received, the whole command, and idleness.
 */
export interface SessionClocks {
  /** When the session started; 0 once its first byte has arrived. */
  readonly awaitingFirstByteSince: number;
  /** When the line being received (command, PASS, confirmation) began; 0 when none is. */
  readonly lineStartedAt: number;
  /** When the current command's first byte arrived; 0 between commands. */
  readonly commandStartedAt: number;
  /** Last read from or reply to the peer. */
  readonly lastActivity: number;
}

export type DeadlineLimits = Pick<
  TentacleConfig,
  'idleTimeoutMs' | 'transferTimeoutMs' | 'firstByteTimeoutMs' | 'commandTimeoutMs'
>;

export interface ExpiredDeadline {
  readonly reason: RejectReason;
  readonly message: string;
  readonly detail: Record<string, unknown>;
}

/** The first expired limit (in order of precedence), or the milliseconds until the next one. */
export function checkDeadlines(
  config: DeadlineLimits,
  clocks: SessionClocks,
  /** The peer is sending a line (first-byte and line deadlines apply). */
  readingLines: boolean,
  state: number,
  now: number,
): ExpiredDeadline | number {
  const { idleTimeoutMs, transferTimeoutMs, firstByteTimeoutMs, commandTimeoutMs } = config;
  const { awaitingFirstByteSince, lineStartedAt, commandStartedAt, lastActivity } = clocks;
  /** Milliseconds left before `since + limitMs`; none when the clock is not running. */
  const left = (running: boolean, since: number, limitMs: number): number =>
    running ? since + limitMs - now : Number.POSITIVE_INFINITY;
  // In order of precedence when several have expired.
  const limits = [
    {
      left: left(
        readingLines && awaitingFirstByteSince !== 0,
        awaitingFirstByteSince,
        firstByteTimeoutMs,
      ),
      reason: RejectReason.FirstByteTimeout,
      message: 'no byte within first_byte_timeout',
      detail: { firstByteTimeoutSec: firstByteTimeoutMs / 1000 },
    },
    {
      left: left(readingLines && lineStartedAt !== 0, lineStartedAt, commandTimeoutMs),
      reason: RejectReason.CommandTimeout,
      message: 'command line took longer than command_timeout',
      detail: { commandTimeoutSec: commandTimeoutMs / 1000, state },
    },
    {
      left: left(commandStartedAt !== 0, commandStartedAt, transferTimeoutMs),
      reason: RejectReason.TransferDeadline,
      message: 'command took longer than transfer_timeout',
      detail: { transferTimeoutSec: transferTimeoutMs / 1000 },
    },
    {
      left: left(true, lastActivity, idleTimeoutMs),
      reason: RejectReason.Timeout,
      message: 'connection timed out',
      detail: { idleTimeoutSec: idleTimeoutMs / 1000, state },
    },
  ];
  const expired = limits.find((l) => l.left <= 0);
  return expired ?? Math.min(...limits.map((l) => l.left));
}
