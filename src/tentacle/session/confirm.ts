import { performance } from 'node:perf_hooks';
import type { SessionCore } from './core.js';
import { readAt } from './read-file.js';
import { SessionState } from './state.js';

/**
 * The download handshake (RECV, ZRECV, MV, LS): after `<X> SIZE n` the peer must answer
 * exactly `<X> OK` before the bytes go out, written as fast as the peer reads them.
 */

const READ_CHUNK_BYTES = 64 * 1024;

export interface PendingConfirm {
  readonly expect: Buffer;
  readonly send: () => Promise<void>;
  readonly cancel: () => void;
}

export function awaitConfirm(session: SessionCore, pending: PendingConfirm): void {
  session.confirm = pending;
  session.state = SessionState.Confirm;
}

export function confirmed(session: SessionCore, line: Buffer): void {
  const pending = session.confirm;
  session.confirm = undefined;
  if (!pending) return;
  if (!line.equals(pending.expect)) {
    // Anything but the exact confirmation: nothing is sent; the line is consumed (spec §3.3).
    pending.cancel();
    session.commandDone();
    return;
  }
  session.work(async () => {
    await pending.send();
    session.commandDone();
  });
}

/** Writes data to the peer, waiting while the socket's buffer is full. */
export async function writeToPeer(session: SessionCore, data: Buffer): Promise<void> {
  if (data.length === 0) return;
  const socket = session.socket;
  if (socket.destroyed) throw new Error('connection closed while sending');
  session.lastActivity = performance.now();
  if (socket.write(data)) return;
  // A peer that does not read is idle: the idle clock runs against it meanwhile.
  session.awaitingPeer = true;
  try {
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        socket.off('drain', done);
        socket.off('close', done);
        if (socket.destroyed) reject(new Error('connection closed while sending'));
        else resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  } finally {
    session.awaitingPeer = false;
  }
}

/** Sends a file's first `size` bytes in chunks, each once the peer has taken the last. */
export async function sendFile(session: SessionCore, fd: number, size: number): Promise<void> {
  let sent = 0;
  while (sent < size) {
    const chunk = await readAt(fd, Math.min(READ_CHUNK_BYTES, size - sent), sent);
    if (chunk.length === 0) throw new Error('file shrank while it was being sent');
    sent += chunk.length;
    await writeToPeer(session, chunk);
  }
}
