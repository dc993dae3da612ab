import { performance } from 'node:perf_hooks';
import { Counter, Histogram, type Registry } from 'prom-client';
import { describeError, type Logger } from '../../core/index.js';
import { agentKeyOf } from '../../pandora/index.js';
import { collectedGauge } from './health.js';
import { reportJobsWaiting } from '../../queue/index.js';
import type { FileStore, Intake, IntakeFile } from './intake.js';
import type { ArrivedJob, JobOutcome, QueueFigures, QueueSource } from './queue-source.js';

/** How often the cluster-wide queue figures are read from Redis. */
const FIGURES_EVERY_MS = 1000;

export interface QueueIntakeConfig {
  /**
   * Handings a job may have had without finishing (its holders died) before it is quarantined
   * instead of handled again (`dataserver_poison_deaths`; 0 = never).
   */
  readonly poisonStarts: number;
}

export interface QueueIntakeDeps {
  readonly source: QueueSource;
  readonly log: Logger;
  readonly registry: Registry;
  /** `next()` may have something new. */
  readonly ready: () => void;
}

/** A job of the shared queue held by this process, from its arrival to its outcome. */
interface HeldJob {
  readonly job: ArrivedJob;
  readonly file: IntakeFile;
  readonly heldAt: number;
  /** Out to the pipeline (handed by `next()`, `done()` not yet called). */
  handed: boolean;
  /** A start was recorded in Redis for the current handing. */
  counted: boolean;
  /** The outcome reached BullMQ's processor (it completes or releases the job now). */
  outcome?: JobOutcome;
  readonly settle: (outcome: JobOutcome) => void;
}

/**
 * The shared Redis queue as an intake (scaleout.md §2). A BullMQ processor is push-based: a
 * partition's worker holds one job and waits; the pipeline pulls. So each arriving job is
 * registered here and its processor waits until the pipeline has finished the file:
 *
 * - claim = the job is held (the processor is waiting); read = the job's bytes;
 * - remove (after COMMIT) and reject (`_BADXML`/`_FAILED`: a ledger row and event were written;
 *   the packet is kept in the quarantine list, topology.ts quarantineKey) both complete the job;
 * - a file finished without either (abandoned at shutdown) goes back to the head of its queue.
 *
 * Ordering needs nothing more: a partition holds at most one job cluster-wide, so at most one
 * file per agent key is ever here (intake rules 1 and 2). A job whose earlier handings never
 * finished (a worker died with it in flight) is a suspect: it is handed alone, once nothing else
 * is out, so a second death names it; at `poisonStarts` such handings it is quarantined (handed
 * with `deaths` set, which the pipeline sets aside with an event) instead of handled again.
 */
export function createQueueIntake(config: QueueIntakeConfig, deps: QueueIntakeDeps): Intake {
  return new QueueIntake(config, deps);
}

const isPoison = (h: HeldJob): boolean => h.file.deaths !== undefined;
const isSuspect = (h: HeldJob): boolean => h.job.starts > 0 && !isPoison(h);

class QueueIntake implements Intake {
  readonly store: FileStore;
  readonly leftAtSource = false;
  readonly #config: QueueIntakeConfig;
  readonly #deps: QueueIntakeDeps;
  readonly #byName = new Map<string, HeldJob>();
  /** Held and not handed, in arrival order. */
  readonly #waiting: HeldJob[] = [];
  #handedCount = 0;
  #suspectOut = false;
  #closing = false;
  #stopped: Promise<void> | undefined;
  #figures: QueueFigures = { waiting: 0, active: 0, oldestWaitingAgeSec: 0 };
  #figuresTimer: NodeJS.Timeout | undefined;
  readonly #metrics: ReturnType<typeof createQueueMetrics>;

