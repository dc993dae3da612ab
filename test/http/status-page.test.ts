// The status page rendered by a real headless Chromium (Debian package, /usr/bin/chromium):
// the page's own script fetches /status and must show the role, the master and the rates.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Counter } from 'prom-client';
import { ensureBinary } from '../ha/fixtures/haproxy.js';
import { tempDir } from '../helpers/tmp.js';
import { eventually, startHttpNode } from './fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const run = promisify(execFile);

/** Renders `url` in headless Chromium, lets its scripts run, and returns the resulting DOM. */
async function dumpDom(url: string): Promise<string> {
  const profile = tempDir('ti-chromium-');
  try {
    const { stdout } = await run(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile.path}`,
        // Virtual time lets the page's fetch of /status complete before the DOM is dumped.
        '--virtual-time-budget=5000',
        '--dump-dom',
        url,
      ],
      { timeout: 60_000, maxBuffer: 8 * 1024 * 1024 },
    );
    return stdout;
  } finally {
    profile.cleanup();
  }
}

/** Text of the element with `id`, from serialized HTML (the ids are ours, the markup simple). */
function textOf(dom: string, id: string): string {
  const match = new RegExp(`id="${id}"[^>]*>([^<]*)<`).exec(dom);
  return match?.[1] ?? '';
}

test('the status page shows role, master, epoch, peers and non-zero rates in headless Chromium', async (t) => {
  if (!existsSync(CHROMIUM)) ensureBinary('chromium');
  const node = await startHttpNode();
  t.after(() => node.close());
  await eventually(() => Promise.resolve(node.coordinator.isMaster()), 10_000, 'master');
  const received = new Counter({
    name: 'pandora_tentacle_files_received_total',
    help: 'test counter standing in for the receiver',
    registers: [node.registry],
  });
  // Traffic across a couple of rate samples, so the page has a real rate to show.
  for (let i = 0; i < 20; i++) {
    received.inc(10);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const epochBefore = node.coordinator.snapshot().epoch;
  // Traffic goes on while Chromium loads the page: on a busy CI host that took 25 s once, and a
  // rate over the last samples had fallen to 0 by then.
  const traffic = setInterval(() => {
    received.inc(10);
  }, 100);
  let dom: string;
  try {
    dom = await dumpDom(`${node.baseUrl}/`);
  } finally {
    clearInterval(traffic);
  }
  const epochAfter = node.coordinator.snapshot().epoch;
  assert.equal(textOf(dom, 'role'), 'master');
  assert.match(dom, /class="value role-master" id="role"/, 'styled as master');
  assert.equal(textOf(dom, 'server'), 'http-node');
  assert.equal(textOf(dom, 'master'), 'http-node');
  // The epoch the node held while the page was read (a CI host busy with Chromium once made it
  // miss a renewal and take the lease again, epoch 2).
  const shown = Number(textOf(dom, 'epoch'));
  assert.ok(
    shown >= Math.max(1, epochBefore) && shown <= epochAfter,
    `epoch shown ${String(shown)}, node's ${String(epochBefore)}..${String(epochAfter)}`,
  );
  assert.equal(textOf(dom, 'ready'), 'yes');
  const rate = /<td>files_received_per_sec<\/td><td>([0-9.]+)<\/td>/.exec(dom);
  assert.ok(rate, 'the rates table lists files_received_per_sec');
  assert.ok(Number(rate[1]) > 0, `a non-zero rate is shown, got ${rate[1] ?? ''}`);
  assert.match(dom, /<td>http-node<\/td><td>3<\/td><td>yes<\/td>/, 'the peers table lists us');
  assert.equal(textOf(dom, 'error'), '');
});
