/**
 * Every knob of `npm run bench`, declared once: the table drives parsing, defaults and `--help`.
 */
import { parseLongFlags, type SettingsTable } from '../../src/core/index.js';
import { parseDurationMs } from '../lib/index.js';

export interface E2eOptions {
  agents: number;
  modules: number;
  steadyPasses: number;
  concurrency: number;
  mode: 'per-file' | 'persistent';
  changeRate: number;
  windowsShare: number;
  seed: number;
  agentPrefix: string;
  intervalSec: number;
  repeat: number;
  latencyLoad: number;
  latencySeconds: number;
  target: string | undefined;
  db: string | undefined;
  metricsUrl: string | undefined;
  serverPid: number | undefined;
  dbServer: string;
  password: string | undefined;
  tls: boolean;
  zip: boolean;
  client: 'library' | 'raw';
  serverArgs: string[];
  serverNodeArgs: string[];
  spoolDir: string;
  serverEntry: string;
  build: boolean;
  sendTimeoutMs: number;
  commitTimeoutMs: number;
  maxDurationMs: number;
  pollIntervalMs: number;
  keepDb: boolean;
  outDir: string | undefined;
  baseline: string | undefined;
  saveBaseline: boolean;
  readme: string | undefined;
  scaling: boolean;
  alerts: boolean;
  stages: boolean;
  stagesInterval: number;
  queue: boolean;
  queueWorkers: number[];
  alertsPerAgent: number;
  alertCacheWaitMs: number;
  scalingAgents: number[];
  scalingModules: number[];
  scalingModuleAgents: number;
  scalingMaxDurationMs: number;
  soakMs: number | undefined;
  soakShare: number;
  rate: number | undefined;
  soakSampleMs: number;
  soakWarmupMs: number | undefined;
  soakFrom: string | undefined;
  quiet: boolean;
  help: boolean;
}

type Kind = 'int' | 'number' | 'string' | 'bool' | 'duration' | 'list' | 'repeat';

interface Knob {
  readonly flag: string;
  readonly key: keyof E2eOptions;
  readonly kind: Kind;
  readonly default?: string;
  readonly help: string;
}

