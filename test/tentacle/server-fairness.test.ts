/**
 * Connection fairness (issue 12, defect 2): slow or silent sockets and password guessers from
 * one address must not lock other agents out. Hostile peers bind their socket to 127.0.0.2,
 * real agents connect from 127.0.0.1 with the real client and its default timeout.
 * Covers the first-byte and command-line deadlines, the per-address cap, the PASS delay, the
 * twelve-slow-sockets case under the reference's `-c 10`, the 1,000-socket attack held for a
 * minute, and RECV refusing queued data files.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FIRST_DELAY_MS } from '../../src/tentacle/auth-throttle.js';
import { ZSEND_MEMORY_BUDGET_BYTES } from '../../src/tentacle/memory-budget.js';
import { connect, RejectReason } from '../../src/tentacle/index.js';
import {
  drip,
  uploadSteps,
  passLine,
  runSteps,
  startServer,
  type Harness,
  type LogRecord,
} from './fixtures/harness.js';

const HOSTILE = '127.0.0.2';
const AGENT = '127.0.0.1';
/** An idle limit far away, so that only the deadline under test can close a connection. */
const LONG_IDLE = { timeoutSec: 10, retries: 1 } as const;

function rejections(h: Harness, reason: string, peer?: string): number {
  return h.logs.filter((r) => r['reason'] === reason && (peer === undefined || r['peer'] === peer))
    .length;
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check() && performance.now() < deadline) await sleep(20);
}

/** One file sent by a real agent from 127.0.0.1 with the client's default timeout. */
async function deliver(port: number, name: string, data: Buffer, password?: string): Promise<void> {
  const session = await connect({
    host: '127.0.0.1',
    port,
    localAddress: AGENT,
    ...(password === undefined ? {} : { password }),
  });
  try {
    await session.send(name, data);
  } finally {
    await session.quit();
  }
}

type HostileKind = 'idle' | 'drip';

/**
 * Hostile sockets from 127.0.0.2: `idle` ones send nothing, `drip` ones send a never-ending
 * command line one byte a second. Each is reopened when the server closes it (after
 * `reopenMs`, which bounds the connection rate and the ports in TIME_WAIT on this machine).
 */
