/**
 * `npx tsx bench/generator/cli.ts …` — our `pandora_xml_stress` (spec dataserver.md §8.4): writes a fleet's
 * passes into a folder (atomically: `.part` then rename) or sends them to a Tentacle server.
 * Unlike the reference it needs no `tentacle_client` and leaves no temporary files behind.
 */
import { parseLongFlags, type SettingsTable } from '../../src/core/index.js';
import { sendFiles } from '../load/sender.js';
import { openRawConnection } from '../load/raw-tentacle.js';
import { capacityStudyModules } from './modules.js';
import { createFleet, writeFiles, type FileNameStyle } from './fleet.js';

const HELP = `Usage: npx tsx bench/generator/cli.ts [options] (--out DIR | --tentacle HOST:PORT)
  --agents N          agents (default 10)
  --modules M         modules per agent, capacity-study mix (default 33)
  --passes P          time steps, one file per agent each (default 1)
  --interval S        seconds between time steps (default 300)
  --start EPOCH       data time of the first step (default: now minus a day)
  --seed N            same seed, same files (default 1)
  --change-rate R     fraction of values changing per step, 0..1 (default: fresh draw each step)
  --windows-share R   fraction of ISO-8859-1 Windows-style agents (default 0)
  --prefix NAME       agent name prefix (default bench-agent)
  --names STYLE       agent | md5 | stress file names (default agent)
  --out DIR           write the files here
  --tentacle H:P      send them over Tentacle instead (SEND, one connection per file)
  --password PWD      Tentacle password
  --concurrency C     parallel Tentacle connections (default 4)`;

interface Args {
  readonly values: Map<string, string>;
}

/** The flags, read by the repository's one long-flag parser (core/settings.ts); all strings. */
const FLAGS: SettingsTable = Object.fromEntries(
  [
    'agents',
    'modules',
    'passes',
    'interval',
    'start',
    'seed',
    'change_rate',
    'windows_share',
    'prefix',
    'names',
    'out',
    'tentacle',
    'password',
    'concurrency',
  ].map((key) => [key, { kind: 'string', help: 'see HELP' }]),
);

function parse(argv: readonly string[]): Args | undefined {
  const { flags, positional, options } = parseLongFlags(argv, FLAGS, {
    help: { type: 'boolean', short: 'h' },
  });
  if (options.has('help')) return undefined;
  if (positional.length > 0) throw new Error(`unexpected argument ${positional[0] ?? ''}`);
  // Keyed as HELP spells them (dashes).
  return { values: new Map([...flags].map(([key, value]) => [key.replaceAll('_', '-'), value])) };
}

function numberOf(args: Args, key: string, fallback: number): number {
  const raw = args.values.get(key);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`--${key} must be a number`);
  return n;
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  const out = args?.values.get('out');
  const tentacle = args?.values.get('tentacle');
  if (!args || (out === undefined) === (tentacle === undefined)) {
    console.log(HELP);
    return args ? 2 : 0;
  }
  const changeRate = args.values.get('change-rate');
  const start = args.values.get('start');
  const fleet = createFleet({
    agents: numberOf(args, 'agents', 10),
    modules: capacityStudyModules(numberOf(args, 'modules', 33)),
    seed: numberOf(args, 'seed', 1),
    intervalSec: numberOf(args, 'interval', 300),
    windowsShare: numberOf(args, 'windows-share', 0),
    agentPrefix: args.values.get('prefix') ?? 'bench-agent',
    fileNames: (args.values.get('names') ?? 'agent') as FileNameStyle,
    ...(changeRate === undefined ? {} : { changeRate: Number(changeRate) }),
    ...(start === undefined ? {} : { startEpoch: Number(start) }),
  });
  const passes = numberOf(args, 'passes', 1);
  let total = 0;
  for (let p = 0; p < passes; p++) {
    const files = fleet.pass(p).files();
    if (out !== undefined) {
      total += await writeFiles(files, out);
      continue;
    }
    const [host = '127.0.0.1', port = '41121'] = (tentacle ?? '').split(':');
    const password = args.values.get('password');
    const result = await sendFiles(
      [...files].map((f) => ({ name: f.name, bytes: f.bytes, agentIndex: f.agentIndex })),
      {
        target: {
          host,
          port: Number(port),
          tls: false,
          timeoutMs: 10_000,
          ...(password === undefined ? {} : { password }),
        },
        open: openRawConnection,
        concurrency: numberOf(args, 'concurrency', 4),
        mode: 'per-file',
      },
    );
    total += result.sent;
    if (result.failed > 0) {
      console.error(`pass ${p}: ${result.failed} files failed: ${result.errors.join('; ')}`);
      return 1;
    }
  }
  console.error(
    `${total} files ${out === undefined ? `sent to ${tentacle ?? ''}` : `written to ${out}`}`,
  );
  return 0;
}

process.exitCode = await main();
