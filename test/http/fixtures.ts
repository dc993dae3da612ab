import { pandoraTablesDdl } from '../../src/db/index.js';
import { silentLogger } from '../../src/core/log.js';
import { createMetricsRegistry, type Registry } from '../../src/core/metrics.js';
import {
  createHaCoordinator,
  createNodeState,
  createOwnerMarkerCheck,
  ensureHaSchema,
  haConfigFrom,
  HA_SETTINGS,
  type HaCoordinator,
  type NodeState,
} from '../../src/ha/index.js';
import { resolveSettings } from '../../src/core/settings.js';
import { createHttpServer, type DrainAuth, type HttpServer } from '../../src/http/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { tempDir } from '../helpers/tmp.js';
import mysql from 'mysql2/promise';
export { eventually } from '../ha/fixtures/cluster.js';

export interface HttpNode {
  readonly db: TestDatabase;
  readonly registry: Registry;
  readonly coordinator: HaCoordinator;
  readonly state: NodeState;
  readonly http: HttpServer;
  readonly baseUrl: string;
  readonly spoolDir: string;
  /** What the pipeline hook reports (the dataserver's `health()` in `serve`); set it freely. */
  readonly pipeline: { queueDepth: number; stalled: boolean };
  /** Calls of the receiver's drain hook. */
  readonly drainCalls: number[];
  close(): Promise<void>;
}

/**
 * One in-process server reduced to HA + the HTTP side, on a fresh test database. `dbPort` lets
 * a test put a proxy between it and MariaDB.
 */
export async function startHttpNode(
  options: {
    dbPort?: number;
    db?: TestDatabase;
    name?: string;
    master?: number;
    drainAuth?: DrainAuth;
  } = {},
): Promise<HttpNode> {
  const ownsDb = options.db === undefined;
  const db = options.db ?? (await createTestDatabase('ti_http'));
  if (ownsDb) for (const ddl of pandoraTablesDdl()) await db.pool.query(ddl);
  const spool = tempDir('ti-http-spool-');
  const log = silentLogger();
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const pool = mysql.createPool({
    host: db.host,
    port: options.dbPort ?? db.port,
    user: db.user,
    password: db.password,
    database: db.name,
    connectionLimit: 4,
    connectTimeout: 1000,
    dateStrings: true,
  });
  pool.on('connection', (conn) => {
    conn.on('error', () => undefined);
  });
  const { values } = resolveSettings(HA_SETTINGS, {
    flags: new Map([
      ['servername', options.name ?? 'http-node'],
      ['master', String(options.master ?? 3)],
      ['server_keepalive', '2'],
      ['ha_tick_ms', '500'],
      ['ha_startup_grace_ms', '0'],
    ]),
  });
  const config = haConfigFrom(values, 'test');
  const coordinator = createHaCoordinator(config, { pool, log, registry });
  await ensureHaSchema(pool);
  const drainCalls: number[] = [];
  const pipeline = { queueDepth: 0, stalled: false };
  const state = createNodeState(
    {
      spoolDir: spool.path,
      minFreeBytes: 0,
      heartbeatStaleMs: 2 * config.tickMs + 500,
      drainDelayMs: 0,
    },
    {
      coordinator,
      log,
      registry,
      pipeline: () => pipeline,
      drainReceiver: () => {
        drainCalls.push(Date.now());
        return Promise.resolve();
      },
      checks: [
        createOwnerMarkerCheck(
          { incomingDir: spool.path, serverName: config.serverName },
          { coordinator, log },
        ),
      ],
    },
  );
  await coordinator.start();
  const http = createHttpServer(
    { host: '127.0.0.1', port: 0, ...(options.drainAuth ? { drainAuth: options.drainAuth } : {}) },
    { log, registry, state },
  );
  const address = await http.listen();
  return {
    db,
    registry,
    coordinator,
    state,
    http,
    baseUrl: `http://127.0.0.1:${address.port}`,
    spoolDir: spool.path,
    pipeline,
    drainCalls,
    async close() {
      await http.close();
      await coordinator.close();
      await pool.end();
      if (ownsDb) await db.drop();
      spool.cleanup();
    },
  };
}

/** Parses the Prometheus text exposition format into `name{labels}` → value. */
export function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    samples.set(match[1] ?? '', Number(match[2]));
  }
  return samples;
}
