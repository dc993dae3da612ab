import { mkdir, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger } from '../../core/log.js';
import { createFileBuffer, type FileBuffer } from './buffer.js';
import type { DeliveryConfig, TargetRole } from './config.js';
import { createTargetLink, type TargetLink } from './link.js';
import {
  createDeliveryMetrics,
  cycleHealth,
  drainLane,
  sendThroughLane,
  type Lane,
  type LaneDeps,
} from './lane.js';

/** What became of one file in one lane. */
export type LaneOutcome =
  | { readonly lane: string; readonly result: 'delivered'; readonly target: TargetRole }
  | { readonly lane: string; readonly result: 'buffered' | 'dropped'; readonly reason: string };

export interface FileReport {
  readonly path: string;
  readonly name: string;
  /** `dropped` if any lane lost it, `buffered` if any lane still holds it, else `delivered`. */
  readonly outcome: 'delivered' | 'buffered' | 'dropped';
  readonly lanes: readonly LaneOutcome[];
}

export interface CycleReport {
  /** Buffered files sent this cycle, per lane, oldest first. */
  readonly backlogDelivered: Readonly<Record<string, readonly string[]>>;
  readonly files: readonly FileReport[];
}

interface BufferedLane extends Lane {
  readonly queue: FileBuffer;
  /** Once a file waits in the buffer, later files wait behind it (order). */
  blocked: boolean;
}

/**
 * One agent cycle (ha.md §1.4 with the §1.8 fixes): first each lane's backlog, oldest first,
 * stopping at the first failure; then the new files in order. `on_error` is one lane whose files
 * may go to either target (primary first); `always` is two independent lanes, each with its own
 * buffer folder. A target that fails is not tried again in the same cycle.
 */
export async function runDeliveryCycle(
  config: DeliveryConfig,
  paths: readonly string[],
  deps: { logger: Logger; registry?: Registry },
): Promise<CycleReport> {
  const log = deps.logger.child({ component: 'delivery' });
  const primary = createTargetLink(config.primary, { logger: log });
  const secondary = config.secondary
    ? createTargetLink(config.secondary, { logger: log })
    : undefined;
  const links: TargetLink[] = secondary ? [primary, secondary] : [primary];
  const laneDeps: LaneDeps = {
    logger: log,
    health: cycleHealth(),
    metrics: createDeliveryMetrics(deps.registry),
  };
  const lanes: BufferedLane[] = [];
  const buffer = (dir: string) => createFileBuffer(dir, config.buffer, log);
  if (config.mode === 'always' && secondary) {
    lanes.push({
      name: 'primary',
      queue: buffer(config.temporal),
      targets: [primary],
      blocked: false,
    });
    lanes.push({
      name: 'secondary',
      queue: buffer(config.secondaryTemporal),
      targets: [secondary],
      blocked: false,
    });
  } else {
    lanes.push({ name: 'primary', queue: buffer(config.temporal), targets: links, blocked: false });
  }

  try {
    // As the reference agent at start: the secondary's own buffer folder must exist.
    if (config.mode === 'always') await mkdir(config.secondaryTemporal, { recursive: true });
    const backlogDelivered: Record<string, string[]> = {};
    if (config.buffer.enabled) {
      for (const lane of lanes) {
        const drained = await drainLane(lane, laneDeps);
        lane.blocked = drained.blocked;
        backlogDelivered[lane.name] = drained.delivered.map((f) => f.name);
      }
    }
    const files: FileReport[] = [];
    for (const path of paths) {
      const name = basename(path);
      const data = await readFile(path);
      const outcomes: LaneOutcome[] = [];
      for (const lane of lanes) {
        outcomes.push(await deliverNew(lane, name, data, config.buffer.enabled, laneDeps));
      }
      const outcome = outcomes.some((o) => o.result === 'dropped')
        ? 'dropped'
        : outcomes.some((o) => o.result === 'buffered')
          ? 'buffered'
          : 'delivered';
      files.push({ path, name, outcome, lanes: outcomes });
    }
    return { backlogDelivered, files };
  } finally {
    await Promise.all(links.map((link) => link.close()));
  }
}

async function deliverNew(
  lane: BufferedLane,
  name: string,
  data: Buffer,
  bufferEnabled: boolean,
  deps: LaneDeps,
): Promise<LaneOutcome> {
  let reason = 'older files are still waiting in the buffer';
  if (!lane.blocked) {
    const sent = await sendThroughLane(lane, name, data, deps);
    if (sent.delivered !== undefined) {
      return { lane: lane.name, result: 'delivered', target: sent.delivered };
    }
    reason = sent.reason;
  }
  if (bufferEnabled && (await lane.queue.admit(name, data))) {
    lane.blocked = true;
    return { lane: lane.name, result: 'buffered', reason };
  }
  return { lane: lane.name, result: 'dropped', reason };
}