export const KNOBS: readonly Knob[] = [
  {
    flag: 'agents',
    key: 'agents',
    kind: 'int',
    default: '3000',
    help: 'simulated agents (one file each per pass)',
  },
  {
    flag: 'modules',
    key: 'modules',
    kind: 'int',
    default: '33',
    help: 'modules per agent (capacity-study mix: 1 string, proc:data 17:15)',
  },
  {
    flag: 'steady-passes',
    key: 'steadyPasses',
    kind: 'int',
    default: '2',
    help: 'full-speed passes after the creation pass',
  },
  {
    flag: 'concurrency',
    key: 'concurrency',
    kind: 'int',
    default: '64',
    help: 'agents sending at the same time (connections); the self-started server serves as many at once',
  },
  {
    flag: 'mode',
    key: 'mode',
    kind: 'string',
    default: 'per-file',
    help: "'per-file' (a connection per file, as agents do) or 'persistent'",
  },
  {
    flag: 'change-rate',
    key: 'changeRate',
    kind: 'number',
    default: '0.1',
    help: 'fraction of values that change between passes (information fragmentation)',
  },
  {
    flag: 'windows-share',
    key: 'windowsShare',
    kind: 'number',
    default: '0.2',
    help: 'fraction of agents sending Windows-style ISO-8859-1 files',
  },
  {
    flag: 'seed',
    key: 'seed',
    kind: 'int',
    default: '1',
    help: 'generator seed (same seed, same files)',
  },
  {
    flag: 'agent-prefix',
    key: 'agentPrefix',
    kind: 'string',
    default: 'bench-agent',
    help: 'agent names are <prefix>-00001…; change it to keep runs apart in a shared database',
  },
  {
    flag: 'interval',
    key: 'intervalSec',
    kind: 'int',
    default: '300',
    help: 'agent interval in seconds (verdict: a pass must fit in 80 % of it)',
  },
  {
    flag: 'repeat',
    key: 'repeat',
    kind: 'int',
    default: '1',
    help: 'run the scenario this many times and report medians',
  },
  {
    flag: 'latency-load',
    key: 'latencyLoad',
    kind: 'number',
    default: '0.5',
    help: 'paced latency pass at this fraction of the steady rate (0 = skip)',
  },
  {
    flag: 'latency-seconds',
    key: 'latencySeconds',
    kind: 'number',
    default: '10',
    help: 'length cap of the paced latency pass',
  },
  {
    flag: 'target',
    key: 'target',
    kind: 'string',
    help: 'host:port of a running Tentacle server (default: start our own)',
  },
  {
    flag: 'db',
    key: 'db',
    kind: 'string',
    help: "the target's Pandora database, mysql://user:pass@host:port/db (required with --target)",
  },
  {
    flag: 'metrics-url',
    key: 'metricsUrl',
    kind: 'string',
    help: "the server's Prometheus /metrics, for its own queue gauges (ours: automatic)",
  },
  {
    flag: 'server-pid',
    key: 'serverPid',
    kind: 'int',
    help: 'with --target: pid of the server process, to sample its CPU and RSS',
  },
  {
    flag: 'db-server',
    key: 'dbServer',
    kind: 'string',
    default: 'mysql://root@127.0.0.1:3306',
    help: 'MariaDB where the self-started server gets a fresh random database',
  },
  {
    flag: 'password',
    key: 'password',
    kind: 'string',
    help: 'Tentacle password (PASS); also given to the self-started server',
  },
  {
    flag: 'tls',
    key: 'tls',
    kind: 'bool',
    help: 'connect with TLS (server certificate not verified, like agents)',
  },
  {
    flag: 'zip',
    key: 'zip',
    kind: 'bool',
    help: 'upload with ZSEND (ZIP-compressed) instead of SEND',
  },
  {
    flag: 'client',
    key: 'client',
    kind: 'string',
    default: 'library',
    help: "'library' (src/tentacle client) or 'raw' (minimal built-in SEND)",
  },
  {
    flag: 'server-arg',
    key: 'serverArgs',
    kind: 'repeat',
    help: 'extra flag for the self-started `serve` (repeatable), e.g. --server-arg=--dataserver-threads=2',
  },
  {
    flag: 'server-node-arg',
    key: 'serverNodeArgs',
    kind: 'repeat',
    help: 'extra Node.js flag for the self-started server (repeatable), e.g. --server-node-arg=--cpu-prof',
  },
  {
    flag: 'spool-dir',
    key: 'spoolDir',
    kind: 'string',
    default: 'bench/results/spool',
    help: 'where the self-started server gets its fresh spool folder (file creation cost differs a lot between folders of one disk: see docs/bench.md)',
  },
  {
    flag: 'server-entry',
    key: 'serverEntry',
    kind: 'string',
    default: 'src/main.ts',
    help: 'with --no-build: what the server runs, src/main.ts (via tsx) or a built main.js',
  },
  {
    flag: 'build',
    key: 'build',
    kind: 'bool',
    default: '1',
    help: 'measure the compiled server (tsc into a temp folder); --no-build runs --server-entry',
  },
  {
    flag: 'send-timeout',
    key: 'sendTimeoutMs',
    kind: 'duration',
    default: '10s',
    help: 'per reply wait on the Tentacle connection',
  },
  {
    flag: 'commit-timeout',
    key: 'commitTimeoutMs',
    kind: 'duration',
    default: '120s',
    help: 'give up a pass when the database stops progressing this long',
  },
  {
    flag: 'max-duration',
    key: 'maxDurationMs',
    kind: 'duration',
    default: '280s',
    help: 'hard cap on the whole run; it stops and reports what it has',
  },
  {
    flag: 'poll-interval',
    key: 'pollIntervalMs',
    kind: 'duration',
    default: '100ms',
    help: 'database polling period (latency resolution); stretches if polls get slow',
  },
  { flag: 'keep-db', key: 'keepDb', kind: 'bool', help: 'keep the fresh database after the run' },
  { flag: 'out', key: 'outDir', kind: 'string', help: 'results folder (default bench/results/)' },
  {
    flag: 'baseline',
    key: 'baseline',
    kind: 'string',
    help: 'compare with this baseline (default bench/baseline.json when the scenario matches)',
  },
  {
    flag: 'save-baseline',
    key: 'saveBaseline',
    kind: 'bool',
    help: "write this run's medians and spread as the baseline (use with --repeat 3)",
  },
  {
    flag: 'readme',
    key: 'readme',
    kind: 'string',
    help: 'also write the markdown performance section to this file (e.g. docs/bench.md)',
  },
  {
    flag: 'scaling',
    key: 'scaling',
    kind: 'bool',
    help: 'scaling run: packets/s against agent count and module count',
  },
  {
    flag: 'alerts',
    key: 'alerts',
    kind: 'bool',
    help: "capacity study's alert scenario: the standard scenario without and with alerts, side by side",
  },
  {
    flag: 'stages',
    key: 'stages',
    kind: 'bool',
    help: 'per-stage cost table: CPU µs per packet and stage (creation and steady pass) from a --cpu-prof run, and the same run unprofiled for its overhead',
  },
  {
    flag: 'stages-interval',
    key: 'stagesInterval',
    kind: 'int',
    default: '500',
    help: 'with --stages: the CPU profile sampling interval in µs (--cpu-prof-interval)',
  },
  {
    flag: 'queue',
    key: 'queue',
    kind: 'bool',
    help: 'scale-out mode: the standard scenario through a redis-server of its own (AOF always), with each --queue-workers count, beside the local-spool mode; CPU per packet with a Redis column and the hop cost',
  },
  {
    flag: 'queue-workers',
    key: 'queueWorkers',
    kind: 'list',
    default: '1,2',
    help: 'with --queue: worker processes per variant (the listener is one; the others run --no-tentacle)',
  },
  {
    flag: 'alerts-per-agent',
    key: 'alertsPerAgent',
    kind: 'int',
    default: '5',
    help: 'with --alerts: critical-condition alerts per agent, on its first generic_data modules',
  },
  {
    flag: 'alert-cache-wait',
    key: 'alertCacheWaitMs',
    kind: 'duration',
    default: '11s',
    help: "with --alerts: pause after the setup (both variants) so the server's alert cache (alert_config_refresh, 10 s) sees the alerts",
  },
  {
    flag: 'scaling-agents',
    key: 'scalingAgents',
    kind: 'list',
    default: '1000,3000,10000,30000',
    help: 'agent counts of the scaling run (33 modules)',
  },
  {
    flag: 'scaling-modules',
    key: 'scalingModules',
    kind: 'list',
    default: '10,33,100',
    help: 'module counts of the scaling run (at --scaling-module-agents agents)',
  },
  {
    flag: 'scaling-module-agents',
    key: 'scalingModuleAgents',
    kind: 'int',
    default: '3000',
    help: 'agents per point of the module-count series',
  },
  {
    flag: 'scaling-max-duration',
    key: 'scalingMaxDurationMs',
    kind: 'duration',
    default: '15m',
    help: 'hard cap on the whole scaling run',
  },
  {
    flag: 'soak',
    key: 'soakMs',
    kind: 'duration',
    help: 'stability run of this length (e.g. 1h): after the creation pass, paced steady load at --soak-share of capacity, sampled and reported as trends per hour',
  },
  {
    flag: 'soak-share',
    key: 'soakShare',
    kind: 'number',
    default: '0.4',
    help: 'with --soak: the pace as a fraction of --rate, or of the rate of one full-speed steady pass',
  },
  {
    flag: 'rate',
    key: 'rate',
    kind: 'number',
    help: 'with --soak: the capacity in packets/s the share applies to (skips the full-speed pass)',
  },
  {
    flag: 'soak-sample',
    key: 'soakSampleMs',
    kind: 'duration',
    default: '10s',
    help: 'with --soak: sampling period (RSS, CPU, latency, backlog, unknown modules, load average)',
  },
  {
    flag: 'soak-warmup',
    key: 'soakWarmupMs',
    kind: 'duration',
    help: 'with --soak: samples left out of the trends at the start (default 10 % of the run, at most 5m)',
  },
  {
    flag: 'soak-from',
    key: 'soakFrom',
    kind: 'string',
    help: 'with --readme: write the soak section and charts again from a saved soak result (JSON), without running',
  },
  { flag: 'quiet', key: 'quiet', kind: 'bool', help: 'no progress bar' },
  { flag: 'help', key: 'help', kind: 'bool', help: 'this text' },
];

