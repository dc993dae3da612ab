/** The machine and software a bench ran on, recorded with every result (STYLE §16). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';

export interface BenchEnv {
  readonly node: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memGB: number;
  readonly gitSha: string;
  readonly gitDirty: boolean;
  readonly date: string;
  readonly platform: string;
  readonly versions: Readonly<Record<string, string>>;
}

/** Below this many cores the numbers are noisy: client, server and database share the CPU. */
export const MIN_QUIET_CORES = 3;

export function collectEnv(extraVersions: Readonly<Record<string, string>> = {}): BenchEnv {
  return {
    node: process.version,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memGB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    gitSha: git(['rev-parse', '--short=12', 'HEAD']) ?? 'unknown',
    gitDirty: (git(['status', '--porcelain', '--untracked-files=no']) ?? '') !== '',
    date: new Date().toISOString(),
    platform: `${process.platform} ${process.arch}`,
    versions: { ...packageVersions(), ...extraVersions },
  };
}

/** One line for the top of a report, with the <3-core warning aedes prints. */
export function describeEnv(env: BenchEnv): string {
  const warn =
    env.cores < MIN_QUIET_CORES
      ? ` — warning: only ${env.cores} cores, load generator, server and database share them`
      : '';
  return `${env.cpu}, ${env.cores} cores, ${env.memGB} GB, Node ${env.node}, commit ${env.gitSha}${env.gitDirty ? '+dirty' : ''}${warn}`;
}

function git(args: readonly string[]): string | undefined {
  try {
    return execFileSync('git', args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

const REPORTED_PACKAGES = ['fast-xml-parser', 'mysql2', 'fastify'] as const;

function packageVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const name of REPORTED_PACKAGES) {
    try {
      const url = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
      const parsed: unknown = JSON.parse(readFileSync(url, 'utf8'));
      if (typeof parsed === 'object' && parsed !== null && 'version' in parsed) {
        versions[name] = String(parsed.version);
      }
    } catch {
      // not installed: nothing to report
    }
  }
  return versions;
}
