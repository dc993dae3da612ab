/**
 * `npm run bench -- --queue`: the standard scenario in local-spool mode and in scale-out mode
 * (issue 17), where every packet goes listener → Redis (BullMQ, AOF always) → worker. Each repeat
 * runs every variant once, in a rotated order so drift on a shared machine favours none; the
 * table gives CPU per packet by process and the Redis hop's cost: (server + Redis in queue mode)
 * − (server in spool mode), the figure (target ≤ 0.5 ms).
 */
import { loadavg } from 'node:os';
import { describeEnv, formatMarkdownTable, formatTable, median, type Row } from '../lib/index.js';
import type { E2eOptions } from './options.js';
import { cpuCost, cpuMsPerPacket, passRows } from './render.js';
import { saveResults } from './save-results.js';
import { isAborted, runE2e, type E2eResult, type PassKind, type PassResult } from './scenario.js';

/** The target for the hop: server + Redis CPU per packet over the spool's server CPU. */
export const HOP_TARGET_MS = 0.5;

interface Variant {
  readonly label: string;
  /** Worker processes in scale-out mode; undefined = local spool. */
  readonly workers: number | undefined;
}

export interface QueueRun {
  readonly variant: string;
  readonly workers: number | undefined;
  readonly result: E2eResult;
}

const SPOOL: Variant = { label: 'local spool', workers: undefined };

function variantsOf(options: E2eOptions): Variant[] {
  return [
    SPOOL,
    ...options.queueWorkers.map((n) => ({
      label: `queue, ${String(n)} worker${n === 1 ? '' : 's'}`,
      workers: n,
    })),
  ];
}

/** The variants in the order of repeat `i`: rotated by one each repeat. */
function orderFor(variants: readonly Variant[], i: number): Variant[] {
  const k = i % variants.length;
  return [...variants.slice(k), ...variants.slice(0, k)];
}

/** Server + Redis CPU of one pass per packet (Redis 0 in spool mode). */
function serverAndRedisMs(p: PassResult): number {
  const redis = cpuMsPerPacket(p.redisCpuPercent, p);
  return cpuMsPerPacket(p.serverCpuPercent, p) + (Number.isFinite(redis) ? redis : 0);
}

function passesOf(runs: readonly QueueRun[], variant: string, kind: PassKind): PassResult[] {
  return runs
    .filter((r) => r.variant === variant)
    .flatMap((r) => r.result.passes.filter((p) => p.kind === kind && p.complete));
}

/** One row per variant and pass kind: medians over every complete pass of the runs. */
export function queueComparisonRows(runs: readonly QueueRun[], variants: readonly string[]): Row[] {
  const rows: Row[] = [];
  for (const kind of ['creation', 'steady'] as const) {
    const spoolServerMs = cpuCost(passesOf(runs, SPOOL.label, kind))?.serverMs ?? Number.NaN;
    for (const variant of variants) {
      const passes = passesOf(runs, variant, kind);
      const cost = cpuCost(passes);
      const serverRedis = median(passes.map(serverAndRedisMs).filter(Number.isFinite));
      rows.push({
        pass: kind,
        variant,
        runs: runs.filter((r) => r.variant === variant).length,
        'pkt/s': median(passes.map((p) => p.packetsPerSec)),
        'p99 ms': median(passes.map((p) => p.latencyMs.p99)),
        'server ms/pkt': cost?.serverMs ?? Number.NaN,
        'Redis ms/pkt': cost?.redisMs ?? Number.NaN,
        'server+Redis ms/pkt': serverRedis,
        'hop ms/pkt': variant === SPOOL.label ? Number.NaN : serverRedis - spoolServerMs,
        'DB ms/pkt': cost?.dbMs ?? Number.NaN,
        'total ms/pkt': cost?.totalMs ?? Number.NaN,
      });
    }
  }
  return rows;
}

export async function runQueueComparison(
  options: E2eOptions,
  outDir: string,
  log: (line: string) => void,
  stop: AbortSignal,
  command: string,
): Promise<number> {
  const variants = variantsOf(options);
  const runs: QueueRun[] = [];
  for (let i = 0; i < options.repeat && !isAborted(stop); i++) {
    for (const variant of orderFor(variants, i)) {
      if (isAborted(stop)) break;
      log(`run ${String(i + 1)}/${String(options.repeat)}: ${variant.label}`);
      const result = await runE2e(
        { ...options, outDir, scaleOutWorkers: variant.workers },
        log,
        stop,
      );
      runs.push({ variant: variant.label, workers: variant.workers, result });
      console.log(`${variant.label}:`);
      console.log(formatTable(passRows(result.passes)));
      if (result.status !== 'ok') console.log(`status: ${result.status}`);
    }
  }
  const rows = queueComparisonRows(
    runs,
    variants.map((v) => v.label),
  );
  console.log(
    `local spool against the Redis queue (medians over ${String(options.repeat)} run(s)):`,
  );
  console.log(formatTable(rows));
  saveResults({
    scenario: 'queue',
    options,
    results: { hopTargetMs: HOP_TARGET_MS, summary: rows, runs },
    outDir,
    log,
    markdown: (env) => queueMarkdown({ rows, command, env: describeEnv(env), options }),
  });
  return runs.every((r) => r.result.status === 'ok') ? 0 : 1;
}

function queueMarkdown(input: {
  rows: Row[];
  command: string;
  env: string;
  options: E2eOptions;
}): string {
  const { options } = input;
  return [
    '### Scale-out: the Redis hop (issue 17)',
    '',
    `Machine: ${input.env}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; load average at the end ${loadavg()[0]?.toFixed(1) ?? '?'} (anything above the core count means other work shared the machine).`,
    '',
    `Command: \`${input.command}\` — ${String(options.repeat)} run(s) of each variant, rotated, medians over the complete passes shown.`,
    '',
    formatMarkdownTable(input.rows),
    '',
    'Every variant is the standard scenario above. **local spool**: one server, Tentacle → spool',
    'folder → MariaDB. **queue, N workers**: the bench starts a redis-server of its own (AOF',
    '`appendfsync always`, so `SEND OK` means the job is on disk) and N `serve --queue-url`',
    'processes on one database: the first is the Tentacle listener and a worker, the others',
    'workers only (`--no-tentacle`); every packet goes listener → BullMQ partition queue (64) →',
    'any worker. Server CPU is summed over the N processes; Redis CPU is the redis-server',
    `process's, sampled like MariaDB's. **hop** = (server + Redis, queue mode) − (server, local spool), per packet; the issue's target is ≤ ${String(HOP_TARGET_MS)} ms.`,
    '',
  ].join('\n');
}