class HostileCrowd {
  opened = 0;
  closedByServer = 0;
  connectErrors = 0;
  readonly #port: number;
  readonly #reopenMs: number;
  readonly #sockets = new Set<net.Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(port: number, reopenMs: number) {
    this.#port = port;
    this.#reopenMs = reopenMs;
  }

  start(kind: HostileKind, count: number): void {
    for (let i = 0; i < count; i++) this.#open(kind);
  }

  #later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  #open(kind: HostileKind): void {
    if (this.#stopped) return;
    const socket = net.connect({ host: '127.0.0.1', port: this.#port, localAddress: HOSTILE });
    this.#sockets.add(socket);
    this.opened++;
    let connected = false;
    socket.on('connect', () => {
      connected = true;
      if (kind === 'drip') this.#drip(socket);
    });
    socket.on('data', () => undefined);
    socket.on('error', () => {
      if (!connected) this.connectErrors++;
    });
    socket.on('close', () => {
      this.#sockets.delete(socket);
      if (this.#stopped) return;
      if (connected) this.closedByServer++;
      this.#later(() => {
        this.#open(kind);
      }, this.#reopenMs);
    });
  }

  #drip(socket: net.Socket): void {
    const line = 'SEND <slowloris.data> SIZE 1';
    let i = 0;
    const step = (): void => {
      if (this.#stopped || socket.destroyed) return;
      socket.write(line[i % line.length] ?? 'x');
      i++;
      this.#later(step, 1000);
    };
    step();
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }
}

describe('first-byte and command-line deadlines', () => {
  test('a connection that sends nothing is closed at first_byte_timeout, long before the idle limit', async (t) => {
    const h = await startServer(t, { ...LONG_IDLE, firstByteTimeoutSec: 1 });
    const peer = await h.connect();
    const waited = await peer.expectClose(5000);
    assert.ok(waited >= 900, `closed after ${waited.toFixed(0)} ms`);
    const rec = h.logs.find((r) => r['reason'] === RejectReason.FirstByteTimeout);
    assert.equal(rec?.['peer'], AGENT);
  });

  test('after its first command a connection is held by the idle limit, not the first-byte deadline', async (t) => {
    const h = await startServer(t, { ...LONG_IDLE, firstByteTimeoutSec: 1 });
    const peer = await h.connect();
    await runSteps(peer, [
      ...uploadSteps('a.data', 'a'),
      { silence: 1800 },
      ...uploadSteps('b.data', 'b'),
    ]);
    assert.deepEqual(h.files(), ['a.data', 'b.data']);
    assert.equal(rejections(h, RejectReason.FirstByteTimeout), 0);
  });

  test('a drip-fed command line is closed at command_timeout, far below transfer_timeout', async (t) => {
    const h = await startServer(t, { ...LONG_IDLE, commandTimeoutSec: 1, transferTimeoutSec: 120 });
    const peer = await h.connect();
    const started = performance.now();
    await drip(peer, 'SEND <drip.data> SIZE 1', 200);
    await peer.expectClose(3000);
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 900, `closed after ${elapsed.toFixed(0)} ms`);
    assert.equal(rejections(h, RejectReason.CommandTimeout, AGENT), 1);
    assert.deepEqual(h.files(), []);
  });

  test('a drip-fed PASS line is closed at command_timeout too', async (t) => {
    const h = await startServer(t, { ...LONG_IDLE, commandTimeoutSec: 1, password: 'pw' });
    const peer = await h.connect();
    await drip(peer, passLine('pw'), 200);
    await peer.expectClose(3000);
    assert.equal(rejections(h, RejectReason.CommandTimeout, AGENT), 1);
  });

  test('a body slower than command_timeout completes: bodies are bounded by transfer_timeout', async (t) => {
    const h = await startServer(t, { ...LONG_IDLE, commandTimeoutSec: 1 });
    const peer = await h.connect();
    peer.write('SEND <slow.data> SIZE 4\n');
    await peer.expect('SEND OK\n');
    for (const byte of 'slow') {
      await sleep(500); // 2 s in all
      peer.write(byte);
    }
    await peer.expect('SEND OK\n');
    assert.deepEqual(h.files(), ['slow.data']);
    assert.equal(rejections(h, RejectReason.CommandTimeout), 0);
  });
});

describe('connections per client address', () => {
  test('an address over its cap is closed at once and logged; other addresses are served', async (t) => {
    const h = await startServer(t, { maxConnectionsPerAddress: 3, firstByteTimeoutSec: 60 });
    const held = [];
    for (let i = 0; i < 3; i++) held.push(await h.connect({ localAddress: HOSTILE }));
    await waitFor(() => h.server.activeConnections() === 3, 2000);
    assert.equal(h.server.activeConnections(), 3);
    const extra = await h.connect({ localAddress: HOSTILE });
    await extra.expectClose(1000);
    const rec = h.logs.find((r) => r['reason'] === RejectReason.AddressLimit);
    assert.equal(rec?.['peer'], HOSTILE);
    assert.equal(rec['maxConnectionsPerAddress'], 3);

    const agent = await h.connect({ localAddress: AGENT });
    await runSteps(agent, [...uploadSteps('agent.data', 'ok')]);

    // A freed place is available again to the same address.
    held[0]?.destroy();
    await waitFor(() => h.server.activeConnections() === 3, 2000); // 2 hostile + the agent
    const again = await h.connect({ localAddress: HOSTILE });
    await runSteps(again, [...uploadSteps('again.data', 'ok')]);
    assert.deepEqual(h.files(), ['again.data', 'agent.data']);
    const text = await h.registry.getSingleMetricAsString('pandora_tentacle_rejections_total');
    assert.match(text, /reason="ERR_TENTACLE_ADDRESS_LIMIT"} 1$/m);
  });

  test('an agent that QUITs, sees the server close and reconnects at once is admitted at the cap', async (t) => {
    // Fair only once the server has closed: a client that reconnects right after writing QUIT
    // (what the bench's load driver did) races the server's read of that QUIT and may be refused.
    const cap = 64;
    const h = await startServer(t, { maxConnectionsPerAddress: cap, firstByteTimeoutSec: 60 });
    for (let i = 0; i < cap - 1; i++) await h.connect({ localAddress: AGENT });
    await waitFor(() => h.server.activeConnections() === cap - 1, 5000);
    for (let round = 0; round < 20; round++) {
      const agent = await h.connect({ localAddress: AGENT });
      await runSteps(agent, [...uploadSteps(`agent-${String(round)}.data`, 'ok')]);
      agent.write('QUIT\n');
      await agent.expectClose(2000);
      agent.destroy();
    }
    assert.equal(h.files().length, 20);
    assert.equal(rejections(h, RejectReason.AddressLimit), 0);
  });

  test('waiting connections count toward the cap', async (t) => {
    const h = await startServer(t, {
      maxConnections: 1,
      maxConnectionsPerAddress: 2,
      firstByteTimeoutSec: 60,
    });
    await h.connect({ localAddress: HOSTILE }); // served
    await h.connect({ localAddress: HOSTILE }); // waiting
    await waitFor(() => h.server.waitingConnections() === 1, 2000);
    const third = await h.connect({ localAddress: HOSTILE });
    await third.expectClose(1000);
    assert.equal(h.server.waitingConnections(), 1);
    assert.equal(rejections(h, RejectReason.AddressLimit, HOSTILE), 1);
  });
});

