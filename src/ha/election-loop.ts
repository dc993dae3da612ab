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
import type { HaSnapshot, Role, RoleChange } from './coordinator.js';
import { createFence, createFencedRunner, type Fence, type FencedRunner } from './fencing.js';
import type { LeaseRow, LeaseSql } from './lease-sql.js';
import type { Membership, Peer } from './membership.js';
import { type PandoraMaster, readPandoraMaster, samePandoraMaster } from './pandora-master.js';
import type { HaConfig } from './settings.js';

/** The election's own series: role, epoch, transitions, Pandora's master, failed ticks. */
function createElectionMetrics(registry: Registry) {
  const registers = [registry];
  return {
    master: new Gauge({
      name: 'pandora_ha_master',
      help: '1 while this server holds the master lease',
      registers,
    }),
    epoch: new Gauge({
      name: 'pandora_ha_epoch',
      help: 'Fencing epoch: ours while master, else the highest seen',
      registers,
    }),
    roleChanges: new Counter({
      name: 'pandora_ha_role_changes_total',
      help: 'Role transitions of this server',
      registers,
    }),
    pandoraMaster: new Gauge({
      name: 'pandora_ha_pandora_master',
      help: "1 while one of Pandora's own servers (not ours) is master; ours run no master duty",
      registers,
    }),
    tickErrors: new Counter({
      name: 'pandora_ha_tick_errors_total',
      help: 'Election ticks that failed (database unreachable or slow)',
      registers,
    }),
  };
}

export interface ElectionDeps {
  readonly pool: Pool;
  readonly log: Logger;
  readonly registry: Registry;
  readonly membership: Membership;
  readonly lease: LeaseSql;
  readonly queryTimeoutMs: number;
}

/**
 * The election loop (ha.md §2.9.3): one `setTimeout` chain (ticks never overlap) beats the
 * membership row, then acquires, renews or yields the lease (lease-sql.ts). Every comparison of
 * time happens in SQL on the DB clock; the only local clock used is the monotonic one, to step
 * down *before* the lease can have expired for others (fencing.ts).
 */
export class ElectionLoop {
  readonly events = new EventEmitter<{ roleChanged: [RoleChange]; fatal: [PandoraError] }>();
  readonly runFenced: FencedRunner;
  readonly #config: HaConfig;
  readonly #deps: ElectionDeps;
  readonly #metrics: ReturnType<typeof createElectionMetrics>;
  readonly #fence: Fence;

  #role: Role = 'standby';
  #epoch = 0;
  #masterName = '';
  #isCandidate = true;
  #isDbReachable = false;
  #tickTimer: NodeJS.Timeout | undefined;
  #tickInFlight: Promise<void> = Promise.resolve();
  #graceUntil = 0;
  #lastHeartbeatAt: number | undefined;
  #peers: Peer[] = [];
  #hadNoEligible = false;
  #pandoraMaster: PandoraMaster | undefined;
  #isStopped = false;
  #closing: Promise<void> | undefined;

