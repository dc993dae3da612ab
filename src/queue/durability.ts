import type { Redis } from 'ioredis';

/**
 * What Redis itself is set to, read once at start (scaleout.md §3): the answer to "when is an
 * added job safe?" follows from it, and so does whether this server may run at all.
 */
export interface RedisFacts {
  readonly version: string;
  readonly appendonly: boolean;
  /** `always` | `everysec` | `no` (only meaningful with AOF on). */
  readonly appendfsync: string;
  readonly maxmemoryPolicy: string;
  /** Replicas connected to this Redis right now (`connected_slaves`). */
  readonly replicas: number;
  /** `master` or `slave` (a replica refuses writes). */
  readonly role: string;
}

/** How the listener makes a job durable before `SEND OK`. */
export interface DurabilityPlan {
  /** `WAITAOF 1 0` after each add (AOF under everysec/no, Redis ≥ 7.2). */
  readonly waitAof: boolean;
  /** `WAIT 1` after each add: a replica holds the job too. */
  readonly waitReplica: boolean;
  /** One line for the start log: what `SEND OK` means with these settings. */
  readonly summary: string;
  /** Present when an acknowledged packet can still be lost. */
  readonly warning: string | undefined;
}

/** First Redis version with WAITAOF. */
const WAITAOF_SINCE = [7, 2] as const;

export async function readRedisFacts(redis: Redis): Promise<RedisFacts> {
  const config = async (name: string): Promise<string> => {
    const reply = (await redis.call('CONFIG', 'GET', name)) as string[];
    return reply[1] ?? '';
  };
  const [appendonly, appendfsync, maxmemoryPolicy] = [
    await config('appendonly'),
    await config('appendfsync'),
    await config('maxmemory-policy'),
  ];
  const info = await redis.info();
  const field = (name: string): string | undefined =>
    new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
  return {
    version: field('redis_version') ?? '0.0.0',
    appendonly: appendonly === 'yes',
    appendfsync,
    maxmemoryPolicy,
    replicas: Number(field('connected_slaves') ?? 0),
    role: field('role') ?? 'master',
  };
}

export function hasWaitAof(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > WAITAOF_SINCE[0] || (major === WAITAOF_SINCE[0] && minor >= WAITAOF_SINCE[1]);
}

/** Why this Redis must not hold the queue, or undefined when it may. */
export function refusalOf(facts: RedisFacts): string | undefined {
  if (facts.maxmemoryPolicy !== 'noeviction') {
    return `Redis maxmemory-policy is ${facts.maxmemoryPolicy}: it may evict queued packets; set maxmemory-policy noeviction (scale-out needs it)`;
  }
  if (facts.role !== 'master') {
    return `Redis at queue_url is a ${facts.role} (read-only): point queue_url at the primary`;
  }
  return undefined;
}

/** Decides the wait after each add from Redis' own settings. */
export function planDurability(facts: RedisFacts): DurabilityPlan {
  const waitReplica = facts.replicas > 0;
  const replicaNote = waitReplica ? ', then WAIT for one replica' : '';
  if (!facts.appendonly) {
    return {
      waitAof: false,
      waitReplica,
      summary: `no AOF: SEND OK after the add${replicaNote}`,
      warning:
        'Redis runs with appendonly no: packets acknowledged with SEND OK are lost if Redis restarts; set appendonly yes with appendfsync always (or everysec on Redis >= 7.2)',
    };
  }
  if (facts.appendfsync === 'always') {
    return {
      waitAof: false,
      waitReplica,
      summary: `AOF appendfsync always: the add's reply means it is on disk${replicaNote}`,
      warning: undefined,
    };
  }
  if (hasWaitAof(facts.version)) {
    return {
      waitAof: true,
      waitReplica,
      summary: `AOF appendfsync ${facts.appendfsync}: WAITAOF 1 0 after each add${replicaNote}`,
      warning: undefined,
    };
  }
  return {
    waitAof: false,
    waitReplica,
    summary: `AOF appendfsync ${facts.appendfsync} on Redis ${facts.version} (no WAITAOF): SEND OK after the add${replicaNote}`,
    warning: `Redis ${facts.version} has no WAITAOF and fsyncs its AOF ${facts.appendfsync === 'no' ? 'when the OS decides' : 'once a second'}: packets acknowledged just before a Redis host crash can be lost; use appendfsync always or Redis >= 7.2`,
  };
}

/**
 * Waits until the connection's writes so far are durable as planned; throws when they are not
 * within `timeoutMs` (the listener then answers `SEND ERR` and the agent resends).
 */
export async function waitDurable(
  redis: Redis,
  plan: DurabilityPlan,
  timeoutMs: number,
): Promise<void> {
  if (plan.waitAof) {
    const [local] = (await redis.call('WAITAOF', '1', '0', String(timeoutMs))) as number[];
    if ((local ?? 0) < 1) throw new Error(`WAITAOF: not fsynced within ${String(timeoutMs)} ms`);
  }
  if (plan.waitReplica) {
    const acked = (await redis.call('WAIT', '1', String(timeoutMs))) as number;
    if (acked < 1) throw new Error(`WAIT: no replica acknowledged within ${String(timeoutMs)} ms`);
  }
}
