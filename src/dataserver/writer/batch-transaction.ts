import mysql, { type PoolConnection, type RowDataPacket } from 'mysql2/promise';
import { Counter, Histogram } from 'prom-client';
import { COLUMN_LIMITS, fitToColumn } from '../../db/index.js';
import { LEDGER_TABLE, isTransientDbError } from '../../db/index.js';
import { MODULE_INSERT_COLUMNS } from '../module-columns.js';
import { catalogOf } from '../state/catalog.js';
import {
  AGENT_COLUMNS,
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
import { insertReturningIds } from './insert-ids.js';
import {
  BatchTimeoutError,
  DuplicateFilesError,
  type BatchWriterConfig,
  type BatchWriterDeps,
  type WriteJob,
} from './jobs.js';
import { tailStatements, type LedgerRow } from './outcome-sql.js';
import { STATUS_INSERT_COLUMNS, statusRow } from './status-sql.js';

const AGENT = COLUMN_LIMITS.tagente;

const EMPTY_MODULES: ReadonlyMap<string, ModuleState> = new Map();

export interface BatchTransaction {
  /** One transaction for the whole batch; the outcome of each job (undefined for events). */
  run(jobs: readonly WriteJob[]): Promise<(PacketOutcome | undefined)[]>;
  /**
   * Shutdown: drops the connection of every batch running now and refuses new batches; each
   * fails with BatchTimeoutError.
   */
  abortAll(): void;
}

/**
 * Ends a connection the way a network reset would (mysql2's own destroy() only half-closes the
 * socket, which a partitioned peer never answers): the statement waiting on it fails at once.
 */
function dropConnection(conn: PoolConnection): void {
  const { stream } = conn.connection as unknown as { stream?: { destroy(err?: Error): void } };
  stream?.destroy(
    Object.assign(new Error('connection dropped by the dataserver'), { code: 'ETIMEDOUT' }),
  );
}

/**
 * One batch, one transaction: find or lock the agents (id order, so servers cannot deadlock),
 * check the cached state is still what the database holds (ledger stamp, agent row, module and
 * status signatures) and reload it inside the lock if not, run the pure logic, write the rows in
 * dependency order, commit together with the ledger, then write the new state through.
 */
export function createBatchTransaction(
  config: BatchWriterConfig,
  deps: BatchWriterDeps,
): BatchTransaction {
  const log = deps.logger.child({ component: 'dataserver-writer' });
  const now = deps.now ?? (() => Math.floor(Date.now() / 1000));
  const metrics = {
    batchDuration: new Histogram({
      name: 'pandora_dataserver_db_batch_duration_seconds',
      help: 'Time from BEGIN to COMMIT of one batch',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [deps.registry],
    }),
    batchFiles: new Histogram({
      name: 'pandora_dataserver_db_batch_files',
      help: 'Files per committed batch',
      buckets: [1, 5, 10, 25, 50, 100, 200, 500, 1000],
      registers: [deps.registry],
    }),
    reloads: new Counter({
      name: 'pandora_dataserver_state_reloads_total',
      help: 'Agents whose cached state was (re)loaded from the database',
      registers: [deps.registry],
    }),
    values: new Counter({
      name: 'pandora_dataserver_module_values_total',
      help: 'Module data processed',
      labelNames: ['result'] as const,
      registers: [deps.registry],
    }),
  };

  /** How to drop the connection of each running batch (abortAll). */
  const running = new Set<() => void>();
  /** abortAll() was called (shutdown): no batch starts any more. */
  let aborted = false;
  /**
   * Server sessions of dropped connections. In a partition the server never sees the socket
   * go, and the session keeps its row and named locks (until wait_timeout or keepalive, hours):
   * each is killed before the next batch, once the database answers again.
   */
  const zombies = new Set<number>();

  async function killZombies(conn: PoolConnection): Promise<void> {
    for (const id of [...zombies]) {
      try {
        await conn.query(`KILL ${String(id)}`);
        log.info({ threadId: id }, 'ended the server session of a dropped batch connection');
      } catch (err) {
        // ER_NO_SUCH_THREAD: it ended by itself. Anything else: try again next batch.
        if ((err as { code?: unknown }).code !== 'ER_NO_SUCH_THREAD') throw err;
      }
      zombies.delete(id);
    }
  }

  function refuseAfterAbort(): void {
    if (aborted) throw new BatchTimeoutError('shutting down: batch not started');
  }

  async function transact(jobs: readonly WriteJob[]): Promise<(PacketOutcome | undefined)[]> {
    const started = process.hrtime.bigint();
    refuseAfterAbort();
    const conn = await deps.pool.getConnection();
    try {
      refuseAfterAbort();
      if (zombies.size > 0) await killZombies(conn);
    } catch (err) {
      conn.release();
      throw err;
    }
    let namedLocks = false;
    let broken = false;
    const deadlineHit = { dropped: false }; // set from the timer, read in catch
    const drop = () => {
      deadlineHit.dropped = true;
      const { threadId } = conn.connection as unknown as { threadId?: number | null };
      if (typeof threadId === 'number') zombies.add(threadId);
      dropConnection(conn);
    };
    running.add(drop);
    const deadline =
      config.batchTimeoutMs > 0
        ? setTimeout(() => {
            log.warn(
              { files: jobs.length, timeoutMs: config.batchTimeoutMs },
              'batch transaction got no answer in time; dropping its connection to retry',
            );
            drop();
          }, config.batchTimeoutMs).unref()
        : undefined;
    try {
      const nowSec = now();
      const packets = jobs.filter((j) => j.kind === 'packet');
      await conn.query('START TRANSACTION');

      // 1. Which agents exist: the cache, then the database for names it does not know.
      const keyOf = (p: AgentPacket) => lookupKey(p.agentNameEncoded);
      const idByKey = new Map<string, number>();
      const unknownNames: string[] = [];
      for (const j of packets) {
        const cached = deps.cache.get(keyOf(j.packet));
        if (cached) idByKey.set(keyOf(j.packet), cached.snapshot.agent.ref.id);
        else unknownNames.push(j.packet.agentNameEncoded);
      }
      if (unknownNames.length > 0) {
        for (const [k, id] of await findAgentIds(conn, unknownNames)) idByKey.set(k, id);
        const missing = unknownNames.filter((n) => !idByKey.has(lookupKey(n)));
        if (missing.length > 0) {
          // Serialise creation of one agent name across servers (no unique index on nombre):
          // named locks, then look again, holding them until after COMMIT.
          namedLocks = true;
          const names = [...new Set(missing.map(lookupKey))].sort();
          const [granted] = await conn.query<RowDataPacket[]>(
            {
              sql: `SELECT ${names.map(() => 'GET_LOCK(?, ?)').join(', ')}`,
              rowsAsArray: true,
            },
            names.flatMap((n) => [`ti_agent:${n}`.slice(0, 64), config.agentLockTimeoutSec]),
          );
          // 0: another server held a name that long (NULL: an error). Going on without the lock
          // could create the agent twice: retry the batch like any lock conflict.
          if (!(granted[0] as unknown[] | undefined)?.every((v) => Number(v) === 1)) {
            throw Object.assign(
              new Error(
                `lock for creating a new agent not granted within ${String(config.agentLockTimeoutSec)} s`,
              ),
              { code: 'ER_LOCK_WAIT_TIMEOUT' },
            );
          }
          for (const [k, id] of await findAgentIds(conn, missing)) idByKey.set(k, id);
        }
      }

      // 2. Lock the agents in id order (no deadlock between servers) and read their ledger stamps.
      const ids = [...new Set(idByKey.values())].sort((a, b) => a - b);
      const stamps = new Map<number, string>();
      const lockedIds = new Set<number>();
      const agentRows = new Map<number, string>();
      const signatures = new Map<number, string>();
      if (ids.length > 0) {
        const [res] = await conn.query<RowDataPacket[][]>(
          `SELECT ${AGENT_COLUMNS} FROM tagente WHERE id_agente IN (?) ORDER BY id_agente FOR UPDATE;
           SELECT l.id_agente, HEX(l.file_sha256) AS h FROM ${LEDGER_TABLE} l
             JOIN (SELECT id_agente, MAX(seq) AS seq FROM ${LEDGER_TABLE} WHERE id_agente IN (?) GROUP BY id_agente) x
               ON x.seq = l.seq;
           ${signaturesSql(true)}`,
          [ids, ids, ids, ids],
        );
        for (const r of res[0] ?? []) {
          const id = Number(r['id_agente']);
          lockedIds.add(id);
          agentRows.set(id, agentKey(agentStateFromRow(r)));
        }
        for (const r of res[1] ?? [])
          stamps.set(Number(r['id_agente']), String(r['h']).toLowerCase());
        for (const [id, sig] of parseSignatures(res[2] ?? [], res[3] ?? []))
          signatures.set(id, sig);
      }
      // 3. Fresh state: the cache where the ledger stamp (another server), the signatures (the
      // console, the unknown task) and the agent row all match; else reload inside the lock.
      const snapshots = new Map<string, AgentSnapshot>();
      const toLoad: number[] = [];
      for (const [key, id] of idByKey) {
        if (!lockedIds.has(id)) {
          idByKey.delete(key); // deleted meanwhile (console): treated as unknown, like the reference
          continue;
        }
        const cached = deps.cache.get(key);
        const fresh =
          cached !== undefined &&
          cached.snapshot.agent.ref.id === id &&
          cached.stamp === stamps.get(id) &&
          cached.snapshot.signature === (signatures.get(id) ?? EMPTY_SIGNATURE) &&
          agentKey(cached.snapshot.agent) === agentRows.get(id);
        if (fresh) snapshots.set(key, cached.snapshot);
        else toLoad.push(id);
      }
      if (toLoad.length > 0) {
        metrics.reloads.inc(toLoad.length);
        const data = deps.catalog();
        const loaded = await loadAgents(conn, toLoad, (t) => data.typesById.get(t)?.name ?? '');
        for (const [key, id] of idByKey) {
          const snap = loaded.get(id);
          if (snap) snapshots.set(key, snap);
        }
      }

      // Parent agents named by the packets (update_parent / creation).
      const parentNames = [...new Set(packets.flatMap((j) => j.packet.parentNameEncoded ?? []))];
      const parentIds =
        parentNames.length > 0 ? await findAgentIds(conn, parentNames) : new Map<string, number>();

      // 4. The pure logic, from exactly the state the database holds for these locked agents.
      const ctx: ProcessingContext = {
        config: config.logic,
        catalog: catalogOf(deps.catalog(), parentIds),
        nowSec,
        startedAtSec: config.startedAtSec,
        serverId: config.serverId,
        serverName: config.serverName,
      };
      const outcomes = jobs.map((j) => {
        if (j.kind !== 'packet') return undefined;
        const snap = snapshots.get(keyOf(j.packet));
        return deps.processPacket(j.packet, snap?.agent, snap?.modules ?? EMPTY_MODULES, ctx);
      });
      const written = outcomes.filter((o): o is PacketOutcome => o !== undefined);

      // 5. Rows that need their auto-increment ids back, in dependency order.
      const newAgents = written.flatMap((o) => (o.newAgent ? [o.newAgent] : []));
      if (newAgents.length > 0) {
        const agentIds = await insertReturningIds(
          conn,
          'tagente',
          [
            'nombre',
            'alias',
            'direccion',
            'comentarios',
            'id_grupo',
            'id_os',
            'server_name',
            'intervalo',
            'id_parent',
            'modo',
            'custom_id',
            'url_address',
            'timezone_offset',
            'os_version',
            'agent_version',
            'ultimo_contacto',
            'ultimo_contacto_remoto',
            'satellite_server',
            'update_module_count',
          ],
          newAgents.map((a) => [
            a.nombre,
            a.alias,
            fitToColumn(a.direccion, AGENT.direccion),
            fitToColumn(a.comentarios, AGENT.comentarios),
            a.id_grupo,
            a.id_os,
            a.server_name.slice(0, 100),
            a.intervalo,
            a.id_parent,
            a.modo,
            fitToColumn(a.custom_id ?? '', AGENT.custom_id),
            a.url_address ?? null,
            Math.max(-128, Math.min(127, a.timezone_offset)),
            fitToColumn(a.os_version, AGENT.os_version),
            fitToColumn(a.agent_version, AGENT.agent_version),
            a.ultimo_contacto,
            a.ultimo_contacto_remoto,
            a.satellite_server,
            1,
          ]),
          config.consecutiveIds,
        );
        newAgents.forEach((a, i) => (a.ref.id = agentIds[i] ?? 0));
      }
      await writeAddresses(conn, written);
      const newModules = written.flatMap((o) => o.newModules);
      if (newModules.length > 0) {
        const cols = MODULE_INSERT_COLUMNS;
        const moduleIds = await insertReturningIds(
          conn,
          'tagente_modulo',
          cols,
          newModules.map((m) =>
            cols.map((c) => {
              if (c === 'id_agente') return m.agentRef.id;
              const v = m[c];
              return c === 'custom_id' || c === 'cron_interval'
                ? fitToColumn(String(v), COLUMN_LIMITS.tagente_modulo[c])
                : v;
            }),
          ),
          config.consecutiveIds,
        );
        newModules.forEach((m, i) => (m.ref.id = moduleIds[i] ?? 0));
      }
      const statusInserts = written.flatMap((o) => o.statusWrites.filter((w) => w.insert));
      if (statusInserts.length > 0) {
        const statusIds = await insertReturningIds(
          conn,
          'tagente_estado',
          STATUS_INSERT_COLUMNS,
          statusInserts.map((w) => statusRow(w).slice(1)),
          config.consecutiveIds,
        );
        statusInserts.forEach((w, i) => (w.statusRef.id = statusIds[i] ?? 0));
      }

      // 6. Everything else, the ledger and COMMIT in one round trip.
      const ledger: LedgerRow[] = [];
      jobs.forEach((j, i) => {
        if (j.kind !== 'packet') {
          if (j.file) ledger.push({ ...j.file, agentId: 0 });
          return;
        }
        const o = outcomes[i];
        const agentId = o?.agentState?.ref.id ?? idByKey.get(keyOf(j.packet)) ?? 0;
        ledger.push({ sha256: j.sha256, fileName: j.fileName, agentId });
      });
      const extraEvents = jobs.flatMap((j) => (j.kind === 'event' ? [j.event] : []));
      const tail = tailStatements(written, extraEvents, ledger, {
        serverName: config.serverName,
        nowSec,
      });
      // Agents whose module or status row count we changed: their signature after our writes.
      const resigned = [
        ...new Set(
          written
            .filter((o) => o.newModules.length > 0 || o.statusWrites.some((w) => w.insert))
            .map((o) => o.agentState?.ref.id ?? 0)
            .filter((id) => id > 0),
        ),
      ];
      if (resigned.length > 0) {
        tail.push(mysql.format(signaturesSql(false), [resigned, resigned]));
      }
      try {
        const [results] = await conn.query<RowDataPacket[][]>([...tail, 'COMMIT'].join(';\n'));
        if (resigned.length > 0) {
          // The last tail entry is the two signature statements; COMMIT follows them.
          const n = tail.length;
          for (const [id, sig] of parseSignatures(results[n - 1] ?? [], results[n] ?? [])) {
            signatures.set(id, sig);
          }
          for (const id of resigned) if (!signatures.has(id)) signatures.set(id, EMPTY_SIGNATURE);
        }
      } catch (err) {
        if (
          (err as { code?: unknown }).code === 'ER_DUP_ENTRY' &&
          (err as Error).message.includes('file_sha256')
        ) {
          await conn.query('ROLLBACK');
          const [rows] = await conn.query<RowDataPacket[]>(
            `SELECT HEX(file_sha256) AS h FROM ${LEDGER_TABLE} WHERE file_sha256 IN (?)`,
            [ledger.map((l) => l.sha256)],
          );
          throw new DuplicateFilesError(new Set(rows.map((r) => String(r['h']).toLowerCase())));
        }
        throw err;
      }

      // 7. Committed: write the new state through to the cache.
      jobs.forEach((j, i) => {
        const o = outcomes[i];
        if (j.kind !== 'packet' || !o) return;
        const key = keyOf(j.packet);
        if (!o.agentState) return;
        // Committed, and no other batch holds this agent: update its module map in place
        // rather than copying 33 entries per packet.
        const modules = snapshots.get(key)?.modules ?? new Map<string, ModuleState>();
        for (const m of o.moduleStates) modules.set(lookupKey(m.nameEncoded), m);
        const id = o.agentState.ref.id;
        const signature = signatures.get(id) ?? snapshots.get(key)?.signature ?? EMPTY_SIGNATURE;
        deps.cache.set(key, { agent: o.agentState, modules, signature }, j.sha256.toString('hex'));
      });
      let data = 0;
      let rejected = 0;
      let compacted = 0;
      for (const o of written) {
        data += o.stats.data;
        rejected += o.stats.rejected;
        compacted += o.stats.compacted;
        for (const w of o.warnings) log.warn({ warning: w }, 'packet warning');
      }
      metrics.values.labels('stored').inc(data - rejected - compacted);
      metrics.values.labels('compacted').inc(compacted);
      metrics.values.labels('rejected').inc(rejected);
      metrics.batchFiles.observe(jobs.length);
      if (log.isLevelEnabled('debug')) {
        log.debug(
          { files: jobs.length, loaded: toLoad.length, statements: tail.length },
          'batch committed',
        );
      }
      metrics.batchDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      return outcomes;
    } catch (err) {
      if (deadlineHit.dropped) {
        // Rolled back by the server when it sees the connection gone, if it ever got the batch.
        broken = true;
        throw new BatchTimeoutError(
          aborted
            ? 'shutting down: batch connection dropped'
            : `batch transaction still running after ${String(config.batchTimeoutMs)} ms; connection dropped`,
        );
      }
      if (isTransientDbError(err)) broken = true;
      await conn.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw err;
    } finally {
      // Still under the deadline: a database that stops answering here would hold us too.
      if (namedLocks && !broken)
        await conn.query('SELECT RELEASE_ALL_LOCKS()').catch(() => {
          broken = true;
        });
      clearTimeout(deadline);
      running.delete(drop);
      // A connection that failed mid-batch may be half-dead: never hand it back to the pool.
      if (broken) conn.destroy();
      else conn.release();
    }
  }

  /** taddress / taddress_agent links (spec §3.5); rare, so plain statements. */
  const linked = new Set<string>();
  async function writeAddresses(conn: PoolConnection, outcomes: readonly PacketOutcome[]) {
    for (const o of outcomes) {
      const agentId = o.agentState?.ref.id ?? 0;
      if (agentId === 0) continue;
      for (const ip of o.addresses) {
        const key = `${agentId}|${ip}`;
        if (linked.has(key)) continue;
        const [found] = await conn.query<RowDataPacket[]>(
          'SELECT id_a FROM taddress WHERE ip = ? ORDER BY id_a LIMIT 1',
          [fitToColumn(ip, COLUMN_LIMITS.taddress.ip)],
        );
        let idA = Number(found[0]?.['id_a'] ?? 0);
        if (idA === 0) {
          const [res] = await conn.query<import('mysql2/promise').ResultSetHeader>(
            'INSERT INTO taddress (ip) VALUES (?)',
            [fitToColumn(ip, COLUMN_LIMITS.taddress.ip)],
          );
          idA = res.insertId;
        }
        const [link] = await conn.query<RowDataPacket[]>(
          'SELECT 1 FROM taddress_agent WHERE id_a = ? AND id_agent = ? LIMIT 1',
          [idA, agentId],
        );
        if (link.length === 0)
          await conn.query('INSERT INTO taddress_agent (id_a, id_agent) VALUES (?, ?)', [
            idA,
            agentId,
          ]);
        // Remembered only for this process; a rolled-back batch leaves at worst one extra check.
        linked.add(key);
      }
    }
  }

  return {
    run: transact,
    abortAll() {
      aborted = true;
      for (const drop of running) drop();
    },
  };
}
