import { createHash } from 'node:crypto';
import type { RowDataPacket } from 'mysql2/promise';
import { describeError } from '../core/index.js';
import type { Logger } from '../core/index.js';
import { LEDGER_TABLE, type DbPool } from '../db/index.js';
import { poisonFileEvent } from './logic/index.js';
import { fileIdentity } from './spool/file-identity.js';
import { InFlightJournal } from './spool/in-flight-journal.js';
import { FAILED_SUFFIX, type SpoolEntry } from './spool/spool-dir.js';
import type { FileStore } from './stages/intake.js';
import type { BatchWriter } from './writer/batch-writer.js';

/** What became of a file the guard set aside. */
export type SetAsideResult = 'failed' | 'already_committed' | 'abandoned';

/**
 * The poison-file guard: a file that was in flight when the process died abnormally `limit`
 * times is set aside as `<name>_FAILED` with an error event at the next start, and the pipeline
 * goes on (a file that kills the process, say by exhausting the heap, used to be re-queued first
 * at every start and kill every restart). The record is an InFlightJournal beside the claim folder.
 *
 * Suspects, the files left claimed by a death, are handled one at a time before anything else
 * runs beside them, so the next death is blamed on the one file in flight, not on the batch of
 * innocent files that happened to share it.
 */
export class PoisonGuard {
  readonly #limit: number;
  readonly #journal: InFlightJournal;
  readonly #log: Logger;
  /** Files left claimed by a death, not yet finished in this run. */
  readonly #suspects = new Set<string>();
  /** Recovered at start, not yet handed to processing (journalled as `begun` when they are). */
  readonly #waiting = new Set<string>();
  #journalOk = true;

  constructor(options: { journalPath: string; limit: number; logger: Logger }) {
    this.#limit = options.limit;
    this.#journal = new InFlightJournal(options.journalPath);
    this.#log = options.logger;
  }

  get enabled(): boolean {
    return this.#limit > 0;
  }

  /** While suspects remain, files are handed to processing one at a time. */
  get isolating(): boolean {
    return this.#suspects.size > 0;
  }

  /**
   * At start, before anything is processed: splits the files the previous run left claimed into
   * those to re-queue and the poison ones (in flight at `limit` abnormal deaths), and records
   * this run. A journal that cannot be read or written (a full disk) turns the guard off for the
   * run, loudly; it never stops intake.
   */
  async recover(
    claimed: readonly SpoolEntry[],
  ): Promise<{ requeue: SpoolEntry[]; poison: { entry: SpoolEntry; deaths: number }[] }> {
    if (!this.enabled) return { requeue: [...claimed], poison: [] };
    let deaths = new Map<string, number>();
    try {
      deaths = await this.#journal.deathsOf(claimed.map((e) => e.name));
    } catch (err) {
      this.#journalFailed(err);
    }
    const requeue: SpoolEntry[] = [];
    const poison: { entry: SpoolEntry; deaths: number }[] = [];
    for (const entry of claimed) {
      const n = deaths.get(entry.name) ?? 0;
      if (n >= this.#limit) poison.push({ entry, deaths: n });
      else requeue.push(entry);
      if (n > 0 && n < this.#limit) this.#suspects.add(entry.name);
    }
    for (const e of requeue) this.#waiting.add(e.name);
    if (this.#journalOk) {
      try {
        // Poison files stay in the record until set aside: a death meanwhile counts them again.
        await this.#journal.startRun(deaths, [...this.#waiting]);
      } catch (err) {
        this.#journalFailed(err);
      }
    }
    if (this.#suspects.size > 0)
      this.#log.warn(
        { files: [...this.#suspects] },
        'files in flight at an abnormal death: handled one at a time',
      );
    return { requeue, poison };
  }

  /** A file is handed to processing. */
  handing(name: string): void {
    if (!this.#waiting.delete(name) || !this.#journalOk) return;
    try {
      this.#journal.begun(name);
    } catch (err) {
      this.#journalFailed(err);
    }
  }

  /** A file is finished (or left claimed for the next start). */
  finished(name: string): void {
    this.#suspects.delete(name);
  }

  /** Shutting down cleanly, nothing in flight any more: no death to count at the next start. */
  async markClean(): Promise<void> {
    if (!this.enabled || !this.#journalOk) return;
    try {
      await this.#journal.markClean();
    } catch (err) {
      this.#journalFailed(err);
    }
  }

  #journalFailed(err: unknown): void {
    if (!this.#journalOk) return;
    this.#journalOk = false;
    this.#log.error(
      { err: describeError(err), journal: this.#journal.path },
      'in-flight journal unusable: the poison-file guard is off until the next start',
    );
  }
}

/**
 * Sets a poison file aside: `<name>_FAILED` in the spool, the quarantine list in queue mode
 * (FileStore.keptAs), and a critical `error` event naming why and where, exactly once. A file whose packet is already in the ledger (committed, then the process
 * died before the unlink) is only removed. The event is ledgered under an identity of its own,
 * derived from the packet's, so a crash between its COMMIT and the rename does not repeat it and
 * the packet itself, resent later, is still a new packet.
 */
export async function setAsidePoisonFile(
  file: { entry: SpoolEntry; deaths: number },
  deps: {
    store: FileStore;
    writer: BatchWriter;
    pool: DbPool;
    maxXmlSize: number;
    nowSec: number;
  },
): Promise<SetAsideResult> {
  const { entry, deaths } = file;
  const read = await deps.store.readClaimed(entry.name, deps.maxXmlSize);
  const packetId = fileIdentity(entry.name, read, entry.mtimeMs);
  const [rows] = await deps.pool.query<RowDataPacket[]>(
    `SELECT 1 FROM ${LEDGER_TABLE} WHERE file_sha256 = ?`,
    [packetId],
  );
  if (rows.length > 0) {
    await deps.store.remove(entry.name);
    return 'already_committed';
  }
  const keptAs = deps.store.keptAs(entry.name, FAILED_SUFFIX);
  const r = await deps.writer.submit({
    kind: 'event',
    event: poisonFileEvent(entry.name, deaths, keptAs, deps.nowSec),
    file: { fileName: entry.name, sha256: poisonIdentity(packetId) },
  });
  if (r.status === 'abandoned') return 'abandoned';
  // 'failed' too: the file must not come back at the next start either way.
  await deps.store.reject(entry.name, FAILED_SUFFIX);
  return 'failed';
}

function poisonIdentity(packetId: Buffer): Buffer {
  return createHash('sha256').update('poison-file\0').update(packetId).digest();
}
