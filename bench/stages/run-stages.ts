/**
 * `npm run bench -- --stages`: the per-stage cost table. The standard scenario's creation pass
 * and one steady pass run against a server started under `--cpu-prof` (a profile per thread:
 * the main thread and each parse worker), then the same run without profiling, for its overhead.
 * Each pass's window (monotonic clock, the profiles' own) cuts the samples; /proc's per-thread
 * CPU over the same window covers what no profile sees. `--repeat N` alternates N such pairs
 * and reports medians.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative } from 'node:path';
import type { E2eOptions } from '../e2e/options.js';
import { saveResults } from '../e2e/save-results.js';
import { cpuMsPerPacket } from '../e2e/render.js';
import { isAborted, runE2e, type E2eHooks, type PassKind } from '../e2e/scenario.js';
import { formatTable, median } from '../lib/index.js';
import { attributeProfile, type CpuProfile, type Stage } from './attribute.js';
import {
  floorParagraph,
  stagesMarkdown,
  stagesRows,
  type PassRows,
  type StagesResult,
} from './render-stages.js';
import { stageTable, type StageRow } from './table.js';
import { groupThreadCpu, readThreadCpu, type ThreadCpu } from './threads.js';

interface PassWindow {
  readonly name: string;
  readonly kind: PassKind;
  readonly fromUs: number;
  readonly before: readonly ThreadCpu[];
  toUs?: number;
  after?: readonly ThreadCpu[];
  pid?: number;
  committed?: number;
}

export interface MeasuredPass {
  readonly name: string;
  readonly kind: PassKind;
  readonly committed: number;
  readonly packetsPerSec: number;
  /** MariaDB's CPU per committed packet over the pass, as the standard bench measures it. */
  readonly mariadbUsPerPacket: number;
  readonly rows: readonly StageRow[];
}

export interface StagesRun {
  readonly profiled: boolean;
  readonly status: string;
  readonly passes: readonly MeasuredPass[];
  /** Kept in the JSON so a run's profiles can be attributed again. */
  readonly windows: readonly PassWindow[];
  readonly profileDir: string | undefined;
}

function monotonicUs(): number {
  // The clock V8 stamps profile samples with (CLOCK_MONOTONIC, µs).
  return Number(process.hrtime.bigint() / 1000n);
}

function windowHooks(windows: PassWindow[]): E2eHooks {
  return {
    beforePass(target, kind, name) {
      if (target.serverPid === undefined) return;
      windows.push({ name, kind, fromUs: monotonicUs(), before: readThreadCpu(target.serverPid) });
    },
    afterPass(target, pass) {
      const window = windows.at(-1);
      if (target.serverPid === undefined || window?.name !== pass.name) return Promise.resolve();
      window.toUs = monotonicUs();
      window.after = readThreadCpu(target.serverPid);
      window.pid = target.serverPid;
      window.committed = pass.committed;
      return Promise.resolve();
    },
  };
}

/** `CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`: thread 0 is the main thread. */
function readProfiles(dir: string): { main: CpuProfile | undefined; workers: CpuProfile[] } {
  let main: CpuProfile | undefined;
  const workers: CpuProfile[] = [];
  for (const name of readdirSync(dir).sort()) {
    const thread = /\.(\d+)\.\d+\.cpuprofile$/.exec(name)?.[1];
    if (thread === undefined) continue;
    const profile = JSON.parse(readFileSync(join(dir, name), 'utf8')) as CpuProfile;
    if (thread === '0') main = profile;
    else workers.push(profile);
  }
  return { main, workers };
}

