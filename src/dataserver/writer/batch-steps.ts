import mysql, { type PoolConnection, type RowDataPacket } from 'mysql2/promise';
import { catalogOf } from '../state/catalog.js';
import {
  EMPTY_SIGNATURE,
  agentKey,
  agentStateFromRow,
  findAgentIds,
  loadAgents,
  parseSignatures,
  signaturesSql,
  type AgentSnapshot,
} from '../state/load-state.js';
import {
  lookupKey,
  type AgentPacket,
  type ModuleState,
  type PacketOutcome,
  type ProcessingContext,
} from '../types.js';
import { LOCK_AGENTS_SQL, insertAgents, lockNewAgentNames } from './agent-sql.js';
import { insertReturningIds } from './insert-ids.js';
import type { BatchWriterConfig, BatchWriterDeps, WriteJob } from './jobs.js';
import {
  LEDGER_STAMPS_SQL,
  isLedgerDuplicate,
  ledgeredHashes,
  parseStamps,
  type LedgerRow,
} from './ledger-sql.js';
import { insertModules } from './module-sql.js';
import { STATUS_INSERT_COLUMNS, statusRow } from './status-sql.js';
import { DuplicateFilesError } from './jobs.js';

/**
 * The steps of one batch transaction, in the order batch-transaction.ts runs them. Each takes
 * what the steps before it produced; none keeps state between batches.
 */

export type PacketJob = Extract<WriteJob, { kind: 'packet' }>;

const EMPTY_MODULES: ReadonlyMap<string, ModuleState> = new Map();

export const keyOf = (p: AgentPacket): string => lookupKey(p.agentNameEncoded);

/**
 * Step 1, find the agents: the cache, then the database for names it does not know. Names
 * nobody has yet are locked by name (`onNamedLocks` is told) and looked up again under the lock.
 * Returns agent key → id.
 */
export async function findAgents(
  conn: PoolConnection,
  packets: readonly PacketJob[],
  deps: BatchWriterDeps,
  lockTimeoutSec: number,
  onNamedLocks: () => void,
): Promise<Map<string, number>> {
  const idByKey = new Map<string, number>();
  const unknownNames: string[] = [];
  for (const j of packets) {
    const cached = deps.cache.get(keyOf(j.packet));
    if (cached) idByKey.set(keyOf(j.packet), cached.snapshot.agent.ref.id);
    else unknownNames.push(j.packet.agentNameEncoded);
  }
  if (unknownNames.length === 0) return idByKey;
  for (const [k, id] of await findAgentIds(conn, unknownNames)) idByKey.set(k, id);
  const missing = unknownNames.filter((n) => !idByKey.has(lookupKey(n)));
  if (missing.length > 0) {
    onNamedLocks();
    await lockNewAgentNames(conn, [...new Set(missing.map(lookupKey))].sort(), lockTimeoutSec);
    for (const [k, id] of await findAgentIds(conn, missing)) idByKey.set(k, id);
  }
  return idByKey;
}

/** What the database holds for the locked agents, to check the cache against. */
export interface LockedAgents {
  /** Agents whose row still exists. */
  readonly ids: ReadonlySet<number>;
  /** {@link agentKey} of each agent row. */
  readonly rows: ReadonlyMap<number, string>;
  /** Ledger stamp: the last file written for each agent (by any server). */
  readonly stamps: ReadonlyMap<number, string>;
  /** Module and status signature; updated by the commit step for agents the batch changed. */
  readonly signatures: Map<number, string>;
}

/** Step 2, lock the agents in id order (no deadlock between servers) and read their stamps. */
export async function lockAgents(
  conn: PoolConnection,
  idByKey: ReadonlyMap<string, number>,
): Promise<LockedAgents> {
  const ids = [...new Set(idByKey.values())].sort((a, b) => a - b);
  const locked: LockedAgents = {
    ids: new Set(),
    rows: new Map(),
    stamps: new Map(),
    signatures: new Map(),
  };
  if (ids.length === 0) return locked;
  const [res] = await conn.query<RowDataPacket[][]>(
    `${LOCK_AGENTS_SQL};\n${LEDGER_STAMPS_SQL};\n${signaturesSql(true)}`,
    [ids, ids, ids, ids],
  );
  const rows = new Map<number, string>();
  for (const r of res[0] ?? []) {
    const agent = agentStateFromRow(r);
    rows.set(agent.ref.id, agentKey(agent));
  }
  const signatures = parseSignatures(res[2] ?? [], res[3] ?? []);
  return { ids: new Set(rows.keys()), rows, stamps: parseStamps(res[1] ?? []), signatures };
}