/** The knobs as a settings table, so the repository's one long-flag parser reads them. */
const FLAG_TABLE: SettingsTable = Object.fromEntries(
  KNOBS.map((knob) => [
    knob.flag.replaceAll('-', '_'),
    { kind: knob.kind === 'bool' ? 'bool' : 'string', help: knob.help },
  ]),
);

export function parseE2eArgs(argv: readonly string[]): E2eOptions {
  const { flags, repeated, positional } = parseLongFlags(argv, FLAG_TABLE);
  if (positional.length > 0)
    throw new Error(`unexpected argument: ${positional[0] ?? ''} (see --help)`);
  const values = new Map<keyof E2eOptions, unknown>();
  for (const knob of KNOBS) {
    const key = knob.flag.replaceAll('-', '_');
    const raw = flags.get(key);
    if (knob.kind === 'bool')
      values.set(
        knob.key,
        raw === undefined ? knob.default === '1' : raw !== '0' && raw !== 'false',
      );
    else if (knob.kind === 'repeat') values.set(knob.key, repeated.get(key) ?? []);
    else if (raw !== undefined) values.set(knob.key, convert(knob, raw));
    else if (knob.default !== undefined) values.set(knob.key, convert(knob, knob.default));
    else values.set(knob.key, undefined);
  }
  const options = Object.fromEntries(values) as unknown as E2eOptions;
  validate(options);
  return options;
}

