// Shared by the client and delivery tests: real Tentacle servers of ours on loopback ports, a
// black hole (accepts, never answers), a refused port, test certificates made with openssl.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { silentLogger } from '../../src/core/log.js';
import { createMetricsRegistry } from '../../src/core/metrics.js';
import {
  createTentacleServer,
  type TentacleServer,
  type TentacleServerOptions,
} from '../../src/tentacle/index.js';
import type { ClientIo } from '../../src/tentacle/index.js';
import { loadDeliveryConfig, type DeliveryConfig } from '../../src/agent/index.js';
import { tempDir } from '../helpers/tmp.js';

export interface Cleanup {
  after(fn: () => unknown): void;
}

export interface TestServer {
  readonly server: TentacleServer;
  readonly port: number;
  readonly dir: string;
  /** Names in the order the server stored them. */
  readonly stored: string[];
  /** Stops accepting and ends the sessions (a server going down); `up()` brings it back. */
  down(): Promise<void>;
  up(): Promise<void>;
}

export async function startTentacle(
  t: Cleanup,
  options: Partial<TentacleServerOptions> = {},
): Promise<TestServer> {
  const folder = tempDir('ti-srv-');
  let close = (): Promise<void> => Promise.resolve();
  // One hook: the server stops before its folder goes (a transfer still writing would make the
  // removal fail with ENOTEMPTY).
  t.after(async () => {
    await close();
    folder.cleanup();
  });
  const dir = options.directory ?? folder.path;
  const server = createTentacleServer(
    { addresses: '127.0.0.1', port: 0, ...options, directory: dir },
    { logger: silentLogger(), registry: createMetricsRegistry({ defaultMetrics: false }) },
  );
  const stored: string[] = [];
  server.on('fileStored', (event) => stored.push(event.name));
  const [address] = await server.listen();
  if (!address) throw new Error('server did not bind');
  close = () => server.close();
  return {
    server,
    port: address.port,
    dir,
    stored,
    down: () => server.drain(),
    up: async () => {
      await server.listen();
    },
  };
}

/** A server that is down: its port refuses connections until `up()` starts it there. */
export async function startDownTentacle(
  t: Cleanup,
  options: Partial<TentacleServerOptions> = {},
): Promise<TestServer> {
  const server = await startTentacle(t, { ...options, port: await refusedPort() });
  await server.down();
  return server;
}

/** Accepts connections and never answers (a hung server or a partition after the SYN). */
export async function startBlackHole(
  t: Cleanup,
): Promise<{ port: number; accepted: () => number; open: () => number }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.resume(); // read and discard, so the peer's close is seen
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return {
    port: (server.address() as AddressInfo).port,
    accepted: () => accepted,
    open: () => sockets.size,
  };
}

/** A loopback port nobody listens on (connection refused). */
export async function refusedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  return port;
}

/** Files in a folder (regular, not hidden) with their contents. */
export function filesIn(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile() && !entry.name.startsWith('.')) {
      out[entry.name] = readFileSync(join(dir, entry.name), 'utf8');
    }
  }
  return out;
}

export function writeFiles(dir: string, files: Record<string, string>): string[] {
  return Object.entries(files).map(([name, body]) => {
    const path = join(dir, name);
    writeFileSync(path, body);
    return path;
  });
}

/** Captures what the CLI prints. */
export function captureIo(cwd: string): ClientIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    cwd,
    out: (line) => stdout.push(line),
    err: (line) => stderr.push(line),
  };
}

export interface TestCerts {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

/** A private CA, a server certificate for 127.0.0.1/localhost and a client certificate. */
export function makeCerts(t: Cleanup): TestCerts {
  const folder = tempDir('ti-certs-');
  t.after(() => {
    folder.cleanup();
  });
  const dir = folder.path;
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=test-ca',
  );
  for (const who of ['server', 'client']) {
    openssl('req', ...ec, '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who}`);
    writeFileSync(join(dir, `${who}.ext`), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    openssl(
      'x509',
      '-req',
      '-in',
      `${who}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${who}.pem`,
      '-days',
      '2',
      '-extfile',
      `${who}.ext`,
    );
  }
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
  };
}

/** A temporary folder removed after the test. */
export function folder(t: Cleanup, prefix = 'ti-dlv-'): string {
  const dir = tempDir(prefix);
  t.after(() => {
    dir.cleanup();
  });
  return dir.path;
}

/** Delivery settings as long flags would give them (`server_port`, `xml_buffer`, …). */
export function deliveryConfig(settings: Record<string, string | number>): DeliveryConfig {
  const flags = new Map(Object.entries(settings).map(([k, v]) => [k, String(v)]));
  return loadDeliveryConfig({ flags });
}

/** A primary and a secondary on loopback in `mode`, plus any other settings. */
export function pairConfig(
  mode: 'on_error' | 'always',
  primaryPort: number,
  secondaryPort: number,
  settings: Record<string, string | number> = {},
): DeliveryConfig {
  return deliveryConfig({
    server_ip: '127.0.0.1',
    server_port: primaryPort,
    secondary_mode: mode,
    secondary_server_ip: '127.0.0.1',
    secondary_server_port: secondaryPort,
    ...settings,
  });
}
