import { describeError, ErrorCode, type Logger } from '../core/index.js';
import type { HaCoordinator } from './coordinator.js';

/** Connection failures: the coordinator reports the outage; a job only notes it. */
const DB_UNREACHABLE_CODES = new Set([
  'ETIMEDOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
]);

export interface MasterJob {
  /** Runs once now if master (tests, operators); resolves when that run ends. */
  runOnce(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Runs `run` every `intervalMs` while this server is master, as a `setTimeout` chain (runs never
 * overlap) that starts on `roleChanged → master` and stops on the way down. `run` does its
 * writes through `coordinator.runFenced`, so a run that outlives our mastership cannot commit.
 */
export function createMasterJob(
  config: { name: string; intervalMs: number },
  deps: { coordinator: HaCoordinator; log: Logger },
  run: () => Promise<void>,
): MasterJob {
  const { coordinator } = deps;
  const log = deps.log.child({ component: 'ha', job: config.name });
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  let isClosed = false;

  async function runOnce(): Promise<void> {
    if (!coordinator.isMaster()) return;
    try {
      await run();
    } catch (err) {
      const { code, message } = describeError(err);
      // Losing the lease mid-run is expected during failover; anything else is our fault.
      if (code === ErrorCode.HaFenced) log.info({ event: 'fenced' }, message);
      else if (code !== undefined && DB_UNREACHABLE_CODES.has(code)) {
        log.warn({ event: 'masterJobDbUnreachable', code }, `${config.name}: ${message}`);
      } else log.error({ err, event: 'masterJobFailed' }, `${config.name} failed: ${message}`);
    }
  }

  function schedule(delayMs: number): void {
    if (isClosed || !coordinator.isMaster()) return;
    timer = setTimeout(() => {
      timer = undefined;
      inFlight = runOnce().then(() => {
        schedule(config.intervalMs);
      });
    }, delayMs);
    timer.unref();
  }

  function onRoleChanged(change: { role: string }): void {
    if (change.role === 'master') {
      if (timer === undefined) schedule(0);
    } else if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
  }
  coordinator.events.on('roleChanged', onRoleChanged);
  if (coordinator.isMaster()) schedule(0);

  return {
    runOnce: () => (inFlight = inFlight.then(runOnce)),
    async close() {
      isClosed = true;
      coordinator.events.off('roleChanged', onRoleChanged);
      if (timer) clearTimeout(timer);
      await inFlight;
    },
  };
}
