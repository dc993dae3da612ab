/** The per-stage cost table as console rows and as the `bench:stages` section of docs/bench.md. */
import {
  describeEnv,
  formatMarkdownTable,
  formatNumber,
  type BenchEnv,
  type Cell,
  type Row,
} from '../lib/index.js';
import { durabilityFloor, floorLine, type Floor } from './floor.js';
import {
  DURABLE_WRITE_STAGE,
  POOL_STAGE,
  PROFILER_STAGE,
  topStages,
  TOTAL_STAGE,
  type StageRow,
} from './table.js';

export interface PassRows {
  readonly rows: readonly StageRow[];
  readonly packetsPerSec: number;
  /** MariaDB's CPU per committed packet in the same pass (the standard bench's figure). */
  readonly mariadbUsPerPacket: number;
}

export interface StagesResult {
  readonly creation: PassRows | undefined;
  readonly steady: PassRows | undefined;
  readonly plainCreation: PassRows | undefined;
  readonly plainSteady: PassRows | undefined;
  /** Profiled runs (each paired with an unprofiled one). */
  readonly runs: number;
  readonly intervalUs: number;
  readonly loadAverage: number;
}

function us(value: number | undefined): Cell {
  return value === undefined || !Number.isFinite(value) ? '–' : Math.round(value);
}

function share(value: number | undefined, total: number | undefined): Cell {
  if (value === undefined || total === undefined || !(total > 0)) return '–';
  return Math.round((value / total) * 1000) / 10;
}

function usText(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '–' : formatNumber(value, 0);
}

function rowOf(pass: PassRows | undefined, stage: string): number | undefined {
  return pass?.rows.find((r) => r.stage === stage)?.usPerPacket;
}

function totalOf(pass: PassRows | undefined): number | undefined {
  return rowOf(pass, TOTAL_STAGE);
}

export function stagesRows(result: StagesResult): Row[] {
  const reference = result.creation ?? result.steady;
  if (reference === undefined) return [];
  const creationTotal = totalOf(result.creation);
  const steadyTotal = totalOf(result.steady);
  const rows: Row[] = reference.rows.map((row, i) => {
    const c = result.creation?.rows[i]?.usPerPacket;
    const s = result.steady?.rows[i]?.usPerPacket;
    return {
      stage: row.stage,
      'measured by': row.measuredBy,
      'creation µs/pkt': us(c),
      'creation %': share(c, creationTotal),
      'steady µs/pkt': us(s),
      'steady %': share(s, steadyTotal),
    };
  });
  rows.push({
    stage: 'total without --cpu-prof (same scenario, own run)',
    'measured by': '/proc, per thread',
    'creation µs/pkt': us(totalOf(result.plainCreation)),
    'creation %': '',
    'steady µs/pkt': us(totalOf(result.plainSteady)),
    'steady %': '',
  });
  rows.push({
    stage: 'MariaDB, same run, unprofiled',
    'measured by': '/proc, mariadbd (first send to last commit)',
    'creation µs/pkt': us(result.plainCreation?.mariadbUsPerPacket),
    'creation %': '',
    'steady µs/pkt': us(result.plainSteady?.mariadbUsPerPacket),
    'steady %': '',
  });
  return rows;
}

/**
 * A pass's durability floor: the durable write and libuv's pool from the profiled run (the only
 * one with stage rows), the server's total and MariaDB's from the unprofiled one.
 */
export function passFloor(
  profiled: PassRows | undefined,
  plain: PassRows | undefined,
): Floor | undefined {
  return durabilityFloor({
    durableWriteUs: rowOf(profiled, DURABLE_WRITE_STAGE),
    poolUs: rowOf(profiled, POOL_STAGE),
    serverUs: totalOf(plain),
    mariadbUs: plain?.mariadbUsPerPacket,
  });
}

export function floorParagraph(result: StagesResult): string[] {
  return [
    "Floor: the durability promise's own cost (the durable write row plus libuv's pool, where the",
    "fsyncs before `SEND OK` run; profiled run) against MariaDB's whole CPU per packet and the",
    "server's total, both from the unprofiled run. MariaDB's figure is the whole mariadbd's CPU,",
    'as in the standard bench: any other client of the same server counts in it.',
    '',
    floorLine('creation', passFloor(result.creation, result.plainCreation)),
    floorLine('steady', passFloor(result.steady, result.plainSteady)),
  ];
}

