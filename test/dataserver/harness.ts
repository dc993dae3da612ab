import { mkdirSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../src/core/log.js';
import { createMetricsRegistry, type Registry } from '../../src/core/metrics.js';
import { createDbPool, initDatabase, type DbPool } from '../../src/db/index.js';
import {
  createDataserver,
  createPacketParser,
  loadDataserverConfig,
  processPacket,
  type Dataserver,
  type DataserverConfig,
  type PacketParser,
} from '../../src/dataserver/index.js';
import { createTestDatabase, testDbServer, type TestDatabase } from '../helpers/db.js';
import { runAll } from '../helpers/teardown.js';
import { tempDir } from '../helpers/tmp.js';

// The reference formats and parses DATETIMEs in local time; the spec's expectations are in UTC.
process.env['TZ'] = 'UTC';

/** Spec §9 fixture: servername pandora01, autocreate on, group 10 fallback, update_parent 1. */
export const FIXTURE_FLAGS: Record<string, string> = {
  servername: 'pandora01',
  autocreate: '1',
  autocreate_group: '10',
  autocreate_group_force: '0',
  use_xml_timestamp: '1',
  dataserver_lifo: '0',
  event_auto_validation: '1',
  unknown_events: '1',
  update_parent: '1',
  graph_precision: '1',
  dataserver_threads: '0',
  dataserver_batch_wait_ms: '2',
  server_threshold: '3600',
};

export function flagsMap(overrides: Record<string, string>): Map<string, string> {
  return new Map(Object.entries({ ...FIXTURE_FLAGS, ...overrides }));
}

/** Writes a spool file atomically (temp name + rename) with an optional mtime (epoch s). */
export function dropFile(
  dir: string,
  name: string,
  content: string | Buffer,
  mtimeSec?: number,
): void {
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${name}.part`);
  writeFileSync(tmp, content);
  if (mtimeSec !== undefined) utimesSync(tmp, mtimeSec, mtimeSec);
  renameSync(tmp, join(dir, name));
}

/** Spec §9's `X(t, v)`: host1 in Servers, Linux, interval 300, one generic_data module `cpu`. */
export function X(
  time: string,
  value: string,
  extra: { attrs?: string; module?: string; date?: string } = {},
): string {
  return `<?xml version='1.0' encoding='UTF-8'?>
<agent_data agent_name='host1' group='Servers' os_name='Linux' interval='300' timestamp='${extra.date ?? '2024/03/01'} ${time}' ${extra.attrs ?? ''}>
<module><name>cpu</name><type>generic_data</type>${extra.module ?? ''}<data><![CDATA[${value}]]></data></module>
</agent_data>`;
}

/** One module of any type with extra tags, for host1. */
export function packet(
  time: string,
  modules: string,
  attrs = "agent_name='host1' group='Servers' os_name='Linux' interval='300'",
): string {
  return `<?xml version='1.0' encoding='UTF-8'?>\n<agent_data ${attrs} timestamp='2024/03/01 ${time}'>\n${modules}\n</agent_data>`;
}

export function mod(name: string, type: string, data: string, tags = ''): string {
  return `<module><name><![CDATA[${name}]]></name><type>${type}</type>${tags}<data><![CDATA[${data}]]></data></module>`;
}

export type Row = Record<string, unknown>;

export interface Harness {
  readonly db: TestDatabase;
  readonly dir: string;
  readonly config: DataserverConfig;
  readonly ds: Dataserver;
  readonly pool: DbPool;
  /** The running dataserver's metrics (a fresh registry per start). */
  readonly registry: Registry;
  /** Drops the files (in order, 1 s of mtime apart) and waits until all are processed. */
  feed(...contents: (string | Buffer)[]): Promise<string[]>;
  rows(sql: string, values?: unknown[]): Promise<Row[]>;
  restart(overrides?: Record<string, string>): Promise<void>;
  /** Empties the tables a case writes (and the ledger) and restarts with an empty cache. */
  reset(overrides?: Record<string, string>): Promise<void>;
  count(sql: string, values?: unknown[]): Promise<number>;
  close(): Promise<void>;
}

/** `pandora_dataserver_db_retries_total{reason}` of the harness's dataserver (0 before any). */
export async function dbRetries(
  h: Harness,
  reason: 'duplicate' | 'lock' | 'transient' | 'timeout' | 'error',
): Promise<number> {
  const metric = await h.registry.getSingleMetric('pandora_dataserver_db_retries_total')?.get();
  return metric?.values.find((v) => v.labels['reason'] === reason)?.value ?? 0;
}

let fileCounter = 0;

const RESET_TABLES = [
  'tagente',
  'tagente_modulo',
  'tagente_estado',
  'tagente_datos',
  'tagente_datos_string',
  'tagente_datos_inc',
  'tevento',
  'taddress',
  'taddress_agent',
  'tingest_ledger',
];

export async function startHarness(
  overrides: Record<string, string> = {},
  options: { db?: TestDatabase; host?: string; port?: number } = {},
): Promise<Harness> {
  const db = options.db ?? (await createTestDatabase());
  await initDatabase(
    { ...testDbServer(), database: db.name },
    { createDatabase: false },
    { logger: silentLogger() },
  );
  const tmp = tempDir('ti-ds-');
  const dir = join(tmp.path, 'data_in');
  mkdirSync(dir, { recursive: true });
  const server = {
    ...testDbServer(),
    ...(options.host ? { host: options.host } : {}),
    ...(options.port ? { port: options.port } : {}),
  };
  let current: {
    config: DataserverConfig;
    ds: Dataserver;
    pool: DbPool;
    parser: PacketParser;
    registry: Registry;
  };
  const build = async (extra: Record<string, string>) => {
    const config = loadDataserverConfig({
      flags: flagsMap({
        incomingdir: dir,
        dbname: db.name,
        dbhost: server.host,
        dbport: String(server.port),
        dbuser: server.user,
        ...overrides,
        ...extra,
      }),
    });
    const pool = createDbPool(
      {
        ...config.db,
        password: server.password,
        connectionLimit: config.db.connections,
        queueLimit: 1000,
        connectTimeoutMs: 2000,
      },
      { logger: silentLogger() },
    );
    const parser = createPacketParser(config, { logger: silentLogger() });
    const registry = createMetricsRegistry({ defaultMetrics: false });
    const ds = createDataserver(config, {
      pool,
      logger: silentLogger(),
      registry,
      processPacket,
      parser,
    });
    await ds.start();
    current = { config, ds, pool, parser, registry };
  };
  await build({});
  // Assertions read through a pool of our own: DATETIMEs as the strings the server stores.
  const assertPool = createDbPool(
    { ...testDbServer(), database: db.name, connectionLimit: 2, queueLimit: 100 },
    { logger: silentLogger() },
  );
  let mtime = 1_709_280_000;
  const h: Harness = {
    db,
    dir,
    get config() {
      return current.config;
    },
    get ds() {
      return current.ds;
    },
    get pool() {
      return current.pool;
    },
    get registry() {
      return current.registry;
    },
    async feed(...contents) {
      const names: string[] = [];
      for (const content of contents) {
        const name = `host1.${++fileCounter}.data`;
        dropFile(dir, name, content, mtime++);
        names.push(name);
      }
      await current.ds.drain();
      return names;
    },
    async rows(sql: string, values: unknown[] = []) {
      const [rows] = await assertPool.query(sql, values);
      return rows as Row[];
    },
    async restart(extra = {}) {
      await current.ds.close();
      await current.parser.close();
      await current.pool.end();
      await build(extra);
    },
    async reset(extra = {}) {
      for (const t of RESET_TABLES) await assertPool.query(`DELETE FROM ${t}`);
      await h.restart(extra);
    },
    async count(sql: string, values: unknown[] = []) {
      const [rows] = await assertPool.query(sql, values);
      return Number((rows as Row[])[0]?.['n']);
    },
    async close() {
      // Every step runs even when one fails: a pool left open would keep the process alive.
      await runAll([
        () => current.ds.close(),
        () => current.parser.close(),
        () => current.pool.end(),
        () => assertPool.end(),
        () => (options.db ? undefined : db.drop()),
        () => {
          tmp.cleanup();
        },
      ]);
    },
  };
  return h;
}
