import { constants as fsConstants } from 'node:fs';
import { closeFd, fstatFd, openFd, readFd } from '../../core/index.js';

/**
 * The files RECV, ZRECV and MV serve: opened once, read by position, closed quietly. The calls
 * are core's descriptor wrappers (fd-calls.ts); what is here is how a download uses them.
 */

/** Opens `path` for reading if it is a regular file (symlinks followed, as the reference). */
export async function openRegularFile(
  path: Buffer,
): Promise<{ fd: number; size: number } | undefined> {
  let fd: number;
  try {
    fd = await openFd(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  const stats = await fstatFd(fd).catch(() => undefined);
  if (stats?.isFile() !== true) {
    await closeFd(fd).catch(() => undefined);
    return undefined;
  }
  return { fd, size: stats.size };
}

/** Up to `length` bytes at `position` (fewer at the end of the file). */
export async function readAt(fd: number, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  const n = await readFd(fd, buf, 0, length, position);
  return n === length ? buf : buf.subarray(0, n);
}

/** Closes a served file; a failed close of a read-only descriptor needs nothing done. */
export function closeServedFile(fd: number): void {
  closeFd(fd).catch(() => undefined);
}