function convert(knob: Knob, raw: string): unknown {
  switch (knob.kind) {
    case 'int': {
      if (!/^\d+$/.test(raw)) throw new Error(`--${knob.flag} must be a whole number, got ${raw}`);
      return Number(raw);
    }
    case 'number': {
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new Error(`--${knob.flag} must be a number, got ${raw}`);
      return n;
    }
    case 'duration':
      return parseDurationMs(raw);
    case 'list':
      return raw.split(',').map((part) => {
        if (!/^\d+$/.test(part.trim())) throw new Error(`--${knob.flag}: not a number: ${part}`);
        return Number(part);
      });
    case 'string':
    case 'repeat':
      return raw;
    case 'bool':
      return raw === '1' || raw === 'true';
  }
}

function validate(o: E2eOptions): void {
  if (o.agents < 1) throw new Error('--agents must be at least 1');
  if (o.modules < 1) throw new Error('--modules must be at least 1');
  if (o.repeat < 1) throw new Error('--repeat must be at least 1');
  if (o.alertsPerAgent < 1) throw new Error('--alerts-per-agent must be at least 1');
  if (o.alerts && o.scaling) throw new Error('--alerts and --scaling are separate runs');
  if (o.soakMs !== undefined && (o.alerts || o.scaling))
    throw new Error('--soak is a run of its own (not with --alerts or --scaling)');
  if (o.soakMs !== undefined && o.soakMs < 10_000) throw new Error('--soak: at least 10s');
  if (o.soakFrom !== undefined && o.readme === undefined)
    throw new Error('--soak-from needs --readme');
  if (o.soakShare <= 0 || o.soakShare > 1) throw new Error('--soak-share must be within (0, 1]');
  if (o.rate !== undefined && o.rate <= 0) throw new Error('--rate must be positive');
  if (o.soakSampleMs < 1000) throw new Error('--soak-sample: at least 1s');
  if (o.stages && (o.alerts || o.scaling)) {
    throw new Error('--stages is a run of its own, without --alerts or --scaling');
  }
  if (o.stagesInterval < 50) throw new Error('--stages-interval must be at least 50 µs');
  if (o.queue && (o.alerts || o.scaling))
    throw new Error('--queue is a separate run from --alerts and --scaling');
  if (o.queue && o.target !== undefined)
    throw new Error('--queue starts its own servers and Redis: no --target');
  if (o.queueWorkers.length === 0 || o.queueWorkers.some((n) => n < 1))
    throw new Error('--queue-workers: counts of at least 1');
  if (o.concurrency < 1) throw new Error('--concurrency must be at least 1');
  // Strings from the command line: the declared unions are only true after these checks.
  const mode: string = o.mode;
  const client: string = o.client;
  if (!['per-file', 'persistent'].includes(mode)) throw new Error(`bad --mode ${mode}`);
  if (!['library', 'raw'].includes(client)) throw new Error(`bad --client ${client}`);
  if (o.changeRate < 0 || o.changeRate > 1) throw new Error('--change-rate must be within 0..1');
  if (o.windowsShare < 0 || o.windowsShare > 1)
    throw new Error('--windows-share must be within 0..1');
  if (o.target !== undefined && o.db === undefined) throw new Error('--target needs --db');
  // The commit watcher matches agent names in SQL as they are: keep them free of safe_input.
  if (!/^[A-Za-z0-9_.-]+$/.test(o.agentPrefix))
    throw new Error('--agent-prefix: use [A-Za-z0-9_.-]');
}

