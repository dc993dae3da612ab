import { mkdir, readFile, realpath } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger } from '../core/index.js';
import { createFileBuffer, type FileBuffer } from './buffer.js';
import { loadPersistentHealth } from './health-file.js';
import type { DeliveryConfig, TargetRole } from './config.js';
import { createTargetLink, folderUnconfirmedStore, type TargetLink } from './link.js';
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
  // Unconfirmed transfers are remembered next to the buffer, across runs.
  const linkDeps = { logger: log, unconfirmed: folderUnconfirmedStore(config.temporal) };
  const primary = createTargetLink(config.primary, linkDeps);
  const secondary = config.secondary ? createTargetLink(config.secondary, linkDeps) : undefined;
  const links: TargetLink[] = secondary ? [primary, secondary] : [primary];
  const remembered =
    config.failoverBackoff.initialMs > 0
      ? await loadPersistentHealth(config.temporal, config.failoverBackoff)
      : undefined;
  for (const role of remembered?.skipped ?? []) {
    log.info({ target: role }, 'target skipped this run: it failed recently (failover_backoff)');
  }
  const laneDeps: LaneDeps = {
    logger: log,
    health: remembered ?? cycleHealth(),
    metrics: createDeliveryMetrics(deps.registry),
  };
  const buffer = (dir: string): FileBuffer => createFileBuffer(dir, config.buffer, log);
  const lanes: BufferedLane[] =
    config.mode === 'always' && secondary
      ? [
          { name: 'primary', queue: buffer(config.temporal), targets: [primary], blocked: false },
          {
            name: 'secondary',
            queue: buffer(config.secondaryTemporal),
            targets: [secondary],
            blocked: false,
          },
        ]
      : [{ name: 'primary', queue: buffer(config.temporal), targets: links, blocked: false }];

  try {
    const news = await readNewFiles(paths, config.temporal);
    // As the reference agent at start: the secondary's own buffer folder must exist.
    if (config.mode === 'always') await mkdir(config.secondaryTemporal, { recursive: true });
    const backlog = config.buffer.enabled
      ? await drainBacklogs(lanes, laneDeps)
      : { delivered: {}, drainedTo: new Map<string, TargetRole>() };
    const files: FileReport[] = [];
    for (const file of news) {
      files.push(await deliverNewFile(file, lanes, config, backlog.drainedTo, laneDeps));
    }
    return { backlogDelivered: backlog.delivered, files };
  } finally {
    await Promise.all(links.map((link) => link.close()));
    await remembered?.save().catch((err: unknown) => {
      log.warn({ err }, 'cannot save the target health memory');
    });
  }
}

interface NewFile {
  readonly path: string;
  readonly name: string;
  readonly data: Buffer;
  /** The file lives in the primary buffer folder (an agent passing its own spool file). */
  readonly inPrimaryBuffer: boolean;
}

/**
 * Reads every new file first: a missing one fails the run before anything is sent, and a file
 * that lives in the primary buffer is part of that lane's backlog, which may deliver and delete
 * it before the new files go.
 */
async function readNewFiles(paths: readonly string[], temporal: string): Promise<NewFile[]> {
  const primaryBuffer = await realpath(temporal).catch(() => resolve(temporal));
  return Promise.all(
    paths.map(async (path) => {
      const data = await readFile(path).catch((err: unknown) => {
        throw new Error(`File '${path}' does not exist or cannot be read.`, { cause: err });
      });
      const dir = await realpath(dirname(path)).catch(() => resolve(dirname(path)));
      return { path, name: basename(path), data, inPrimaryBuffer: dir === primaryBuffer };
    }),
  );
}

/** Each lane's backlog, oldest first; a lane that stops early blocks its new files. */
async function drainBacklogs(
  lanes: readonly BufferedLane[],
  laneDeps: LaneDeps,
): Promise<{ delivered: Record<string, string[]>; drainedTo: Map<string, TargetRole> }> {
  const delivered: Record<string, string[]> = {};
  const drainedTo = new Map<string, TargetRole>(); // `lane/name` → target
  for (const lane of lanes) {
    const drained = await drainLane(lane, laneDeps);
    lane.blocked = drained.blocked;
    delivered[lane.name] = drained.delivered.map((f) => f.name);
    for (const f of drained.delivered) drainedTo.set(`${lane.name}/${f.name}`, f.target);
  }
  return { delivered, drainedTo };
}

/** One new file through every lane; a file already drained from the primary buffer is not sent again. */
async function deliverNewFile(
  file: NewFile,
  lanes: readonly BufferedLane[],
  config: DeliveryConfig,
  drainedTo: ReadonlyMap<string, TargetRole>,
  laneDeps: LaneDeps,
): Promise<FileReport> {
  const { path, name, data, inPrimaryBuffer } = file;
  const outcomes: LaneOutcome[] = [];
  for (const lane of lanes) {
    if (lane === lanes[0] && inPrimaryBuffer && config.buffer.enabled) {
      outcomes.push(backlogOutcome(lane.name, drainedTo.get(`${lane.name}/${name}`)));
      continue;
    }
    outcomes.push(await deliverNew(lane, name, data, config.buffer.enabled, laneDeps));
  }
  const outcome = outcomes.some((o) => o.result === 'dropped')
    ? 'dropped'
    : outcomes.some((o) => o.result === 'buffered')
      ? 'buffered'
      : 'delivered';
  return { path, name, outcome, lanes: outcomes };
}

/** A new file that already sits in the lane's buffer: the drain decided its fate. */
function backlogOutcome(lane: string, target: TargetRole | undefined): LaneOutcome {
  return target
    ? { lane, result: 'delivered', target }
    : { lane, result: 'buffered', reason: 'waits in the buffer behind older files' };
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
