import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Pool } from 'mysql2/promise';
import { Counter, Gauge } from 'prom-client';
import {
  describeError,
  ErrorCode,
  type Logger,
  PandoraError,
  type Registry,
} from '../core/index.js';
import { createFence, createFencedRunner, type FencedRunner } from './fencing.js';
import { boundHaSessions, createLeaseSql } from './lease-sql.js';
import { createMembership, type Membership, type Peer } from './membership.js';
import { type PandoraMaster, readPandoraMaster, samePandoraMaster } from './pandora-master.js';
import type { HaConfig } from './settings.js';

export type { FencedContext } from './fencing.js';
export type { PandoraMaster } from './pandora-master.js';

export type Role = 'master' | 'standby';

export interface RoleChange {
  readonly role: Role;
  readonly epoch: number;
  readonly reason: string;
}

export interface HaSnapshot {
  readonly server: string;
  readonly instanceId: string;
  readonly role: Role;
  /**
   * Name of the installation's master: one of Pandora's own servers when `pandoraMaster` is
   * set, else our lease holder ('' when the lease is free or unknown).
   */
  readonly master: string;
  /** Set while Pandora's election picks one of its own servers: ours all stand down. */
  readonly pandoraMaster: PandoraMaster | undefined;
  /** Our epoch while master, otherwise the highest epoch we have seen. */
  readonly epoch: number;
  readonly priority: number;
  readonly isCandidate: boolean;
  /** Milliseconds since the last successful heartbeat (monotonic clock); undefined before one. */
  readonly heartbeatAgeMs: number | undefined;
  readonly isDbReachable: boolean;
  readonly peers: readonly Peer[];
}

export interface HaCoordinator {
  readonly events: EventEmitter<{ roleChanged: [RoleChange]; fatal: [PandoraError] }>;
  readonly membership: Membership;
  start(): Promise<void>;
  isMaster(): boolean;
  snapshot(): HaSnapshot;
  /** Runs `work` in a transaction that commits only if we still hold the lease at our epoch. */
  readonly runFenced: FencedRunner;
  /** Stop competing (draining): a master resigns at once so a peer takes over. */
  setCandidate(isCandidate: boolean): Promise<void>;
  /** Resign, mark stopped, stop the loop. Idempotent. */
  close(): Promise<void>;
}

export interface CoordinatorOptions {
  readonly incomingDir?: string;
  readonly httpPort?: number;
}

/**
 * The election loop (ha.md §2.9.3): one `setTimeout` chain (ticks never overlap) beats the
 * membership row, then acquires, renews or yields the lease (lease-sql.ts). Every comparison of
 * time happens in SQL on the DB clock; the only local clock used is the monotonic one, to step
 * down *before* the lease can have expired for others (fencing.ts).
 */
