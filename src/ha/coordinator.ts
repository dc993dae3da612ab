import type { EventEmitter } from 'node:events';
import type { Pool } from 'mysql2/promise';
import type { Logger, PandoraError, Registry } from '../core/index.js';
import { ElectionLoop } from './election-loop.js';
import type { FencedRunner } from './fencing.js';
import { boundHaSessions, createLeaseSql } from './lease-sql.js';
import { createMembership, type Membership, type Peer } from './membership.js';
import type { PandoraMaster } from './pandora-master.js';
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
 * Server HA for one process: the membership row (membership.ts), the lease statements
 * (lease-sql.ts), and the election loop over them (election-loop.ts) with its local fence
 * (fencing.ts).
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
  const election = new ElectionLoop(config, {
    pool,
    log,
    registry,
    membership,
    lease,
    queryTimeoutMs,
  });
  boundHaSessions(pool, config.leaseTtlMs);
  return {
    events: election.events,
    membership,
    start: () => election.start(),
    isMaster: () => election.isMaster(),
    snapshot: () => election.snapshot(),
    runFenced: election.runFenced,
    setCandidate: (isCandidate) => election.setCandidate(isCandidate),
    close: () => election.close(),
  };
}
