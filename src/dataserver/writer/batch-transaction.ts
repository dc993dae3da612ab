import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../../core/index.js';
import type { PacketOutcome } from '../types.js';
import { createAddressWriter } from './agent-sql.js';
import {
  alertModulesOf,
  alertsCommitted,
  alertsRolledBack,
  evaluateBatchAlerts,
} from './alert-step.js';
import {
  commit,
  findAgents,
  freshState,
  insertNewRows,
  ledgerRows,
  lockAgents,
  runLogic,
  writeThrough,
  type PacketJob,
} from './batch-steps.js';
import { createConnectionGuard } from './connection-guard.js';
import type { BatchWriterConfig, BatchWriterDeps, WriteJob } from './jobs.js';
import { ledgerStatements } from './ledger-sql.js';
import { outcomeStatements } from './outcome-sql.js';

export interface BatchTransaction {
  /** One transaction for the whole batch; the outcome of each job (undefined for events). */
  run(jobs: readonly WriteJob[]): Promise<(PacketOutcome | undefined)[]>;
  /**
   * Shutdown: drops the connection of every batch running now and refuses new batches; each
   * fails with BatchTimeoutError.
   */
  abortAll(): void;
}

function batchMetrics(registry: Registry) {
  return {
    batchDuration: new Histogram({
      name: 'pandora_dataserver_db_batch_duration_seconds',
      help: 'Time from BEGIN to COMMIT of one batch',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    batchFiles: new Histogram({
      name: 'pandora_dataserver_db_batch_files',
      help: 'Files per committed batch',
      buckets: [1, 5, 10, 25, 50, 100, 200, 500, 1000],
      registers: [registry],
    }),
    reloads: new Counter({
      name: 'pandora_dataserver_state_reloads_total',
      help: 'Agents whose cached state was (re)loaded from the database',
      registers: [registry],
    }),
    values: new Counter({
      name: 'pandora_dataserver_module_values_total',
      help: 'Module data processed',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
  };
}

/** A committed batch's values, warnings, size and duration, counted and logged. */
function recordBatch(
  metrics: ReturnType<typeof batchMetrics>,
  log: Logger,
  files: number,
  written: readonly PacketOutcome[],
  started: bigint,
  detail: { loaded: number; statements: number },
): void {
  let data = 0;
  let rejected = 0;
  let compacted = 0;
  for (const o of written) {
    data += o.stats.data;
    rejected += o.stats.rejected;
    compacted += o.stats.compacted;
    for (const w of o.warnings) log.warn({ warning: w }, 'packet warning');
  }
  metrics.values.labels('stored').inc(data - rejected - compacted);
  metrics.values.labels('compacted').inc(compacted);
  metrics.values.labels('rejected').inc(rejected);
  metrics.batchFiles.observe(files);
  if (log.isLevelEnabled('debug')) log.debug({ files, ...detail }, 'batch committed');
  metrics.batchDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
}

/**
 * One batch, one transaction, as the named steps of batch-steps.ts: find the agents, lock them
 * (id order, so servers cannot deadlock), check the cached state is still what the database
 * holds and reload it inside the lock if not, run the pure logic, insert the rows whose ids
 * later rows need, build the statements of every other row (status, history, events), commit
 * them together with the ledger in one round trip, then write the new state through.
 */
export function createBatchTransaction(
  config: BatchWriterConfig,
  deps: BatchWriterDeps,
): BatchTransaction {
  const log = deps.logger.child({ component: 'dataserver-writer' });
  const now = deps.now ?? (() => Math.floor(Date.now() / 1000));
  const metrics = batchMetrics(deps.registry);
  const guard = createConnectionGuard(deps.pool, config.batchTimeoutMs, log);
  const writeAddresses = createAddressWriter();
  const countReloads = (n: number): void => {
    metrics.reloads.inc(n);
  };

  async function transact(jobs: readonly WriteJob[]): Promise<(PacketOutcome | undefined)[]> {
    const started = process.hrtime.bigint();
    // Before taking a connection: a stale cache reloads on the pool, not while we hold one.
    const alertModules = await alertModulesOf(deps.alerts);
    const guarded = await guard.acquire(jobs.length);
    const { conn } = guarded;
    let alertsEvaluated = false;
    try {
      const nowSec = now();
      const packets = jobs.filter((j): j is PacketJob => j.kind === 'packet');
      await conn.query('START TRANSACTION');
      const lockTimeout = config.agentLockTimeoutSec;
      const idByKey = await findAgents(conn, packets, deps, lockTimeout, () => {
        guarded.holdsNamedLocks();
      });
      const locked = await lockAgents(conn, idByKey);
      const { snapshots, reloaded } = await freshState(conn, idByKey, locked, deps, countReloads);
      const outcomes = await runLogic(conn, jobs, packets, snapshots, config, deps, {
        nowSec,
        alertModules,
      });
      const written = outcomes.filter((o): o is PacketOutcome => o !== undefined);
      await insertNewRows(conn, written, config.consecutiveIds, writeAddresses);
      // Step 6, every other row, in dependency order: agents, modules, status, history, events.
      const extraEvents = jobs.flatMap((j) => (j.kind === 'event' ? [j.event] : []));
      const statements = outcomeStatements(written, extraEvents);
      // Step 6b, module alerts, after the data's rows and before the ledger (alert-step.ts).
      alertsEvaluated = true;
      const alerts = await evaluateBatchAlerts(conn, written, statements, deps.alerts, nowSec);
      const ledger = ledgerRows(jobs, outcomes, idByKey);
      statements.push(...ledgerStatements(ledger, config.serverName, nowSec));
      await commit(conn, statements, ledger, written, locked.signatures);
      alertsEvaluated = false;
      alertsCommitted(deps.alerts, alerts);
      writeThrough(jobs, outcomes, snapshots, locked.signatures, deps);
      recordBatch(metrics, log, jobs.length, written, started, {
        loaded: reloaded,
        statements: statements.length,
      });
      return outcomes;
    } catch (err) {
      alertsRolledBack(deps.alerts, alertsEvaluated);
      throw await guarded.fail(err);
    } finally {
      await guarded.close();
    }
  }

  return {
    run: transact,
    abortAll: () => {
      guard.abortAll();
    },
  };
}