/**
 * Step 3, fresh state: the cached snapshot where the ledger stamp (another server), the
 * signatures (the console, the unknown task) and the agent row all match; else reloaded inside
 * the lock. Agents deleted meanwhile leave `idByKey` (unknown again, like the reference).
 * Returns the snapshots by agent key and how many agents were reloaded (`onReload` is told
 * before the load).
 */
export async function freshState(
  conn: PoolConnection,
  idByKey: Map<string, number>,
  locked: LockedAgents,
  deps: BatchWriterDeps,
  onReload: (agents: number) => void,
): Promise<{ snapshots: Map<string, AgentSnapshot>; reloaded: number }> {
  const snapshots = new Map<string, AgentSnapshot>();
  const toLoad: number[] = [];
  for (const [key, id] of idByKey) {
    if (!locked.ids.has(id)) {
      idByKey.delete(key);
      continue;
    }
    const cached = deps.cache.get(key);
    const fresh =
      cached !== undefined &&
      cached.snapshot.agent.ref.id === id &&
      cached.stamp === locked.stamps.get(id) &&
      cached.snapshot.signature === (locked.signatures.get(id) ?? EMPTY_SIGNATURE) &&
      agentKey(cached.snapshot.agent) === locked.rows.get(id);
    if (fresh) snapshots.set(key, cached.snapshot);
    else toLoad.push(id);
  }
  if (toLoad.length > 0) {
    onReload(toLoad.length);
    const data = deps.catalog();
    const loaded = await loadAgents(conn, toLoad, (t) => data.typesById.get(t)?.name ?? '');
    for (const [key, id] of idByKey) {
      const snap = loaded.get(id);
      if (snap) snapshots.set(key, snap);
    }
  }
  return { snapshots, reloaded: toLoad.length };
}

/**
 * Step 4, the pure logic, from exactly the state the database holds for these locked agents
 * (parent agents named by the packets are looked up first). One outcome per job; undefined for
 * events.
 */
export async function runLogic(
  conn: PoolConnection,
  jobs: readonly WriteJob[],
  packets: readonly PacketJob[],
  snapshots: ReadonlyMap<string, AgentSnapshot>,
  config: BatchWriterConfig,
  deps: BatchWriterDeps,
  at: { nowSec: number; alertModules: ProcessingContext['alertModules'] },
): Promise<(PacketOutcome | undefined)[]> {
  const parentNames = [...new Set(packets.flatMap((j) => j.packet.parentNameEncoded ?? []))];
  const parentIds =
    parentNames.length > 0 ? await findAgentIds(conn, parentNames) : new Map<string, number>();
  const ctx: ProcessingContext = {
    config: config.logic,
    catalog: catalogOf(deps.catalog(), parentIds),
    nowSec: at.nowSec,
    startedAtSec: config.startedAtSec,
    serverId: config.serverId,
    serverName: config.serverName,
    // Always set (one object shape for the per-datum code), undefined when no module has alerts.
    alertModules: at.alertModules,
  };
  return jobs.map((j) => {
    if (j.kind !== 'packet') return undefined;
    const snap = snapshots.get(keyOf(j.packet));
    return deps.processPacket(j.packet, snap?.agent, snap?.modules ?? EMPTY_MODULES, ctx);
  });
}

/**
 * Step 5, the rows that need their auto-increment ids back, in dependency order: agents, their
 * addresses, modules, status rows. Filling the refs gives every later row its ids.
 */
