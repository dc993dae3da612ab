/**
 * A fleet of simulated agents that report once per pass, like `pandora_xml_stress` stepping
 * from `time_from` to `time_to`: each pass advances the data clock by the agent interval and
 * yields one file per agent. Values follow each module's profile and the fleet's change rate.
 * Deterministic: agent i draws from its own seeded stream, so a pass is the same whatever order
 * or subset it is generated in.
 */
import { createHash } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { capacityStudyModules, type ModuleSpec } from './modules.js';
import { nextValue } from './profiles.js';
import { createRng, deriveSeed, type Rng } from './rng.js';
import { encodeAgentXml, type AgentStyle } from './xml.js';

export type FileNameStyle = 'agent' | 'md5' | 'stress';

export interface FleetOptions {
  readonly agents: number;
  readonly modules?: readonly ModuleSpec[];
  readonly seed?: number;
  /** Fraction of values (0..1) that change between passes; undefined = fresh draw each pass. */
  readonly changeRate?: number;
  /** Fraction of agents (0..1) that are Windows-style (ISO-8859-1). */
  readonly windowsShare?: number;
  readonly agentPrefix?: string;
  readonly intervalSec?: number;
  /** Data epoch of the first pass (seconds). Defaults to now minus a day, whole minutes. */
  readonly startEpoch?: number;
  readonly group?: string;
  /** `agent`: `<agent>.<epoch>.data`; `md5`: Unix agent's `<md5(agent)>.<epoch>.data`;
   *  `stress`: `pandora_xml_stress`'s `<agent>_<epoch>.data`. */
  readonly fileNames?: FileNameStyle;
}

export interface GeneratedFile {
  readonly name: string;
  readonly agentName: string;
  readonly agentIndex: number;
  readonly style: AgentStyle;
  readonly bytes: Buffer;
  readonly moduleCount: number;
}

export interface Pass {
  readonly index: number;
  readonly epoch: number;
  /** The XML timestamp of this pass, `YYYY/MM/DD HH:MM:SS` local time (Unix agents). */
  readonly timestamp: string;
  /** The same instant as MariaDB stores DATETIMEs: `YYYY-MM-DD HH:MM:SS`. */
  readonly sqlTimestamp: string;
  /** Files for agents [from, to) (all by default), in agent order. */
  files(from?: number, to?: number): Generator<GeneratedFile, void, undefined>;
}

export interface Fleet {
  readonly agentNames: readonly string[];
  readonly modules: readonly ModuleSpec[];
  readonly intervalSec: number;
  /** Builds pass `index` (0 = the creation pass). Passes must be requested in order. */
  pass(index: number): Pass;
}

const SECONDS_PER_DAY = 86_400;
const LATIN1_EXTRA_CHARS = 'ñáéíóúüçÑÁÉ';

interface AgentState {
  readonly name: string;
  readonly style: AgentStyle;
  readonly rng: Rng;
  values: string[] | undefined;
  lastPass: number;
}

export function createFleet(options: FleetOptions): Fleet {
  const modules = options.modules ?? capacityStudyModules();
  const seed = options.seed ?? 1;
  const intervalSec = options.intervalSec ?? 300;
  const startEpoch =
    options.startEpoch ?? Math.floor((Date.now() / 1000 - SECONDS_PER_DAY) / 60) * 60;
  const prefix = options.agentPrefix ?? 'bench-agent';
  const width = Math.max(5, String(options.agents).length);
  const windowsShare = options.windowsShare ?? 0;
  const fileNames = options.fileNames ?? 'agent';

  const styleRng = createRng(deriveSeed(seed, -1));
  const agents: AgentState[] = [];
  for (let i = 0; i < options.agents; i++) {
    agents.push({
      name: `${prefix}-${String(i + 1).padStart(width, '0')}`,
      style: styleRng.chance(windowsShare) ? 'windows' : 'unix',
      rng: createRng(deriveSeed(seed, i)),
      values: undefined,
      lastPass: -1,
    });
  }

  const valuesFor = (agent: AgentState, passIndex: number): string[] => {
    if (agent.lastPass >= passIndex && agent.values) {
      if (agent.lastPass === passIndex) return agent.values;
      throw new Error(`pass ${passIndex} requested after pass ${agent.lastPass}`);
    }
    // Catch up on skipped passes so values only depend on the pass index.
    while (agent.lastPass < passIndex) {
      const previous = agent.values;
      const extra = agent.style === 'windows' ? LATIN1_EXTRA_CHARS : '';
      agent.values = modules.map((m, j) =>
        nextValue(m.profile, previous?.[j], agent.rng, options.changeRate, extra),
      );
      agent.lastPass += 1;
    }
    return agent.values ?? [];
  };

  return {
    agentNames: agents.map((a) => a.name),
    modules,
    intervalSec,
    pass(index) {
      const epoch = startEpoch + index * intervalSec;
      const date = new Date(epoch * 1000);
      const timestamp = formatLocal(date, '/');
      return {
        index,
        epoch,
        timestamp,
        sqlTimestamp: formatLocal(date, '-'),
        *files(from = 0, to = agents.length) {
          for (let i = from; i < Math.min(to, agents.length); i++) {
            const agent = agents[i];
            if (!agent) continue;
            const values = valuesFor(agent, index);
            const bytes = encodeAgentXml({
              style: agent.style,
              agentName: agent.name,
              // Windows agents write dashes, Unix agents slashes (spec §1.3).
              timestamp: agent.style === 'windows' ? formatLocal(date, '-') : timestamp,
              intervalSec,
              osName: agent.style === 'windows' ? 'Windows' : 'Linux',
              osVersion: agent.style === 'windows' ? '10.0.19045' : '6.1.0',
              agentVersion: '7.0NG.776(Build 240321)',
              group: options.group ?? 'Servers',
              modules,
              values,
            });
            yield {
              name: dataFileName(agent.name, epoch, fileNames),
              agentName: agent.name,
              agentIndex: i,
              style: agent.style,
              bytes,
              moduleCount: modules.length,
            };
          }
        },
      };
    },
  };
}

export function dataFileName(agentName: string, epoch: number, style: FileNameStyle): string {
  switch (style) {
    case 'agent':
      return `${agentName}.${epoch}.data`;
    case 'md5':
      return `${createHash('md5').update(agentName).digest('hex')}.${epoch}.data`;
    case 'stress':
      return `${agentName}_${epoch}.data`;
  }
}

/** `YYYY/MM/DD HH:MM:SS` (or with dashes) in the process's local time zone. */
export function formatLocal(date: Date, dateSeparator: '/' | '-'): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}${dateSeparator}${p(date.getMonth() + 1)}${dateSeparator}${p(date.getDate())} ` +
    `${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}`
  );
}

/** Writes files atomically (`.part` then rename) so a watching server never sees half a file. */
export async function writeFiles(files: Iterable<GeneratedFile>, dir: string): Promise<number> {
  await mkdir(dir, { recursive: true });
  let count = 0;
  for (const file of files) {
    const partial = join(dir, `${file.name}.part`);
    await writeFile(partial, file.bytes);
    await rename(partial, join(dir, file.name));
    count += 1;
  }
  return count;
}