describe('delay after failed PASS attempts', () => {
  test('300 wrong attempts meet growing delays; the right password from another address is not delayed', async (t) => {
    const maxDelayMs = 1000;
    const h = await startServer(t, { password: 'right', passDelayMaxSec: maxDelayMs / 1000 });
    const attempt = async (): Promise<void> => {
      const peer = await h.connect({ localAddress: HOSTILE });
      peer.write(passLine('wrong'));
      await peer.expectClose(maxDelayMs + 3000); // no reply: a wrong password is dropped
      peer.destroy();
    };
    const checks = (): LogRecord[] =>
      h.logs.filter((r) => r['reason'] === RejectReason.AuthFailed && r['peer'] === HOSTILE);

    // One guesser in sequence: every check waits for the delay its failures earned.
    const sequential = 8;
    for (let i = 0; i < sequential; i++) await attempt();
    const paced = checks();
    assert.equal(paced.length, sequential);
    for (let k = 1; k < paced.length; k++) {
      const gap = Number(paced[k]?.['time']) - Number(paced[k - 1]?.['time']);
      const owed = Math.min(FIRST_DELAY_MS * 2 ** (k - 1), maxDelayMs);
      assert.ok(gap >= owed - 15, `check ${k + 1} came ${gap} ms after check ${k}, owed ${owed}`);
      assert.equal(paced[k]?.['failures'], k + 1);
    }

    // Then the other 292 at once over 29 sockets: at most one check per delay, the rest are
    // refused unchecked; meanwhile an agent from another address logs in.
    const burstStarted = performance.now();
    const worker = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) await attempt();
    };
    const burst = Promise.all([
      ...Array.from({ length: 28 }, () => worker(10)),
      worker(300 - sequential - 280),
    ]);
    await sleep(200);
    await deliver(h.port, 'agent.data', Buffer.from('ok'), 'right');
    await burst;
    const burstMs = performance.now() - burstStarted;
    const burstChecks = checks().length - sequential;
    const refused = rejections(h, RejectReason.AuthThrottled, HOSTILE);
    assert.equal(sequential + burstChecks + refused, 300, 'every attempt checked or refused');
    assert.ok(
      burstChecks <= Math.ceil(burstMs / maxDelayMs) + 1,
      `${burstChecks} checks in ${burstMs.toFixed(0)} ms`,
    );

    // The agent's address was neither delayed nor refused.
    assert.equal(
      h.logs.filter((r) => r['event'] === 'pass_delayed' && r['peer'] === AGENT).length,
      0,
    );
    assert.equal(rejections(h, RejectReason.AuthFailed, AGENT), 0);
    assert.deepEqual(h.files(), ['agent.data']);

    // The right password from the guessing address waits its turn, then succeeds and clears it.
    const delayed = (): number =>
      h.logs.filter((r) => r['event'] === 'pass_delayed' && r['peer'] === HOSTILE).length;
    const before = delayed();
    const peer = await h.connect({ localAddress: HOSTILE });
    await runSteps(peer, [{ send: passLine('right') }, { expect: 'PASS OK\n' }]);
    assert.equal(delayed(), before + 1);
    const next = await h.connect({ localAddress: HOSTILE });
    await runSteps(next, [{ send: passLine('right') }, { expect: 'PASS OK\n' }]);
    assert.equal(delayed(), before + 1, 'no delay once the right password was given');
  });
});