export function createHaCoordinator(
  config: HaConfig,
  deps: { pool: Pool; log: Logger; registry: Registry },
  options: CoordinatorOptions = {},
): HaCoordinator {
  const { pool, registry } = deps;
  const log = deps.log.child({ component: 'ha' });
  const queryTimeoutMs = Math.max(200, Math.min(2000, Math.floor(config.leaseTtlMs / 3)));
  const membership = createMembership(config, { pool, log }, { ...options, queryTimeoutMs });
  const lease = createLeaseSql(pool, config, {
    instanceId: membership.instanceId,
    queryTimeoutMs,
  });
  const events = new EventEmitter<{ roleChanged: [RoleChange]; fatal: [PandoraError] }>();

  const masterGauge = new Gauge({
    name: 'pandora_ha_master',
    help: '1 while this server holds the master lease',
    registers: [registry],
  });
  const epochGauge = new Gauge({
    name: 'pandora_ha_epoch',
    help: 'Fencing epoch: ours while master, else the highest seen',
    registers: [registry],
  });
  const roleChanges = new Counter({
    name: 'pandora_ha_role_changes_total',
    help: 'Role transitions of this server',
    registers: [registry],
  });
  const pandoraMasterGauge = new Gauge({
    name: 'pandora_ha_pandora_master',
    help: "1 while one of Pandora's own servers (not ours) is master; ours run no master duty",
    registers: [registry],
  });
  const tickErrors = new Counter({
    name: 'pandora_ha_tick_errors_total',
    help: 'Election ticks that failed (database unreachable or slow)',
    registers: [registry],
  });

  let role: Role = 'standby';
  let epoch = 0;
  let masterName = '';
  let isCandidate = true;
  let isDbReachable = false;
  let tickTimer: NodeJS.Timeout | undefined;
  let tickInFlight: Promise<void> = Promise.resolve();
  let graceUntil = 0;
  let lastHeartbeatAt: number | undefined;
  let peers: Peer[] = [];
  let hadNoEligible = false;
  let pandoraMaster: PandoraMaster | undefined;
  let isStopped = false;
  let closing: Promise<void> | undefined;

  const fence = createFence(config, () => {
    if (role === 'master') setRole('standby', 'self-fenced: lease not renewed in time');
  });
  const isMaster = (): boolean => role === 'master' && fence.isHeld();
  const runFenced = createFencedRunner({ pool, lease, registry, isMaster, epoch: () => epoch });
  boundHaSessions(pool, config.leaseTtlMs);

  function setRole(next: Role, reason: string): void {
    if (next === 'standby') fence.clear();
    if (next === role) return;
    role = next;
    masterGauge.set(next === 'master' ? 1 : 0);
    epochGauge.set(epoch);
    roleChanges.inc();
    if (next === 'master') masterName = config.serverName;
    else if (masterName === config.serverName) masterName = '';
    log.info({ event: 'roleChanged', role: next, epoch, reason }, `now ${next} (${reason})`);
    events.emit('roleChanged', { role: next, epoch, reason });
  }

  async function tryAcquire(): Promise<void> {
    const sentAt = performance.now();
    const acquired = await lease.tryAcquire();
    if (acquired === undefined) return;
    epoch = acquired;
    fence.arm(sentAt);
    setRole('master', 'acquired');
  }

  async function renew(): Promise<boolean> {
    const sentAt = performance.now();
    if (!(await lease.renew(epoch))) return false;
    fence.arm(sentAt);
    return true;
  }

  async function release(reason: string): Promise<void> {
    const myEpoch = epoch;
    // Stop acting first: no master job may start once the release can be visible to peers.
    setRole('standby', reason);
    await lease.release(myEpoch);
    masterName = pandoraMaster?.name ?? '';
  }

  /**
   * Pandora's own servers pick their master from `tserver` and count ours there too; when
   * their pick is one of theirs, none of ours may act (pandora-master.ts).
   */
  async function observePandoraMaster(): Promise<void> {
    const seen = await readPandoraMaster(pool, queryTimeoutMs);
    if (samePandoraMaster(seen, pandoraMaster)) return;
    pandoraMaster = seen;
    pandoraMasterGauge.set(seen ? 1 : 0);
    if (seen) {
      log.info(
        { event: 'pandoraMaster', master: seen.name, masterPriority: seen.priority },
        `Pandora server ${seen.name} (master ${seen.priority}) is master; ours stand down`,
      );
    } else {
      log.info({ event: 'pandoraMasterGone' }, 'no Pandora server outranks ours any more');
    }
  }

  /**
   * "No master-eligible server" is raised once per transition for the whole installation (not
   * once per server): the first server to flip `no_master_since` on the lease row inserts the
   * system event, in the same transaction; the flag clears when an eligible server is back.
   */
  async function noteEligibility(): Promise<void> {
    const hasEligible =
      pandoraMaster !== undefined || peers.some((p) => p.isLive && p.isCandidate && p.priority > 0);
    if (hasEligible === !hadNoEligible) return;
    hadNoEligible = !hasEligible;
    if (hasEligible) {
      await lease.clearNoMaster();
      return;
    }
    log.warn(
      { event: 'noMasterEligible' },
      'no live master-eligible server (all master 0 or down)',
    );
    try {
      await lease.flagNoMaster();
    } catch (err) {
      hadNoEligible = false; // try again next tick
      throw err;
    }
  }

  async function leaseStep(): Promise<void> {
    const current = await lease.read();
    masterName = pandoraMaster?.name ?? (current.isValid ? current.holder : '');
    if (role === 'master') {
      if (current.instance !== membership.instanceId || current.epoch !== epoch) {
        epoch = Math.max(epoch, current.epoch);
        setRole('standby', `lease taken by ${current.holder} at epoch ${current.epoch}`);
        return;
      }
      if (pandoraMaster) {
        const { name, priority } = pandoraMaster;
        await release(`Pandora server ${name} (master ${priority}) is master`);
        return;
      }
      if (!isCandidate) {
        await release('resigned: not a candidate');
        return;
      }
      if (config.preempt && (await lease.hasHigherPriorityWaiting())) {
        await release('handover to a higher-priority server');
        return;
      }
      if (!(await renew())) setRole('standby', 'lease renewal refused (expired or taken)');
      return;
    }
    epoch = Math.max(epoch, current.epoch);
    epochGauge.set(epoch);
    if (!isCandidate || config.priority === 0 || performance.now() < graceUntil) return;
    if (current.isValid || pandoraMaster !== undefined) return;
    await tryAcquire();
  }

  async function tick(): Promise<void> {
    try {
      await membership.heartbeat(isCandidate);
    } catch (err) {
      if (err instanceof PandoraError && err.code === ErrorCode.HaDuplicateName) {
        setRole('standby', 'evicted');
        isStopped = true;
        log.error({ err, event: 'evicted' }, err.message);
        events.emit('fatal', err);
        return;
      }
      tickErrors.inc();
      if (isDbReachable) {
        log.warn({ err: describeError(err), event: 'dbUnreachable' }, 'heartbeat failed');
      }
      isDbReachable = false;
      return;
    }
    if (!isDbReachable) {
      // After reconnecting, give peers a moment so the highest priority wins outright.
      graceUntil = performance.now() + config.startupGraceMs;
      isDbReachable = true;
      log.info({ event: 'dbReachable' }, 'database reachable again; heartbeat written');
    }
    lastHeartbeatAt = performance.now();
    try {
      await observePandoraMaster();
      await leaseStep();
      peers = await membership.peers();
      await noteEligibility();
    } catch (err) {
      // A lock wait or a slow statement: the next tick tries again; self-fencing covers a
      // master that keeps failing to renew.
      tickErrors.inc();
      log.warn({ err: describeError(err), event: 'leaseStepFailed' }, 'lease step failed');
    }
  }

  function scheduleNext(delayMs: number): void {
    if (isStopped) return;
    tickTimer = setTimeout(() => {
      const startedAt = performance.now();
      tickInFlight = tick().then(() => {
        scheduleNext(Math.max(0, config.tickMs - (performance.now() - startedAt)));
      });
    }, delayMs);
    tickTimer.unref();
  }

  async function start(): Promise<void> {
    await membership.register();
    isDbReachable = true;
    lastHeartbeatAt = performance.now();
    graceUntil = performance.now() + config.startupGraceMs;
    log.info(
      { event: 'registered', instanceId: membership.instanceId, priority: config.priority },
      `registered as ${config.serverName} (master priority ${config.priority})`,
    );
    scheduleNext(0);
  }

  async function setCandidate(next: boolean): Promise<void> {
    if (isCandidate === next) return;
    isCandidate = next;
    await tickInFlight;
    if (!next && role === 'master') {
      await release('resigned: draining').catch((err: unknown) => {
        log.warn({ err: describeError(err) }, 'could not release the lease; it will expire');
      });
    }
  }

  async function doClose(): Promise<void> {
    isStopped = true;
    if (tickTimer) clearTimeout(tickTimer);
    await tickInFlight;
    if (role === 'master') {
      // Release at once so failover does not wait for the lease to expire.
      await release('shutting down').catch((err: unknown) => {
        log.warn({ err: describeError(err) }, 'could not release the lease; it will expire');
      });
    }
    setRole('standby', 'closed');
    await membership.markStopped().catch((err: unknown) => {
      log.warn({ err: describeError(err) }, 'could not mark this server stopped');
    });
  }

  return {
    events,
    membership,
    start,
    isMaster,
    snapshot: () => ({
      server: config.serverName,
      instanceId: membership.instanceId,
      role: isMaster() ? 'master' : 'standby',
      master: masterName,
      pandoraMaster,
      epoch,
      priority: config.priority,
      isCandidate,
      heartbeatAgeMs:
        lastHeartbeatAt === undefined ? undefined : performance.now() - lastHeartbeatAt,
      isDbReachable,
      peers,
    }),
    runFenced,
    setCandidate,
    close: () => (closing ??= doClose()),
  };
}
