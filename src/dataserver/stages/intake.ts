import type { SpoolEntry } from '../spool/spool-dir.js';

/** A data file an intake hands to the handler. */
export interface IntakeFile extends SpoolEntry {
  /** Already claimed by a previous run of this server: handled without claiming again. */
  readonly recovered: boolean;
  /**
   * The file was in flight at this many abnormal deaths (the intake counted them): the pipeline
   * sets it aside as a poison file instead of handling it.
   */
  readonly deaths?: number;
}

/**
 * Where a handed-out file's bytes live until it is finished. The spool keeps them in its claim
 * folder; a queue source (a BullMQ job carrying name + bytes) would claim by taking the job,
 * read the job's bytes, remove by acknowledging it and reject by storing it under the suffix.
 */
export interface FileStore {
  /** true = the file is ours now; false = it is gone (another process took it). */
  claim(name: string): Promise<boolean>;
  /**
   * The bytes of a claimed file, or its size when that exceeds `maxBytes` (not read).
   * `admit(size)` runs once the size is known and before any byte is read (the byte budget).
   */
  readClaimed(
    name: string,
    maxBytes: number,
    admit?: (size: number) => Promise<void>,
  ): Promise<Buffer | { tooLarge: number }>;
  /** Committed: the file leaves the store (`size` lets the spool keep it as a spare). */
  remove(name: string, size?: number): Promise<void>;
  /** Refused: kept for an operator as `<name><suffix>` (where: `keptAs`). */
  reject(name: string, suffix: string): Promise<void>;
  /**
   * Where `reject(name, suffix)` keeps the file, as the words after "set aside" in an event or
   * log line: `as '<name><suffix>'` in the spool folder, the quarantine list in queue mode.
   */
  keptAs(name: string, suffix: string): string;
}

/**
 * A source of data files: today the spool folder, next a queue. Every intake keeps these
 * ordering rules; the pipeline relies on them and on nothing else:
 *
 * 1. Per agent key, files come out oldest first (newest first with LIFO), and a newer file of an
 *    agent is never handed out while an older one of the same agent is still unseen at the
 *    source (compaction would drop the older one's history rows).
 * 2. At most one file per agent key is out: `next()` skips a key until `done()` for its file.
 * 3. Recovered files (claimed by a previous run) come before anything else of their agent.
 * 4. `ready` is called whenever `next()` may have something new; the pipeline then pulls.
 */
export interface WaitingFiles {
  readonly files: number;
  readonly oldestMtimeMs: number | undefined;
}

export interface Intake {
  readonly store: FileStore;
  /** Takes the recovered files first (rule 3), then starts listening and lists the source. */
  start(recovered: readonly IntakeFile[]): Promise<void>;
  /** The next file whose agent has nothing out, or undefined. */
  next(): IntakeFile | undefined;
  /** The file is finished (committed, refused, or lost to another claimer). */
  done(file: IntakeFile): void;
  /** Something arrived (a name when known): look at the source soon. */
  wake(name?: string): void;
  /** Resolves after a fresh look at the source (drain confirms idleness with it). */
  refresh(): Promise<void>;
  /** Files known to the intake, handed out or not. */
  readonly size: number;
  /** Files wait at the source beyond what the intake holds (a cap turned them away). */
  readonly leftAtSource: boolean;
  /** Agent keys with more than `limit` files known (the backlog event). */
  backlog(limit: number): { key: string; count: number }[];
  /**
   * Spool intake: every file not yet finished, queued or left on disk by the cap, and the
   * oldest not yet handed out (its mtime). Read when scraped.
   */
  waiting?(): WaitingFiles;
  /** Figures of the source for `/status` (the shared queue's waiting and active jobs…). */
  figures?(): Readonly<Record<string, number>>;
  /** Bookkeeping for a stall report. */
  report(): Record<string, number | boolean>;
  /**
   * `POST /drain` of a shared source (the queue): take no new work, give back what is held and
   * not handed (other servers take it), and resolve once every handed file's outcome has
   * reached the source. Without it (the spool) draining means emptying the source.
   */
  stopTaking?(): Promise<void>;
  /**
   * Stops listening; resolves once a running look at the source has ended and every handed
   * file's outcome has reached the source (the pipeline finishes them meanwhile).
   */
  close(): Promise<void>;
}