describe('slow and idle socket floods (issue 12, defect 2)', () => {
  test('12 slow sockets under the reference -c 10 and transfer_timeout 120 no longer lock agents out', async (t) => {
    const h = await startServer(t, { maxConnections: 10, transferTimeoutSec: 120 });
    const crowd = new HostileCrowd(h.port, 100);
    t.after(() => {
      crowd.stop();
    });
    crowd.start('drip', 12);
    await waitFor(() => h.server.activeConnections() === 10, 3000);
    assert.equal(h.server.activeConnections(), 10, 'the drippers hold every slot');
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) {
      const name = `agent.${1700000000 + i}.data`;
      await deliver(h.port, name, Buffer.from(name)); // throws past the client's 4 s timeout
      sent.push(name);
    }
    crowd.stop();
    assert.deepEqual(h.files(), sent.sort());
    assert.ok(rejections(h, RejectReason.CommandTimeout, HOSTILE) >= 10);
  });

  test('1,000 hostile sockets from 127.0.0.2, idle or dripping, reopened for a minute: the agent delivers everything', async (t) => {
    const durationMs = 60_000;
    const h = await startServer(t, { sync: 'always' });
    const crowd = new HostileCrowd(h.port, 1000);
    t.after(() => {
      crowd.stop();
    });
    crowd.start('idle', 500);
    crowd.start('drip', 500);
    const acknowledged = new Map<string, Buffer>();
    const failures: string[] = [];
    const started = performance.now();
    let i = 0;
    while (performance.now() - started < durationMs) {
      const name = `agent.${1700000000 + i++}.data`;
      const data = randomBytes(1024 + (i % 3000));
      try {
        await deliver(h.port, name, data);
        acknowledged.set(name, data);
      } catch (err) {
        failures.push(`${name}: ${(err as Error).message}`);
      }
      await sleep(200);
    }
    crowd.stop();
    t.diagnostic(
      `hostile connections opened ${crowd.opened}, closed by the server ${crowd.closedByServer}, ` +
        `connect errors ${crowd.connectErrors}; agent files ${acknowledged.size}`,
    );
    assert.deepEqual(failures, [], 'every delivery succeeded within the default timeout');
    assert.ok(acknowledged.size >= 50, `${acknowledged.size} files delivered`);
    for (const [name, data] of acknowledged) {
      assert.ok(readFileSync(join(h.dir, name)).equals(data), `${name} stored intact`);
    }
    assert.equal(h.files().length, acknowledged.size, 'nothing else was stored');
    assert.ok(crowd.opened > 2000, 'the crowd kept reopening');
    assert.ok(rejections(h, RejectReason.AddressLimit) > 0);
  });
});

describe('memory that many connections may hold', () => {
  test('ZSEND archives share one memory budget: past it a ZSEND is refused before its body', async (t) => {
    const h = await startServer(t);
    const size = 2_000_000;
    const fit = Math.floor(ZSEND_MEMORY_BUDGET_BYTES / size);
    const holders = [];
    for (let i = 0; i < fit; i++) {
      const peer = await h.connect();
      peer.write(`ZSEND <z${i}.data> SIZE ${size}\n`);
      await peer.expect('ZSEND OK\n');
      holders.push(peer);
    }
    const over = await h.connect();
    await runSteps(over, [{ send: `ZSEND <over.data> SIZE ${size}\n` }, { expect: 'ZSEND ERR\n' }]);
    assert.equal(rejections(h, RejectReason.Busy), 1);
    // A plain SEND is not affected, and a holder that leaves returns its share.
    await runSteps(over, [...uploadSteps('plain.data', 'ok')]);
    holders[0]?.destroy();
    await waitFor(() => h.server.activeConnections() === fit, 2000);
    await runSteps(over, [{ send: `ZSEND <late.data> SIZE ${size}\n` }, { expect: 'ZSEND OK\n' }]);
  });
});

