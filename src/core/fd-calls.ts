import fs from 'node:fs';

/**
 * Promise forms of the callback `fs` calls the spool paths use, in one place. They take raw
 * descriptors and Buffer paths (file names are bytes on the wire) and create no FileHandle
 * objects, which the per-upload hot path would otherwise allocate and have to close twice.
 */

type Done = (err: NodeJS.ErrnoException | null) => void;

function call(fn: (done: Done) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    fn((err) => {
      if (err) reject(err);
      else resolve();
    });
  });
}

export function openFd(
  path: Buffer | string,
  flags: number | string,
  mode?: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.open(path, flags, mode, (err, fd) => {
      if (err) reject(err);
      else resolve(fd);
    });
  });
}

export function fstatFd(fd: number): Promise<fs.Stats> {
  return new Promise((resolve, reject) => {
    fs.fstat(fd, (err, stats) => {
      if (err) reject(err);
      else resolve(stats);
    });
  });
}

/** One read into `into` at `offset` from file `position`: resolves with the bytes read. */
export function readFd(
  fd: number,
  into: Buffer,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, into, offset, length, position, (err, bytesRead) => {
      if (err) reject(err);
      else resolve(bytesRead);
    });
  });
}

/** Writes all of `data`; `progress.written` says how far it got when it fails. */
export function writeAllFd(fd: number, data: Buffer, progress = { written: 0 }): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (off: number): void => {
      progress.written = off;
      fs.write(fd, data, off, data.length - off, null, (err, written) => {
        if (err) reject(err);
        else if (off + written < data.length) step(off + written);
        else resolve();
      });
    };
    step(0);
  });
}

export const fsyncFd = (fd: number): Promise<void> =>
  call((done) => {
    fs.fsync(fd, done);
  });
export const ftruncateFd = (fd: number, length: number): Promise<void> =>
  call((done) => {
    fs.ftruncate(fd, length, done);
  });
export const fchmodFd = (fd: number, mode: number): Promise<void> =>
  call((done) => {
    fs.fchmod(fd, mode, done);
  });
export const closeFd = (fd: number): Promise<void> =>
  call((done) => {
    fs.close(fd, done);
  });
export const linkPath = (from: Buffer | string, to: Buffer | string): Promise<void> =>
  call((done) => {
    fs.link(from, to, done);
  });
export const renamePath = (from: Buffer | string, to: Buffer | string): Promise<void> =>
  call((done) => {
    fs.rename(from, to, done);
  });
export const unlinkPath = (path: Buffer | string): Promise<void> =>
  call((done) => {
    fs.unlink(path, done);
  });

/** fsync of a file or folder by path: its own descriptor, closed whatever happens. */
export async function fsyncPath(
  path: Buffer | string,
  flags = fs.constants.O_RDONLY,
): Promise<void> {
  const fd = await openFd(path, flags);
  try {
    await fsyncFd(fd);
  } finally {
    await closeFd(fd);
  }
}
