/**
 * Attribution of a V8 CPU profile (`--cpu-prof`, the `.cpuprofile` JSON) to the stages of a
 * packet's path: every sample's time goes to the stage of the innermost frame on its stack that
 * names one (a pino frame under session code is logging, a session frame under Node's stream
 * internals is the Tentacle protocol). Pure: the profile in, microseconds per stage out.
 */

export interface CallFrame {
  readonly functionName: string;
  readonly url: string;
}

export interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

/** The fields of a `.cpuprofile` used here; times are µs of the monotonic clock. */
export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export const STAGES = [
  'accept + protocol',
  'durable write',
  'intake',
  'parse hand-off',
  'parse',
  'processing',
  'SQL building',
  'batch writer',
  'driver (mysql2)',
  'logging',
  'metrics + HTTP',
  'other project code',
  'Node internals only',
  'native, no JS frame',
  'GC on the thread',
  'idle',
] as const;

export type Stage = (typeof STAGES)[number];

interface Rule {
  readonly stage: Stage;
  readonly pattern: RegExp;
}

/**
 * Checked in order against a frame's URL (the compiled `dist/src/…js` or `src/…ts` path, or a
 * package under `node_modules/`). Generic helpers (sql-escaper, iconv-lite, strnum) name no
 * stage: their time goes to whoever called them.
 */
const RULES: readonly Rule[] = [
  { stage: 'logging', pattern: /node_modules\/(pino|sonic-boom|thread-stream|pino-[\w-]+)\// },
  { stage: 'logging', pattern: /\/src\/core\/log(-file|-reopen)?\.[jt]s$/ },
  { stage: 'driver (mysql2)', pattern: /node_modules\/mysql2\// },
  { stage: 'parse', pattern: /node_modules\/fast-xml-parser\// },
  {
    stage: 'metrics + HTTP',
    pattern: /node_modules\/(prom-client|fastify|@fastify|find-my-way)\//,
  },
  { stage: 'metrics + HTTP', pattern: /\/src\/(http\/|core\/metrics\.|[\w/-]+\/metrics\.)/ },
  {
    stage: 'durable write',
    pattern:
      /\/src\/(tentacle\/(spool-writer|spool-transfer|spool-sweep)|core\/(spare-files|dir-syncer|fd-calls|quiet-fs))\./,
  },
  { stage: 'accept + protocol', pattern: /\/src\/tentacle\// },
  { stage: 'parse hand-off', pattern: /\/src\/dataserver\/(parse-pool|parser)\./ },
  { stage: 'parse', pattern: /\/src\/dataserver\/(parse-worker\.|xml\/)/ },
  { stage: 'SQL building', pattern: /\/src\/dataserver\/writer\/([\w-]+-sql|sql-values)\./ },
  { stage: 'SQL building', pattern: /\/src\/db\/(event-row|column-limits)\./ },
  { stage: 'batch writer', pattern: /\/src\/dataserver\/writer\// },
  {
    stage: 'processing',
    pattern: /\/src\/(dataserver\/(logic\/|state\/|packet-heap\.|module-columns\.)|pandora\/)/,
  },
  { stage: 'intake', pattern: /\/src\/dataserver\/(stages\/|spool\/|dataserver\.|poison-guard\.)/ },
  { stage: 'other project code', pattern: /\/src\// },
];

/**
 * Frames of Node's own code that tell the stage of a stack no project or package frame names:
 * an accepted connection's socket set-up, the dataserver's file read (a promise chain whose
 * caller the stack no longer shows), the parse workers' messages arriving.
 */
const CALLERLESS_RULES: readonly (Rule & { readonly functionName?: RegExp })[] = [
  { stage: 'accept + protocol', pattern: /^node:net$/, functionName: /^onconnection$/ },
  {
    stage: 'intake',
    pattern: /^node:internal\/fs\/promises$/,
    functionName: /^(readFile|readFileHandle)$/,
  },
  { stage: 'parse hand-off', pattern: /^node:internal\/worker/ },
];

/** V8's pseudo-frames: the stack a sample had when no JavaScript was running. */
const PSEUDO_FRAMES: Readonly<Record<string, Stage>> = {
  '(garbage collector)': 'GC on the thread',
  '(idle)': 'idle',
  '(program)': 'native, no JS frame',
  '(root)': 'native, no JS frame',
};

/** The stage one frame names by itself, if any. */
export function frameStage(frame: CallFrame): Stage | undefined {
  if (frame.url === '') return PSEUDO_FRAMES[frame.functionName];
  for (const rule of RULES) if (rule.pattern.test(frame.url)) return rule.stage;
  return undefined;
}

function callerlessStage(frame: CallFrame): Stage | undefined {
  for (const rule of CALLERLESS_RULES) {
    if (!rule.pattern.test(frame.url)) continue;
    if (rule.functionName === undefined || rule.functionName.test(frame.functionName)) {
      return rule.stage;
    }
  }
  return undefined;
}

/**
 * Every node's stage: its own, else its nearest caller's; on stacks where no frame names one,
 * the outermost Node frame that tells (CALLERLESS_RULES), else "Node internals only".
 */
export function nodeStages(profile: CpuProfile): Map<number, Stage> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const stages = new Map<number, Stage>();
  const resolve = (id: number): Stage => {
    const known = stages.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id);
    const own = node === undefined ? undefined : frameStage(node.callFrame);
    const up = parent.get(id);
    const inherited = up === undefined || isRoot(byId.get(up)) ? undefined : resolve(up);
    const fallback = node === undefined ? undefined : callerlessStage(node.callFrame);
    const stage =
      own ??
      (inherited === undefined || inherited === 'Node internals only'
        ? (fallback ?? 'Node internals only')
        : inherited);
    stages.set(id, stage);
    return stage;
  };
  for (const node of profile.nodes) resolve(node.id);
  return stages;
}

function isRoot(node: ProfileNode | undefined): boolean {
  return node?.callFrame.functionName === '(root)' && node.callFrame.url === '';
}

/**
 * µs per stage of the samples taken in [fromUs, toUs) (the profile's monotonic clock; the whole
 * profile when omitted). With `sampleUs` each sample counts that long: the profiler's interval,
 * an estimate of CPU time, since a thread waiting for a core takes no samples meanwhile and its
 * next sample's gap would count the wait. Without it a sample lasts until the next one (wall
 * time; the last one until `endTime`).
 */
export function attributeProfile(
  profile: CpuProfile,
  window: { fromUs?: number; toUs?: number; sampleUs?: number } = {},
): Map<Stage, number> {
  const stages = nodeStages(profile);
  const from = window.fromUs ?? Number.NEGATIVE_INFINITY;
  const to = window.toUs ?? Number.POSITIVE_INFINITY;
  const totals = new Map<Stage, number>();
  let t = profile.startTime;
  const count = Math.min(profile.samples.length, profile.timeDeltas.length);
  for (let i = 0; i < count; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < from || t >= to) continue;
    const next = i + 1 < count ? t + (profile.timeDeltas[i + 1] ?? 0) : profile.endTime;
    const us = window.sampleUs ?? Math.max(0, Math.min(next, to) - t);
    const stage = stages.get(profile.samples[i] ?? -1) ?? 'Node internals only';
    totals.set(stage, (totals.get(stage) ?? 0) + us);
  }
  return totals;
}
