import { describeError, type Logger } from '../../core/index.js';
import type { DbPool } from '../../db/index.js';
import { setAsidePoisonFile, type PoisonGuard } from '../poison-guard.js';
import { FAILED_SUFFIX, type SpoolEntry } from '../spool/spool-dir.js';
import type { BatchWriter } from '../writer/batch-writer.js';
import type { FileHandler } from './file-handler.js';
import type { DataserverHealth } from './health.js';
import type { FileStore, Intake, IntakeFile } from './intake.js';

export interface PipelineDeps {
  readonly intake: Intake;
  readonly handler: FileHandler;
  readonly guard: PoisonGuard;
  readonly health: DataserverHealth;
  readonly log: Logger;
  /** Files in flight at most (enough for the running batches and the next one). */
  readonly maxInFlight: number;
  /** What setting a poison file aside needs (it reads the file and may write its ledger row). */
  readonly store: FileStore;
  readonly pool: DbPool;
  readonly maxXmlSize: number;
  readonly nowSec: () => number;
}

/**
 * Pulls files from the intake into the file handler while the writer takes work. Pulling rules:
 *
 * - in flight at most `maxInFlight`, the bound on packets held on the main thread;
 * - nothing is pulled while the writer is unavailable (database away) or after `stopPulling()`;
 * - after an abnormal death (the poison guard is isolating), one file at a time, so the next
 *   death names its culprit;
 * - a file's intake `done()` comes after the handler has removed or rejected it, so the
 *   agent's next file cannot be claimed before the previous one is finished.
 */
export class Pipeline {
  readonly #deps: PipelineDeps;
  #writer: BatchWriter | undefined;
  #inFlight = 0;
  #closing = false;
  #idleWaiters: (() => void)[] = [];

  constructor(deps: PipelineDeps) {
    this.#deps = deps;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get writer(): BatchWriter | undefined {
    return this.#writer;
  }

  /** The writer is up: files may be pulled (the intake's `ready` calls `pump`). */
  begin(writer: BatchWriter): void {
    this.#writer = writer;
  }

  pump(): void {
    const w = this.#writer;
    if (!w) return;
    const { guard, intake, maxInFlight } = this.#deps;
    while (!this.#closing && w.available && this.#inFlight < maxInFlight) {
      if (guard.isolating && this.#inFlight > 0) break; // suspects of a death: one file at a time
      const file = intake.next();
      if (!file) break;
      const { deaths } = file;
      // A file the intake counted in flight at too many deaths (a queue's stalled job).
      if (deaths === undefined) this.#handleOne(file, w);
      else
        void this.setAside({ entry: file, deaths }, w, () => {
          intake.done(file);
        });
    }
  }

  /** A poison file (in flight at too many deaths) leaves its store; counted as in flight. */
  async setAside(
    file: { entry: SpoolEntry; deaths: number },
    w: BatchWriter,
    intakeDone?: () => void,
  ): Promise<void> {
    const { log, health } = this.#deps;
    const { name } = file.entry;
    this.#inFlight++;
    try {
      const { store, pool, maxXmlSize } = this.#deps;
      const nowSec = this.#deps.nowSec();
      const result = await setAsidePoisonFile(file, { store, writer: w, pool, maxXmlSize, nowSec });
      if (result === 'failed') {
        log.error(
          { file: name, deaths: file.deaths },
          `file in flight at ${String(file.deaths)} abnormal deaths; set aside ${this.#deps.store.keptAs(name, FAILED_SUFFIX)}`,
        );
        health.results.labels('poison').inc();
      } else if (result === 'already_committed') {
        log.info({ file: name }, 'file already committed (ledger); removed');
        health.results.labels('duplicate').inc();
      }
    } catch (err) {
      log.error({ err: describeError(err), file: name }, 'setting a poison file aside failed');
      health.results.labels('error').inc();
    } finally {
      this.#inFlight--;
      intakeDone?.();
      this.#finished();
    }
  }

  /** Resolves once the intake holds no file and nothing is in flight (or on close). */
  drain(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#idleWaiters.push(resolve);
      void this.#deps.intake.refresh().then(() => {
        this.#checkIdle();
      });
    });
  }

  stopPulling(): void {
    this.#closing = true;
  }

  /** Finishes what is in flight within the shutdown grace; the rest stays claimed. */
  async finishInFlight(shutdownGraceMs: number): Promise<void> {
    // In-flight files finish (their batches commit and the files are removed) unless the
    // database is away or the grace runs out: then the writer gives up and the files stay
    // claimed for next start.
    const graceEnds = Date.now() + shutdownGraceMs;
    const pause = () => new Promise((r) => setTimeout(r, 20));
    const writerUp = () => this.#writer?.available ?? false;
    while (this.#inFlight > 0 && writerUp() && Date.now() < graceEnds) await pause();
    await this.#writer?.close(Math.max(0, graceEnds - Date.now()));
    while (this.#inFlight > 0) await pause();
  }

  /** Closing: whoever waits in `drain()` is let go. */
  releaseDrainWaiters(): void {
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  #handleOne(file: IntakeFile, w: BatchWriter): void {
    const { guard, handler, intake, log, health } = this.#deps;
    this.#inFlight++;
    guard.handing(file.name);
    void handler
      .handle(file, w)
      .catch((err: unknown) => {
        log.error({ err: describeError(err), file: file.name }, 'file handling failed');
        health.results.labels('error').inc();
      })
      .finally(() => {
        this.#inFlight--;
        guard.finished(file.name);
        intake.done(file);
        this.#finished();
      });
  }

  /** A file or a poison file finished: restart the stall clock, pull more, maybe report idle. */
  #finished(): void {
    this.#deps.health.progress();
    this.pump();
    this.#checkIdle();
  }

  #checkIdle(): void {
    const { intake } = this.#deps;
    if (this.#inFlight > 0 || intake.size > 0 || this.#idleWaiters.length === 0) return;
    // Something may have arrived meanwhile: confirm with a fresh look before declaring idle.
    void intake.refresh().then(() => {
      if (this.#inFlight > 0 || intake.size > 0) return;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    });
  }
}
