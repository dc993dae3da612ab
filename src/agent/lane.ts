import { readFile } from 'node:fs/promises';
import { zeroSeries } from '../core/index.js';
import { Counter, type Registry } from 'prom-client';
import { describeError, ErrorCode, type Logger } from '../core/index.js';
import type { Outbox, OutboxFile } from './buffer.js';
import type { TargetRole } from './config.js';
import type { TargetLink } from './link.js';

/**
 * Which targets may be tried now. In a one-shot cycle a target that failed stays down until the
 * cycle ends (one attempt per target, as the reference); the shipper backs off exponentially.
 */
export interface TargetHealth {
  isUp(role: TargetRole): boolean;
  failed(role: TargetRole): void;
  succeeded(role: TargetRole): void;
}

export function cycleHealth(): TargetHealth {
  const down = new Set<TargetRole>();
  return {
    isUp: (role) => !down.has(role),
    failed: (role) => down.add(role),
    succeeded: (role) => down.delete(role),
  };
}

export interface BackoffHealth extends TargetHealth {
  /** Milliseconds until the first target that is down may be tried again (0 if none is down). */
  nextRetryInMs(): number;
}

export function backoffHealth(initialMs = 250, maxMs = 5000): BackoffHealth {
  const state = new Map<TargetRole, { until: number; delayMs: number }>();
  return {
    isUp: (role) => (state.get(role)?.until ?? 0) <= Date.now(),
    failed: (role) => {
      const delayMs = Math.min(maxMs, (state.get(role)?.delayMs ?? initialMs / 2) * 2);
      state.set(role, { until: Date.now() + delayMs, delayMs });
    },
    succeeded: (role) => state.delete(role),
    nextRetryInMs: () => {
      const waits = [...state.values()].map((s) => s.until - Date.now());
      return waits.length === 0 ? 0 : Math.max(0, Math.min(...waits));
    },
  };
}

export interface DeliveryMetrics {
  record(role: TargetRole, result: 'ok' | 'rejected' | 'error'): void;
}

export function createDeliveryMetrics(registry: Registry | undefined): DeliveryMetrics {
  if (!registry) return { record: () => undefined };
  const name = 'pandora_delivery_files_total';
  // Several cycles (or a cycle and a shipper) may share one registry: register once.
  const existing = registry.getSingleMetric(name) as Counter<'target' | 'result'> | undefined;
  const files =
    existing ??
    new Counter({
      name,
      help: 'Files offered to a delivery target, by target and result',
      labelNames: ['target', 'result'] as const,
      registers: [registry],
    });
  const roles: TargetRole[] = ['primary', 'secondary'];
  zeroSeries(
    files,
    roles.flatMap((target) => ['ok', 'rejected', 'error'].map((result) => ({ target, result }))),
  );
  return {
    record: (role, result) => {
      files.labels(role, result).inc();
    },
  };
}

/** A queue and the targets that may take its files, in order of preference. */
export interface Lane {
  readonly name: string;
  readonly queue: Outbox;
  readonly targets: readonly TargetLink[];
}

export type LaneSendResult =
  | { readonly delivered: TargetRole }
  | { readonly delivered?: undefined; readonly rejectedByAll: boolean; readonly reason: string };

export interface LaneDeps {
  readonly logger: Logger;
  readonly health: TargetHealth;
  readonly metrics: DeliveryMetrics;
}

/** Tries the lane's targets in order (skipping those down) until one stores the file. */
export async function sendThroughLane(
  lane: Lane,
  name: string,
  data: Buffer,
  deps: LaneDeps,
): Promise<LaneSendResult> {
  let tried = 0;
  let rejected = 0;
  let reason = 'no target available';
  for (const link of lane.targets) {
    if (!deps.health.isUp(link.role)) continue;
    tried++;
    try {
      await link.send(name, data);
      deps.health.succeeded(link.role);
      deps.metrics.record(link.role, 'ok');
      deps.logger.debug({ file: name, target: link.role }, 'delivered');
      return { delivered: link.role };
    } catch (err) {
      const { code, message } = describeError(err);
      const isRejection = code === ErrorCode.TentacleRejected;
      if (isRejection) rejected++;
      reason = `${link.role}: ${message}`;
      // A refusal is about this file; the server is alive and may take the next one.
      if (!isRejection) deps.health.failed(link.role);
      deps.metrics.record(link.role, isRejection ? 'rejected' : 'error');
      deps.logger.warn({ file: name, target: link.role, err: { code, message } }, 'send failed');
    }
  }
  return { rejectedByAll: tried > 0 && rejected === tried, reason };
}

export interface DeliveredFile extends OutboxFile {
  readonly target: TargetRole;
}

export interface DrainResult {
  readonly delivered: DeliveredFile[];
  /** Files left because no target took the first of them (order is kept: nothing after it). */
  readonly blocked: boolean;
}

/**
 * Sends a lane's queued files oldest first, deleting each once stored; stops at the first file
 * no target takes, so later files never overtake it (fixes pandorafms#26). `setAside` may move
 * a file every target refused (a name or size the server will never take) out of the way.
 */
export async function drainLane(
  lane: Lane,
  deps: LaneDeps & {
    readonly filter?: (file: OutboxFile) => boolean;
    readonly setAside?: (file: OutboxFile, reason: string) => Promise<void>;
    readonly signal?: AbortSignal;
  },
): Promise<DrainResult> {
  const delivered: DeliveredFile[] = [];
  for (const file of await lane.queue.list()) {
    if (deps.signal?.aborted) return { delivered, blocked: true };
    if (deps.filter && !deps.filter(file)) continue;
    const data = await readFile(file.path).catch(() => undefined);
    if (data === undefined) continue; // gone meanwhile (another process took it)
    const result = await sendThroughLane(lane, file.name, data, deps);
    if (result.delivered !== undefined) {
      await lane.queue.remove(file.name);
      delivered.push({ ...file, target: result.delivered });
      continue;
    }
    if (result.rejectedByAll && deps.setAside) {
      await deps.setAside(file, result.reason);
      continue;
    }
    return { delivered, blocked: true };
  }
  return { delivered, blocked: false };
}
