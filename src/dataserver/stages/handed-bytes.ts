/**
 * Bytes of spool files the listener of this process wrote itself, handed over so the file
 * handler need not read them back from disk (issue 13). The file stays the durable copy: an
 * entry is only a shortcut, and whenever it is missing (restart, budget full, too old, another
 * process's upload) the handler reads the file as before.
 *
 * An entry is used only for the file it came from: same name and same mtime as the intake saw
 * (an upload that replaced the file under the same name has another mtime). Memory is bounded
 * by `limitBytes`; entries nobody takes (a name the intake ignores, a file another server
 * claimed) leave after `maxAgeMs`. An entry is charged what it pins: its own copy of the bytes
 * when they were a view into a larger buffer (a socket chunk or the small-buffer pool, which a
 * peer could otherwise make pin up to 64 KiB per one-byte file), plus ENTRY_OVERHEAD_BYTES so
 * a flood of tiny or empty files is bounded by count too.
 */
export const ENTRY_OVERHEAD_BYTES = 256;

export interface HandedFile {
  readonly bytes: Buffer;
  /** The file's mtime as fstat saw it after the last write (ms, like Stats.mtimeMs). */
  readonly mtimeMs: number;
}

interface Entry extends HandedFile {
  readonly at: number;
}

export class HandedBytes {
  readonly limitBytes: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  /** Insertion order = age order: the oldest are first. */
  readonly #entries = new Map<string, Entry>();
  #held = 0;

  constructor(limitBytes: number, maxAgeMs: number, now: () => number = () => performance.now()) {
    this.limitBytes = limitBytes;
    this.#maxAgeMs = maxAgeMs;
    this.#now = now;
  }

  /** Bytes held for files not yet taken, with each entry's overhead. */
  get held(): number {
    return this.#held;
  }

  get files(): number {
    return this.#entries.size;
  }

  /** Keeps `file` for `name` if the budget allows; false: the handler will read the disk. */
  offer(name: string, file: HandedFile): boolean {
    const now = this.#now();
    this.#expire(now);
    this.drop(name); // a newer upload under the same name replaces the older one
    const charge = file.bytes.length + ENTRY_OVERHEAD_BYTES;
    if (this.#held + charge > this.limitBytes) return false;
    this.#entries.set(name, { bytes: ownCopy(file.bytes), mtimeMs: file.mtimeMs, at: now });
    this.#held += charge;
    return true;
  }

  /**
   * The bytes of `name` when they belong to the file of this mtime; the entry leaves either
   * way unless it is a newer upload's (then that upload's turn takes it).
   */
  take(name: string, mtimeMs: number): Buffer | undefined {
    const entry = this.#entries.get(name);
    if (entry === undefined) return undefined;
    if (entry.mtimeMs !== mtimeMs) {
      if (entry.mtimeMs < mtimeMs) this.drop(name);
      return undefined;
    }
    this.drop(name);
    return entry.bytes;
  }

  drop(name: string): void {
    const entry = this.#entries.get(name);
    if (entry === undefined) return;
    this.#entries.delete(name);
    this.#held -= entry.bytes.length + ENTRY_OVERHEAD_BYTES;
  }

  #expire(now: number): void {
    for (const [name, entry] of this.#entries) {
      if (now - entry.at < this.#maxAgeMs) return;
      this.drop(name);
    }
  }
}

/** `bytes` alone in its memory: a view into a larger buffer is copied out (unpooled). */
function ownCopy(bytes: Buffer): Buffer {
  if (bytes.buffer.byteLength === bytes.length) return bytes;
  const copy = Buffer.allocUnsafeSlow(bytes.length);
  bytes.copy(copy);
  return copy;
}