describe('descriptors', () => {
  test('a listener whose -c and waiting list exceed the open-file limit says so at start', () => {
    // A child with a hard limit of 1,000 descriptors (Node cannot raise it past that).
    const script = `
      const { mkdtempSync } = await import('node:fs');
      const { tmpdir } = await import('node:os');
      const { join } = await import('node:path');
      const { createTentacleServer } = await import('./src/tentacle/index.ts');
      const { memoryLogger } = await import('./test/tentacle/fixtures/harness.ts');
      const dir = mkdtempSync(join(tmpdir(), 'tentacle-fd-'));
      for (const [maxConnections, maxWaitingConnections] of [[2048, 1024], [100, 100]]) {
        const { logger, records } = memoryLogger('info');
        const server = createTentacleServer(
          { directory: dir, addresses: '127.0.0.1', port: 0, maxConnections, maxWaitingConnections },
          { logger },
        );
        await server.listen();
        await server.close();
        console.log(JSON.stringify(records.filter((r) => r.event === 'fd_limit_low')));
      }`;
    const run = spawnSync(
      'bash',
      [
        '-c',
        'ulimit -n 1000 && exec "$0" --import tsx --input-type=module -e "$1"',
        process.execPath,
        script,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(run.status, 0, run.stderr);
    const [defaults, small] = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as LogRecord[]);
    assert.equal(defaults?.length, 1);
    assert.equal(defaults[0]?.['openFileLimit'], 1000);
    assert.equal(defaults[0]['needed'], 2 * 2048 + 1024 + 256);
    assert.deepEqual(small, [], '-c 100 with 100 waiting fits in 1,000 descriptors');
  });
});

describe('RECV/ZRECV serve only filter folders by default', () => {
  const FILTERS = '.*\\.conf:conf;.*\\.md5:md5';
  const setup = (dir: string): void => {
    mkdirSync(join(dir, 'conf'));
    mkdirSync(join(dir, 'md5'));
    writeFileSync(join(dir, 'agent.1700000000.data'), '<agent_data/>');
    writeFileSync(join(dir, 'conf', 'abc.conf'), 'conf!');
  };

  test('a queued data packet "does not exist" for RECV and ZRECV; a configuration file is served', async (t) => {
    const h = await startServer(t, { filters: FILTERS }, setup);
    const peer = await h.connect();
    await runSteps(peer, [
      { send: 'RECV <agent.1700000000.data>\n' },
      { expect: 'RECV ERR (file does not exist)\n' },
      { send: 'ZRECV <agent.1700000000.data>\n' },
      { expect: 'ZRECV ERR (file does not exist)\n' },
      { send: 'RECV <abc.conf>\n' },
      { expect: 'RECV SIZE 5\n' },
      { send: 'RECV OK\n' },
      { expect: 'conf!' },
    ]);
    assert.deepEqual(h.files(), ['agent.1700000000.data', 'conf', 'md5'], 'still queued');
    assert.equal(
      h.logs.filter((r) => r['msg'] === 'RECV: not in a filter folder').length,
      1,
      'the refusal is logged as such',
    );
  });

  test('without filters, or with a filter into the storage folder itself, nothing is served', async (t) => {
    for (const filters of [undefined, '.*\\.data:', '.*\\.data:.']) {
      const h = await startServer(t, filters === undefined ? {} : { filters }, setup);
      const peer = await h.connect();
      await runSteps(peer, [
        { send: 'RECV <agent.1700000000.data>\n' },
        { expect: 'RECV ERR (file does not exist)\n' },
      ]);
      peer.destroy();
    }
  });

  test('recv_any_file restores the reference: the queued packet is served', async (t) => {
    const h = await startServer(t, { filters: FILTERS, recvAnyFile: true }, setup);
    const peer = await h.connect();
    await runSteps(peer, [
      { send: 'RECV <agent.1700000000.data>\n' },
      { expect: 'RECV SIZE 13\n' },
      { send: 'RECV OK\n' },
      { expect: '<agent_data/>' },
    ]);
  });
});