function percentOver(value: number, base: number): string {
  const pct = ((value - base) / base) * 100;
  return `${pct >= 0 ? '+' : ''}${formatNumber(pct, 0)} %`;
}

/** The profiled run's CPU per packet against the unprofiled run's, and without the samplers. */
function overhead(profiled: PassRows | undefined, plain: PassRows | undefined): string {
  const total = totalOf(profiled);
  const base = totalOf(plain);
  if (total === undefined || base === undefined || !(base > 0)) return 'not measured';
  const samplers = rowOf(profiled, PROFILER_STAGE) ?? 0;
  return (
    `${percentOver(total, base)} (${usText(total)} against ${usText(base)} µs), ` +
    `${percentOver(total - samplers, base)} without the sampling threads' own row`
  );
}

function topLine(name: string, pass: PassRows | undefined): string {
  if (pass === undefined) return `- ${name}: no data`;
  const top = topStages(pass.rows).map((r) => `${r.stage} ${usText(r.usPerPacket)} µs`);
  return `- ${name} (${formatNumber(pass.packetsPerSec, 0)} pkt/s profiled): ${top.join(', ')}`;
}

export function stagesMarkdown(result: StagesResult, env: BenchEnv, command: string): string {
  return [
    "### Where a packet's CPU goes (per stage)",
    '',
    `Machine: ${describeEnv(env)}, ${env.date.slice(0, 16).replace('T', ' ')} UTC, load average ${formatNumber(result.loadAverage, 1)}.`,
    '',
    `Command: \`${command}\` — ${result.runs} profiled run(s) of the creation pass and one steady pass (3,000 agents × 33 modules, 64 connections), each followed by the same run unprofiled; medians shown.`,
    '',
    formatMarkdownTable(stagesRows(result)),
    '',
    ...floorParagraph(result),
    '',
    `Overhead of \`--cpu-prof\` (sampling every ${result.intervalUs} µs) on the process's CPU per packet: creation ${overhead(result.creation, result.plainCreation)}; steady ${overhead(result.steady, result.plainSteady)}. The sampling threads cost CPU per second, not per packet, so their row grows with a pass's length; what is left of the overhead (signals and stack walks on the sampled threads) is spread over the stage rows, which are the profiled run's.`,
    '',
    'Costliest stages:',
    '',
    topLine('creation', result.creation),
    topLine('steady', result.steady),
    '',
    'How it is measured: the bench starts the server under `--cpu-prof`, which writes a V8 CPU',
    'profile for the main thread and one for each parse worker. The samples taken between the start',
    'of a pass and the end of its last commit go to the stage of the innermost frame on their stack',
    "that names one, by the frame's file (`bench/stages/attribute.ts`: `src/tentacle/*` is accept +",
    'protocol, its spool writer and `core/spare-files`, `fd-calls` the durable write,',
    '`dataserver/stages` and `spool` the intake, `parse-pool` the hand-off to and from the workers,',
    '`logic` and `state` processing, `writer/*-sql.ts` SQL building, the rest of `writer` the batch',
    'writer, mysql2 the driver, pino logging, prom-client and fastify the `/metrics` scrapes the',
    'bench itself makes), so a pino call in a session is logging and Node internals under a session',
    'frame are the protocol. Each sample weighs one sampling interval: a thread waiting for a core',
    'takes no samples, so the gap before its next one is not CPU. What no profile sees comes from each',
    "thread's user + system time in `/proc/PID/task`: libuv's pool (the threads with more system than",
    'user time: the fsyncs before `SEND OK` and their kernel work), the parse worker (its CPU shared',
    "out by its samples), the profiler's own sampling threads (`v8:ProfEvntProc`, only in the",
    "profiled run) and V8's helper threads (the rest: concurrent marking and sweeping, compiling).",
    "The row before the total is what is left: the main thread's CPU its samples do not explain",
    '(negative when it took more samples than its CPU time).',
    '',
  ].join('\n');
}
