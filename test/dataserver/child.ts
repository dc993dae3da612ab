import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { SERVE_NODE_FLAGS } from '../../src/core/heap.js';
import { createSchemaDatabase, testDbServer } from '../helpers/db.js';
import { freePort } from '../helpers/net.js';
import { tempDir } from '../helpers/tmp.js';

/** `tentacle-ingest serve --no-tentacle` in a child process (the real composition root). */
export type ServeChild = ChildProcess & {
  /** Resolves when the server logged that it is serving; rejects if it exits first. */
  readonly ready: Promise<void>;
  stderrText(): string;
  /** Its log so far (stdout, the last STDOUT_KEPT_CHARS characters). */
  stdoutText(): string;
};

const STDOUT_KEPT_CHARS = 4_000_000;

export function spawnServe(options: {
  incomingDir: string;
  dbName: string;
  serverName: string;
  extra?: string[];
  /** Node flags before the script, e.g. SERVE_NODE_FLAGS (the production heap). */
  nodeFlags?: readonly string[];
  /** Run the built-in Tentacle listener on this port (default: none). */
  tentaclePort?: number;
  /** dataserver_threads (default 0: parse on the main thread). */
  parseThreads?: number;
}): ServeChild {
  const db = testDbServer();
  const args = [
    ...(options.nodeFlags ?? []),
    '--import',
    'tsx',
    'src/main.ts',
    'serve',
    ...(options.tentaclePort === undefined
      ? ['--no-tentacle']
      : ['--tentacle-port', String(options.tentaclePort), '--tentacle-address', '127.0.0.1']),
    '--incomingdir',
    options.incomingDir,
    '--dbhost',
    db.host,
    '--dbport',
    String(db.port),
    '--dbuser',
    db.user,
    '--dbname',
    options.dbName,
    '--servername',
    options.serverName,
    '--dataserver_threads',
    String(options.parseThreads ?? 0),
    '--server_threshold',
    '1',
    '--verbosity',
    '3',
    // A restart under the same servername (needed to recover the claim folder) waits until the
    // killed instance's heartbeat has stood still for a tick plus a margin, capped by the dead
    // threshold: short timings keep the many restarts of the crash test quick. The lease sets
    // the HA query timeout (a third of it): at 800 ms that was 266 ms, and registration on a
    // loaded CI host timed out ("Query inactivity timeout"); 3 s gives 1 s and the same restarts.
    '--ha_tick_ms',
    '100',
    '--ha_member_dead_after_ms',
    '400',
    '--ha_lease_ttl_ms',
    '3000',
    ...(options.extra ?? []),
  ];
  const child = spawn(process.execPath, args, {
    cwd: process.cwd(),
    env: { ...process.env, TZ: 'UTC', PANDORA_DBPASS: db.password },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const kept: string[] = [];
  let keptChars = 0;
  const ready = new Promise<void>((resolve, reject) => {
    let seen = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      kept.push(text);
      keptChars += text.length;
      while (keptChars > STDOUT_KEPT_CHARS) keptChars -= kept.shift()?.length ?? keptChars;
      seen = (seen + text).slice(-2000);
      if (seen.includes('tentacle-ingest serving')) resolve();
    });
    child.once('exit', (code, signal) => {
      reject(new Error(`child exited (${String(code ?? signal)}) before serving: ${stderr}`));
    });
  });
  ready.catch(() => undefined); // a killed child may never be awaited
  return Object.assign(child, { ready, stderrText: () => stderr, stdoutText: () => kept.join('') });
}

export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** Polls `check` until it returns true or the deadline passes (generous: shared machine). */
export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Starts a server and waits until it serves. A restart under the name of a just-killed instance
 * is not refused: the HA membership sees the old heartbeat stand still and takes the row over.
 */
export async function startServe(options: Parameters<typeof spawnServe>[0]): Promise<ServeChild> {
  const child = spawnServe(options);
  await child.ready;
  return child;
}

/** `serve` as shipped (heap flags, 2 parse workers, its Tentacle listener) on a new database. */
export async function productionServe(t: TestContext, label: string) {
  const db = await createSchemaDatabase(`ti_${label}`);
  t.after(() => db.drop());
  const tmp = tempDir(`ti-${label}-`);
  t.after(() => {
    tmp.cleanup();
  });
  const incoming = join(tmp.path, 'data_in');
  const port = await freePort();
  const serve = await startServe({
    incomingDir: incoming,
    dbName: db.name,
    serverName: `${label}01`,
    nodeFlags: SERVE_NODE_FLAGS,
    tentaclePort: port,
    parseThreads: 2,
  });
  t.after(() => killHard(serve));
  return { db, incoming, port, serve };
}