  constructor(config: QueueIntakeConfig, deps: QueueIntakeDeps) {
    this.#config = config;
    this.#deps = deps;
    this.#metrics = createQueueMetrics(deps.registry, () => ({
      ...this.#figures,
      held: this.#byName.size,
    }));
    this.store = this.#createStore();
  }

  get size(): number {
    return this.#byName.size;
  }

  async start(recovered: readonly IntakeFile[]): Promise<void> {
    const { source, log } = this.#deps;
    if (recovered.length > 0)
      log.warn({ files: recovered.length }, 'recovered spool files are not read in queue mode');
    await source.start((job) => this.#onJob(job));
    await this.#readFigures();
    this.#figuresTimer = setInterval(() => void this.#readFigures(), FIGURES_EVERY_MS);
    this.#figuresTimer.unref();
  }

  next(): IntakeFile | undefined {
    if (this.#closing) return undefined;
    const held = this.#pick();
    return held && this.#hand(held);
  }

  done(file: IntakeFile): void {
    const held = this.#byName.get(file.name);
    if (!held?.handed) return;
    held.handed = false;
    this.#handedCount--;
    if (isSuspect(held)) this.#suspectOut = false;
    if (held.outcome) {
      this.#byName.delete(file.name);
      this.#deps.ready();
      return;
    }
    // Finished without commit or refusal (abandoned: shutdown with the database away). No
    // death: the start is taken back, and the job goes back to the queue's head (closing) or
    // to the head of ours.
    if (held.counted) this.#deps.source.uncountStart(held.job);
    held.counted = false;
    if (this.#closing) {
      this.#byName.delete(file.name);
      this.#finish(held, 'release');
    } else {
      this.#waiting.unshift(held);
    }
    this.#deps.ready();
  }

  wake(): void {
    // Jobs arrive by themselves (the partition workers push them).
  }

  refresh(): Promise<void> {
    return Promise.resolve();
  }

  backlog(): { key: string; count: number }[] {
    return [];
  }

  report(): Record<string, number | boolean> {
    return {
      heldJobs: this.#byName.size,
      heldNotHanded: this.#waiting.length,
      handed: this.#handedCount,
      suspectOut: this.#suspectOut,
      clusterWaiting: this.#figures.waiting,
      clusterActive: this.#figures.active,
    };
  }

  figures(): Readonly<Record<string, number>> {
    const f = this.#figures;
    return {
      waiting: f.waiting,
      active: f.active,
      oldest_waiting_age_seconds: Math.round(f.oldestWaitingAgeSec * 1000) / 1000,
      held: this.#byName.size,
    };
  }

  async close(): Promise<void> {
    if (this.#figuresTimer) clearInterval(this.#figuresTimer);
    this.#metrics.stopReportingWaiting();
    await this.stopTaking();
  }

  /**
   * Drain and shutdown: held and not handed jobs go back to the head of their queues at once
   * (their partitions are free for other servers); handed ones finish (or are abandoned) in the
   * pipeline; the workers close once their outcomes are in, so this server holds no partition.
   */
  stopTaking(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#closing = true;
      const released = this.#waiting.length;
      for (const held of this.#waiting.splice(0)) {
        this.#byName.delete(held.file.name);
        this.#finish(held, 'release');
      }
      this.#deps.log.info(
        { event: 'queue_stop_taking', released, handed: this.#handedCount },
        'queue: taking no new jobs; held ones released, handed ones finishing',
      );
      await this.#deps.source.close();
    })();
    return this.#stopped;
  }

  #onJob(job: ArrivedJob): Promise<JobOutcome> {
    const { log } = this.#deps;
    return new Promise<JobOutcome>((settle) => {
      if (this.#closing || this.#byName.has(job.name)) {
        // Closing: it goes back untouched. A second job of a held name cannot arrive (one job
        // per partition); should it, it waits behind the first rather than run beside it.
        if (!this.#closing)
          log.error({ file: job.name }, 'a job of a held file name arrived; released');
        settle('release');
        return;
      }
      const poisonStarts = this.#config.poisonStarts;
      const poison = poisonStarts > 0 && job.starts >= poisonStarts;
      const held: HeldJob = {
        job,
        file: {
          name: job.name,
          key: agentKeyOf(job.name) ?? job.name,
          mtimeMs: job.storedAt,
          recovered: false,
          ...(poison ? { deaths: job.starts } : {}),
        },
        heldAt: performance.now(),
        handed: false,
        counted: false,
        settle,
      };
      if (job.starts > 0)
        log.warn(
          { file: job.name, starts: job.starts, partition: job.partition },
          poison
            ? 'queued packet held at too many deaths: quarantined'
            : 'queued packet held at a death: handled alone',
        );
      this.#byName.set(job.name, held);
      this.#waiting.push(held);
      this.#deps.ready();
    });
  }

  #finish(held: HeldJob, outcome: JobOutcome): void {
    if (held.outcome) return;
    held.outcome = outcome;
    this.#metrics.hold.observe((performance.now() - held.heldAt) / 1000);
    if (outcome === 'complete') this.#metrics.applied.inc();
    held.settle(outcome);
  }

  #completeByName(name: string): Promise<void> {
    const held = this.#byName.get(name);
    if (held) this.#finish(held, 'complete');
    return Promise.resolve();
  }

  /** claim = the job is held; read = its bytes; remove and reject both complete it. */
  #createStore(): FileStore {
    const byName = this.#byName;
    const { log, source } = this.#deps;
    const keptIn = `in the Redis list '${source.quarantineKey}'`;
    return {
      claim: (name) => Promise.resolve(byName.has(name)),
      readClaimed(name, maxBytes, admit) {
        const held = byName.get(name);
        if (!held) return Promise.reject(new Error(`queued packet ${name} is not held`));
        const { bytes } = held.job;
        if (bytes.length > maxBytes) return Promise.resolve({ tooLarge: bytes.length });
        return (admit ? admit(bytes.length) : Promise.resolve()).then(() => bytes);
      },
      remove: (name) => this.#completeByName(name),
      reject: async (name, suffix) => {
        const held = byName.get(name);
        if (held) await source.quarantine(held.job, suffix);
        log.warn(
          { file: name, suffix, partition: held?.job.partition, via: held?.job.via },
          `queued packet refused (ledgered with its event); set aside ${keptIn}, the job completes`,
        );
        await this.#completeByName(name);
      },
      keptAs: () => keptIn,
    };
  }

  /** The next held job to hand, keeping suspects alone. */
  #pick(): HeldJob | undefined {
    if (this.#suspectOut) return undefined;
    const waiting = this.#waiting;
    for (let i = 0; i < waiting.length; i++) {
      const held = waiting[i];
      if (!held) continue;
      if (isSuspect(held) && this.#handedCount > 0) return undefined; // the rest wait with it
      waiting.splice(i, 1);
      return held;
    }
    return undefined;
  }

  #hand(held: HeldJob): IntakeFile {
    held.handed = true;
    this.#handedCount++;
    if (isSuspect(held)) this.#suspectOut = true;
    if (!isPoison(held)) {
      // Recorded before the packet is parsed: a death from here on counts against it.
      this.#deps.source.countStart(held.job);
      held.counted = true;
    }
    return held.file;
  }

  async #readFigures(): Promise<void> {
    try {
      this.#figures = await this.#deps.source.figures();
    } catch (err) {
      this.#deps.log.debug({ err: describeError(err) }, 'queue figures unavailable');
    }
  }
}

function createQueueMetrics(registry: Registry, read: () => QueueFigures & { held: number }) {
  // Shared with a listener in the same process (one name for one meaning).
  const stopReportingWaiting = reportJobsWaiting(registry, () => read().waiting);
  collectedGauge(
    registry,
    'pandora_queue_jobs_active',
    'Packets being applied, summed over partitions (cluster-wide; at most one per partition)',
    () => read().active,
  );
  collectedGauge(
    registry,
    'pandora_queue_oldest_waiting_age_seconds',
    'Age of the oldest packet waiting at the head of a partition (0 when none waits)',
    () => read().oldestWaitingAgeSec,
  );
  collectedGauge(
    registry,
    'pandora_queue_jobs_held',
    'Jobs this server holds (one per partition at most), handed to the pipeline or not',
    () => read().held,
  );
  return {
    stopReportingWaiting,
    applied: new Counter({
      name: 'pandora_queue_jobs_applied_total',
      help: 'Queued packets finished by this server (committed, duplicate or refused with an event)',
      registers: [registry],
    }),
    hold: new Histogram({
      name: 'pandora_queue_job_hold_seconds',
      help: 'Time a job is held by this server, from its arrival to its completion or release',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}