export function helpText(): string {
  const lines = [
    'Usage: npm run bench -- [options]',
    '',
    'End-to-end bench the way Pandora sizes a data server: simulated agents send XML packets',
    'over Tentacle; packets and module values are counted as they are committed to the database.',
    'Standard scenario: 3,000 agents x 33 modules, one creation pass, two steady passes and a',
    'paced latency pass, against a server it compiles and starts itself (fresh database, temp',
    'spool, loopback ports), or against any Tentacle server and its database (--target, --db).',
    '',
    'Options:',
  ];
  for (const knob of KNOBS) {
    const left = `  --${knob.kind === 'bool' && knob.default === '1' ? '[no-]' : ''}${knob.flag}${knob.kind === 'bool' ? '' : ' <v>'}`;
    const def = knob.default === undefined || knob.kind === 'bool' ? '' : ` [${knob.default}]`;
    lines.push(`${left.padEnd(30)}${knob.help}${def}`);
  }
  lines.push(
    '',
    'Examples:',
    '  npm run bench                                   # standard scenario',
    '  npm run bench -- --agents 300 --steady-passes 1 # quick look',
    '  npm run bench -- --target 127.0.0.1:41121 --db mysql://pandora:pandora@127.0.0.1/pandora',
    '  npm run bench -- --scaling                      # packets/s vs agents and modules',
    '  npm run bench -- --alerts --repeat 3            # packets/s with and without alerts',
    '  npm run bench -- --soak 1h --readme docs/bench.md # stability: trends per hour at 40 % load',
    '  npm run bench -- --stages                       # CPU µs per packet and stage (profiled)',
    '  npm run bench -- --queue --repeat 3             # local spool against the Redis queue',
    '  npm run bench -- --readme docs/bench.md         # regenerate the README section',
  );
  return lines.join('\n');
}