async function runOnce(
  options: E2eOptions,
  profileDir: string | undefined,
  log: (line: string) => void,
  stop: AbortSignal,
): Promise<StagesRun> {
  const windows: PassWindow[] = [];
  const profileArgs =
    profileDir === undefined
      ? []
      : [
          '--cpu-prof',
          `--cpu-prof-dir=${profileDir}`,
          `--cpu-prof-interval=${options.stagesInterval}`,
        ];
  const result = await runE2e(
    {
      ...options,
      steadyPasses: 1,
      latencyLoad: 0,
      serverNodeArgs: [...options.serverNodeArgs, ...profileArgs],
    },
    log,
    stop,
    windowHooks(windows),
  );
  // The server has stopped: every thread has written its profile.
  const profiles = profileDir === undefined ? undefined : readProfiles(profileDir);
  const passes: MeasuredPass[] = [];
  for (const w of windows) {
    if (w.after === undefined || w.pid === undefined || w.committed === undefined) continue;
    if (w.toUs === undefined) continue;
    const span = { fromUs: w.fromUs, toUs: w.toUs, sampleUs: options.stagesInterval };
    const main =
      profiles?.main === undefined
        ? new Map<Stage, number>()
        : attributeProfile(profiles.main, span);
    const workers = (profiles?.workers ?? []).map((p) => attributeProfile(p, span));
    const threads = groupThreadCpu(w.pid, w.before, w.after, workers.length);
    const pass = result.passes.find((p) => p.name === w.name);
    passes.push({
      name: w.name,
      kind: w.kind,
      committed: w.committed,
      packetsPerSec: pass?.packetsPerSec ?? Number.NaN,
      mariadbUsPerPacket:
        pass === undefined ? Number.NaN : cpuMsPerPacket(pass.dbCpuPercent, pass) * 1000,
      rows: stageTable({ committed: w.committed, threads, main, workers }),
    });
  }
  return { profiled: profileDir !== undefined, status: result.status, passes, windows, profileDir };
}

/** Per pass kind, each row's median over the runs of one variant. */
export function medianRows(runs: readonly StagesRun[], kind: PassKind): PassRows | undefined {
  const passes = runs.flatMap((r) => r.passes.filter((p) => p.kind === kind));
  const first = passes[0];
  if (first === undefined) return undefined;
  return {
    packetsPerSec: median(passes.map((p) => p.packetsPerSec)),
    mariadbUsPerPacket: median(passes.map((p) => p.mariadbUsPerPacket)),
    rows: first.rows.map((row, i) => ({
      ...row,
      usPerPacket: median(passes.map((p) => p.rows[i]?.usPerPacket ?? Number.NaN)),
    })),
  };
}

export async function runStagesBench(
  options: E2eOptions,
  outDir: string,
  log: (line: string) => void,
  stop: AbortSignal,
  command: string,
): Promise<number> {
  if (options.target !== undefined) {
    log('--stages profiles the server it starts itself: leave out --target');
    return 2;
  }
  const profiled: StagesRun[] = [];
  const plain: StagesRun[] = [];
  const loads: number[] = [];
  for (let i = 0; i < options.repeat && !stop.aborted; i++) {
    const profileDir = mkdtempSync(join(outDir, 'stages-cpuprofile-'));
    log(
      `stages ${i + 1}/${options.repeat}: profiled run (profiles in ${relative(process.cwd(), profileDir)})`,
    );
    profiled.push(await runOnce(options, profileDir, log, stop));
    loads.push(loadavg()[0] ?? Number.NaN);
    if (isAborted(stop)) break;
    log(`stages ${i + 1}/${options.repeat}: the same run unprofiled`);
    plain.push(await runOnce(options, undefined, log, stop));
    loads.push(loadavg()[0] ?? Number.NaN);
  }
  const result: StagesResult = {
    creation: medianRows(profiled, 'creation'),
    steady: medianRows(profiled, 'steady'),
    plainCreation: medianRows(plain, 'creation'),
    plainSteady: medianRows(plain, 'steady'),
    runs: profiled.length,
    intervalUs: options.stagesInterval,
    loadAverage: median(loads),
  };
  console.log('CPU µs per committed packet by stage (medians):');
  console.log(formatTable(stagesRows(result)));
  console.log(floorParagraph(result).join('\n'));
  saveResults({
    scenario: 'stages',
    options,
    results: { result, profiled, plain },
    outDir,
    log,
    markdown: (env) => stagesMarkdown(result, env, command),
  });
  const ok = [...profiled, ...plain].every((r) => r.status === 'ok');
  return ok && profiled.length > 0 ? 0 : 1;
}
