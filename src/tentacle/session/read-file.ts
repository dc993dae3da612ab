import fs, { constants as fsConstants } from 'node:fs';

/** The files RECV, ZRECV and MV serve: opened once, read by position, closed quietly. */

/** Opens `path` for reading if it is a regular file (symlinks followed, as the reference). */
export function openRegularFile(path: Buffer): Promise<{ fd: number; size: number } | undefined> {
  return new Promise((resolve) => {
    fs.open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK, (err, fd) => {
      if (err) {
        resolve(undefined);
        return;
      }
      fs.fstat(fd, (statErr, st) => {
        if (statErr || !st.isFile()) {
          fs.close(fd, () => {
            resolve(undefined);
          });
          return;
        }
        resolve({ fd, size: st.size });
      });
    });
  });
}

export function readAt(fd: number, length: number, position: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const buf = Buffer.allocUnsafe(length);
    fs.read(fd, buf, 0, length, position, (err, n) => {
      if (err) reject(err);
      else resolve(n === length ? buf : buf.subarray(0, n));
    });
  });
}

export function closeFd(fd: number): void {
  fs.close(fd, () => {
    // nothing to do on a failed close of a read-only descriptor
  });
}
