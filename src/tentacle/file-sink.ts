/**
 * Somewhere else than the storage folder for completed uploads (scale-out mode hands them to a
 * queue). The spool writer asks `wants` at commit; a wanted file is given to `deliver` whole,
 * before the session's final reply, and never gets a name in the folder. A rejection from
 * `deliver` becomes `SEND ERR` with nothing left behind; files not wanted are stored as usual.
 *
 * Bodies up to MEMORY_BUFFER_BYTES (nearly every agent packet) are handed over from memory and
 * never touch the disk: no temp file, no fsync, and nothing in the incoming folder for a spool
 * reader to race on. Larger ones still stream to a temp file as they arrive (the disk throttles
 * the peer, as today) and are read back only when the sink asks: the sink bounds how many bytes
 * it holds and may refuse by size before anything is read into memory (scale-out:
 * queue/enqueue-memory.ts). `fileStored` is still emitted for a delivered file (counts, logs),
 * but its path names no file.
 */
export interface FileSink {
  /** Whether this file (destination folder and name, as bytes) goes to the sink. */
  wants(dir: Buffer, name: Buffer): boolean;
  /**
   * Takes the whole file of `size` bytes, which `read` returns (from memory, or read back from
   * the temp file); resolves once it is safely handed over (then `SEND OK`). A rejection, also
   * one before `read` is called, is `SEND ERR`.
   */
  deliver(name: Buffer, size: number, read: () => Promise<Buffer>): Promise<void>;
}