  constructor(config: HaConfig, deps: ElectionDeps) {
    this.#config = config;
    this.#deps = deps;
    this.#metrics = createElectionMetrics(deps.registry);
    this.#fence = createFence(config, () => {
      if (this.#role === 'master')
        this.#setRole('standby', 'self-fenced: lease not renewed in time');
    });
    this.runFenced = createFencedRunner({
      pool: deps.pool,
      lease: deps.lease,
      registry: deps.registry,
      isMaster: () => this.isMaster(),
      epoch: () => this.#epoch,
    });
  }

  isMaster(): boolean {
    return this.#role === 'master' && this.#fence.isHeld();
  }

  async start(): Promise<void> {
    const { membership, log } = this.#deps;
    await membership.register();
    this.#isDbReachable = true;
    this.#lastHeartbeatAt = performance.now();
    this.#graceUntil = performance.now() + this.#config.startupGraceMs;
    log.info(
      { event: 'registered', instanceId: membership.instanceId, priority: this.#config.priority },
      `registered as ${this.#config.serverName} (master priority ${this.#config.priority})`,
    );
    this.#scheduleNext(0);
  }

  snapshot(): HaSnapshot {
    const lastHeartbeatAt = this.#lastHeartbeatAt;
    return {
      server: this.#config.serverName,
      instanceId: this.#deps.membership.instanceId,
      role: this.isMaster() ? 'master' : 'standby',
      master: this.#masterName,
      pandoraMaster: this.#pandoraMaster,
      epoch: this.#epoch,
      priority: this.#config.priority,
      isCandidate: this.#isCandidate,
      heartbeatAgeMs:
        lastHeartbeatAt === undefined ? undefined : performance.now() - lastHeartbeatAt,
      isDbReachable: this.#isDbReachable,
      peers: this.#peers,
    };
  }

  async setCandidate(next: boolean): Promise<void> {
    if (this.#isCandidate === next) return;
    this.#isCandidate = next;
    await this.#tickInFlight;
    if (!next && this.#role === 'master') {
      await this.#release('resigned: draining').catch((err: unknown) => {
        this.#deps.log.warn(
          { err: describeError(err) },
          'could not release the lease; it will expire',
        );
      });
    }
  }

  close(): Promise<void> {
    return (this.#closing ??= this.#doClose());
  }

  async #doClose(): Promise<void> {
    const { log } = this.#deps;
    this.#isStopped = true;
    if (this.#tickTimer) clearTimeout(this.#tickTimer);
    await this.#tickInFlight;
    if (this.#role === 'master') {
      // Release at once so failover does not wait for the lease to expire.
      await this.#release('shutting down').catch((err: unknown) => {
        log.warn({ err: describeError(err) }, 'could not release the lease; it will expire');
      });
    }
    this.#setRole('standby', 'closed');
    await this.#deps.membership.markStopped().catch((err: unknown) => {
      log.warn({ err: describeError(err) }, 'could not mark this server stopped');
    });
  }

  #setRole(next: Role, reason: string): void {
    if (next === 'standby') this.#fence.clear();
    if (next === this.#role) return;
    this.#role = next;
    const epoch = this.#epoch;
    this.#metrics.master.set(next === 'master' ? 1 : 0);
    this.#metrics.epoch.set(epoch);
    this.#metrics.roleChanges.inc();
    if (next === 'master') this.#masterName = this.#config.serverName;
    else if (this.#masterName === this.#config.serverName) this.#masterName = '';
    this.#deps.log.info(
      { event: 'roleChanged', role: next, epoch, reason },
      `now ${next} (${reason})`,
    );
    this.events.emit('roleChanged', { role: next, epoch, reason });
  }

  #scheduleNext(delayMs: number): void {
    if (this.#isStopped) return;
    this.#tickTimer = setTimeout(() => {
      const startedAt = performance.now();
      this.#tickInFlight = this.#tick().then(() => {
        this.#scheduleNext(Math.max(0, this.#config.tickMs - (performance.now() - startedAt)));
      });
    }, delayMs);
    this.#tickTimer.unref();
  }

  async #tick(): Promise<void> {
    if (!(await this.#heartbeat())) return;
    try {
      await this.#observePandoraMaster();
      await this.#leaseStep();
      this.#peers = await this.#deps.membership.peers();
      await this.#noteEligibility();
    } catch (err) {
      // A lock wait or a slow statement: the next tick tries again; self-fencing covers a
      // master that keeps failing to renew.
      this.#metrics.tickErrors.inc();
      this.#deps.log.warn(
        { err: describeError(err), event: 'leaseStepFailed' },
        'lease step failed',
      );
    }
  }

  /** Beats the membership row; false when the database is unreachable or we were evicted. */
  async #heartbeat(): Promise<boolean> {
    const { log } = this.#deps;
    try {
      await this.#deps.membership.heartbeat(this.#isCandidate);
    } catch (err) {
      if (err instanceof PandoraError && err.code === ErrorCode.HaDuplicateName) {
        this.#setRole('standby', 'evicted');
        this.#isStopped = true;
        log.error({ err, event: 'evicted' }, err.message);
        this.events.emit('fatal', err);
        return false;
      }
      this.#metrics.tickErrors.inc();
      if (this.#isDbReachable) {
        log.warn({ err: describeError(err), event: 'dbUnreachable' }, 'heartbeat failed');
      }
      this.#isDbReachable = false;
      return false;
    }
    if (!this.#isDbReachable) {
      // After reconnecting, give peers a moment so the highest priority wins outright.
      this.#graceUntil = performance.now() + this.#config.startupGraceMs;
      this.#isDbReachable = true;
      log.info({ event: 'dbReachable' }, 'database reachable again; heartbeat written');
    }
    this.#lastHeartbeatAt = performance.now();
    return true;
  }

  async #leaseStep(): Promise<void> {
    const current = await this.#deps.lease.read();
    this.#masterName = this.#pandoraMaster?.name ?? (current.isValid ? current.holder : '');
    if (this.#role === 'master') await this.#masterLeaseStep(current);
    else await this.#standbyLeaseStep(current);
  }

  /** As master: step down if the lease moved, yield it if we should, else renew it. */
  async #masterLeaseStep(current: LeaseRow): Promise<void> {
    if (current.instance !== this.#deps.membership.instanceId || current.epoch !== this.#epoch) {
      this.#epoch = Math.max(this.#epoch, current.epoch);
      this.#setRole('standby', `lease taken by ${current.holder} at epoch ${current.epoch}`);
      return;
    }
    if (this.#pandoraMaster) {
      const { name, priority } = this.#pandoraMaster;
      await this.#release(`Pandora server ${name} (master ${priority}) is master`);
      return;
    }
    if (!this.#isCandidate) {
      await this.#release('resigned: not a candidate');
      return;
    }
    if (this.#config.preempt && (await this.#deps.lease.hasHigherPriorityWaiting())) {
      await this.#release('handover to a higher-priority server');
      return;
    }
    if (!(await this.#renew()))
      this.#setRole('standby', 'lease renewal refused (expired or taken)');
  }

  /** As standby: follow the epoch; take a free lease when we may compete. */
  async #standbyLeaseStep(current: LeaseRow): Promise<void> {
    this.#epoch = Math.max(this.#epoch, current.epoch);
    this.#metrics.epoch.set(this.#epoch);
    if (!this.#isCandidate || this.#config.priority === 0) return;
    if (performance.now() < this.#graceUntil) return;
    if (current.isValid || this.#pandoraMaster !== undefined) return;
    await this.#tryAcquire();
  }

  async #tryAcquire(): Promise<void> {
    const sentAt = performance.now();
    const acquired = await this.#deps.lease.tryAcquire();
    if (acquired === undefined) return;
    this.#epoch = acquired;
    this.#fence.arm(sentAt);
    this.#setRole('master', 'acquired');
  }

  async #renew(): Promise<boolean> {
    const sentAt = performance.now();
    if (!(await this.#deps.lease.renew(this.#epoch))) return false;
    this.#fence.arm(sentAt);
    return true;
  }

  async #release(reason: string): Promise<void> {
    const myEpoch = this.#epoch;
    // Stop acting first: no master job may start once the release can be visible to peers.
    this.#setRole('standby', reason);
    await this.#deps.lease.release(myEpoch);
    this.#masterName = this.#pandoraMaster?.name ?? '';
  }

  /**
   * Pandora's own servers pick their master from `tserver` and count ours there too; when
   * their pick is one of theirs, none of ours may act (pandora-master.ts).
   */
  async #observePandoraMaster(): Promise<void> {
    const seen = await readPandoraMaster(this.#deps.pool, this.#deps.queryTimeoutMs);
    if (samePandoraMaster(seen, this.#pandoraMaster)) return;
    this.#pandoraMaster = seen;
    this.#metrics.pandoraMaster.set(seen ? 1 : 0);
    if (seen) {
      this.#deps.log.info(
        { event: 'pandoraMaster', master: seen.name, masterPriority: seen.priority },
        `Pandora server ${seen.name} (master ${seen.priority}) is master; ours stand down`,
      );
    } else {
      this.#deps.log.info(
        { event: 'pandoraMasterGone' },
        'no Pandora server outranks ours any more',
      );
    }
  }

  /**
   * "No master-eligible server" is raised once per transition for the whole installation (not
   * once per server): the first server to flip `no_master_since` on the lease row inserts the
   * system event, in the same transaction; the flag clears when an eligible server is back.
   */
  async #noteEligibility(): Promise<void> {
    const hasEligible =
      this.#pandoraMaster !== undefined ||
      this.#peers.some((p) => p.isLive && p.isCandidate && p.priority > 0);
    if (hasEligible === !this.#hadNoEligible) return;
    this.#hadNoEligible = !hasEligible;
    if (hasEligible) {
      await this.#deps.lease.clearNoMaster();
      return;
    }
    this.#deps.log.warn(
      { event: 'noMasterEligible' },
      'no live master-eligible server (all master 0 or down)',
    );
    try {
      await this.#deps.lease.flagNoMaster();
    } catch (err) {
      this.#hadNoEligible = false; // try again next tick
      throw err;
    }
  }
}