export async function insertNewRows(
  conn: PoolConnection,
  written: readonly PacketOutcome[],
  consecutiveIds: boolean,
  writeAddresses: (conn: PoolConnection, outcomes: readonly PacketOutcome[]) => Promise<void>,
): Promise<void> {
  const newAgents = written.flatMap((o) => (o.newAgent ? [o.newAgent] : []));
  if (newAgents.length > 0) await insertAgents(conn, newAgents, consecutiveIds);
  await writeAddresses(conn, written);
  const newModules = written.flatMap((o) => o.newModules);
  if (newModules.length > 0) await insertModules(conn, newModules, consecutiveIds);
  const statusInserts = written.flatMap((o) => o.statusWrites.filter((w) => w.insert));
  if (statusInserts.length > 0) {
    const statusIds = await insertReturningIds(
      conn,
      'tagente_estado',
      STATUS_INSERT_COLUMNS,
      statusInserts.map((w) => statusRow(w).slice(1)),
      consecutiveIds,
    );
    statusInserts.forEach((w, i) => (w.statusRef.id = statusIds[i] ?? 0));
  }
}

/** The ledger rows of a batch: every packet file, and the file an event is about (bad XML). */
export function ledgerRows(
  jobs: readonly WriteJob[],
  outcomes: readonly (PacketOutcome | undefined)[],
  idByKey: ReadonlyMap<string, number>,
): LedgerRow[] {
  const ledger: LedgerRow[] = [];
  jobs.forEach((j, i) => {
    if (j.kind !== 'packet') {
      if (j.file) ledger.push({ ...j.file, agentId: 0 });
      return;
    }
    const agentId = outcomes[i]?.agentState?.ref.id ?? idByKey.get(keyOf(j.packet)) ?? 0;
    ledger.push({ sha256: j.sha256, fileName: j.fileName, agentId });
  });
  return ledger;
}

/**
 * Step 7, COMMIT: the statements of the steps before, the ledger and the signatures of the
 * agents whose module or status row count the batch changed, in one round trip. Those
 * signatures go into `locked.signatures`. A file the ledger already holds rolls the batch back
 * with a DuplicateFilesError.
 */
export async function commit(
  conn: PoolConnection,
  statements: string[],
  ledger: readonly LedgerRow[],
  written: readonly PacketOutcome[],
  signatures: Map<number, string>,
): Promise<void> {
  const resigned = [
    ...new Set(
      written
        .filter((o) => o.newModules.length > 0 || o.statusWrites.some((w) => w.insert))
        .map((o) => o.agentState?.ref.id ?? 0)
        .filter((id) => id > 0),
    ),
  ];
  if (resigned.length > 0)
    statements.push(mysql.format(signaturesSql(false), [resigned, resigned]));
  try {
    const [results] = await conn.query<RowDataPacket[][]>([...statements, 'COMMIT'].join(';\n'));
    if (resigned.length === 0) return;
    // The last statement entry is the two signature statements; COMMIT follows them.
    const n = statements.length;
    for (const [id, sig] of parseSignatures(results[n - 1] ?? [], results[n] ?? [])) {
      signatures.set(id, sig);
    }
    for (const id of resigned) if (!signatures.has(id)) signatures.set(id, EMPTY_SIGNATURE);
  } catch (err) {
    if (!isLedgerDuplicate(err)) throw err;
    await conn.query('ROLLBACK');
    throw new DuplicateFilesError(await ledgeredHashes(conn, ledger));
  }
}

/** Step 8, committed: write the new state through to the cache. */
export function writeThrough(
  jobs: readonly WriteJob[],
  outcomes: readonly (PacketOutcome | undefined)[],
  snapshots: ReadonlyMap<string, AgentSnapshot>,
  signatures: ReadonlyMap<number, string>,
  deps: BatchWriterDeps,
): void {
  jobs.forEach((j, i) => {
    const o = outcomes[i];
    if (j.kind !== 'packet' || !o?.agentState) return;
    const key = keyOf(j.packet);
    // Committed, and no other batch holds this agent: update its module map in place
    // rather than copying 33 entries per packet.
    const modules = snapshots.get(key)?.modules ?? new Map<string, ModuleState>();
    for (const m of o.moduleStates) modules.set(lookupKey(m.nameEncoded), m);
    const signature =
      signatures.get(o.agentState.ref.id) ?? snapshots.get(key)?.signature ?? EMPTY_SIGNATURE;
    deps.cache.set(key, { agent: o.agentState, modules, signature }, j.sha256.toString('hex'));
  });
}
