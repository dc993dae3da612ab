import { constants } from 'node:fs';
import { access, statfs } from 'node:fs/promises';
import { describeError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { HaCoordinator, Role } from './coordinator.js';
import type { Peer } from './membership.js';

export interface NodeStateConfig {
  /** Incoming (spool) folder that must be writable for the server to be ready. */
  readonly spoolDir?: string;
  /** Minimum free bytes on the spool's filesystem (0 = no check). */
  readonly minFreeBytes: number;
  /** Not ready when our last successful heartbeat is older than this (2 ticks). */
  readonly heartbeatStaleMs: number;
}

export interface NodeStateDeps {
  readonly coordinator: HaCoordinator;
  readonly log: Logger;
  readonly queueDepth?: () => number;
  /** Monotonic totals shown as rates on /status (files, bytes, values…). */
  readonly totals?: () => Readonly<Record<string, number>>;
  /** Stops accepting new Tentacle connections; resolves when in-flight work has finished. */
  readonly drainReceiver?: () => Promise<void>;
  /** Extra readiness checks: each returns a reason when not ready. */
  readonly checks?: readonly (() => Promise<string | undefined>)[];
}

export interface NodeState {
  status(): {
    server: string;
    role: Role;
    master: string;
    epoch: number;
    peers: readonly Peer[];
    queue_depth: number;
    draining: boolean;
    totals: Readonly<Record<string, number>>;
  };
  readiness(): Promise<{ ready: boolean; reasons: string[] }>;
  drain(): Promise<void>;
  /** Resolves when a started drain has finished (in-flight transfers and batches done). */
  whenDrained(): Promise<void>;
  readonly isDraining: boolean;
}

/**
 * What the HTTP side reads (it implements `HttpStateSource` structurally): one place that
 * decides readiness from HA, the database heartbeat, the spool and the receiver, and that turns
 * `POST /drain` into "resign mastership, refuse new connections, finish what was accepted".
 */
export function createNodeState(config: NodeStateConfig, deps: NodeStateDeps): NodeState {
  const { coordinator } = deps;
  let isDraining = false;
  let drained: Promise<void> | undefined;

  async function spoolProblem(): Promise<string | undefined> {
    if (config.spoolDir === undefined) return undefined;
    try {
      await access(config.spoolDir, constants.W_OK);
    } catch {
      return 'spool';
    }
    if (config.minFreeBytes > 0) {
      const fs = await statfs(config.spoolDir);
      if (fs.bavail * fs.bsize < config.minFreeBytes) return 'disk';
    }
    return undefined;
  }

  return {
    get isDraining() {
      return isDraining;
    },
    status() {
      const snap = coordinator.snapshot();
      return {
        server: snap.server,
        role: snap.role,
        master: snap.master,
        epoch: snap.epoch,
        peers: snap.peers,
        queue_depth: deps.queueDepth?.() ?? 0,
        draining: isDraining,
        totals: deps.totals?.() ?? {},
      };
    },
    async readiness() {
      const reasons: string[] = [];
      const snap = coordinator.snapshot();
      if (isDraining) reasons.push('draining');
      if (!snap.isDbReachable) reasons.push('db');
      if (snap.heartbeatAgeMs === undefined || snap.heartbeatAgeMs > config.heartbeatStaleMs) {
        reasons.push('heartbeat');
      }
      const spool = await spoolProblem();
      if (spool !== undefined) reasons.push(spool);
      for (const check of deps.checks ?? []) {
        const reason = await check();
        if (reason !== undefined) reasons.push(reason);
      }
      return { ready: reasons.length === 0, reasons };
    },
    async drain() {
      if (isDraining) return;
      isDraining = true;
      deps.log.info(
        { event: 'draining' },
        'draining: not ready, resigning, finishing accepted work',
      );
      await coordinator.setCandidate(false);
      drained = (deps.drainReceiver?.() ?? Promise.resolve()).catch((err: unknown) => {
        deps.log.error({ err: describeError(err) }, 'drain failed');
      });
    },
    whenDrained: () => drained ?? Promise.resolve(),
  };
}
