import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

// The first ten minutes of a new user (issue 14): what the README promises about `npm test`
// and the Docker image is what the scripts and the Dockerfile really do.

const README = readFileSync('README.md', 'utf8');

/** The README paragraph that starts with `prefix` (paragraphs are separated by blank lines). */
function paragraph(prefix: string): string {
  const found = README.split(/\n\s*\n/).find((p) => p.startsWith(prefix));
  assert.ok(found !== undefined, `README paragraph starting ${prefix}`);
  return found.replace(/\s+/g, ' ');
}

test('README: npm test installs and starts MariaDB, Redis, HAProxy and Chromium, as the scripts do', () => {
  const text = paragraph('`npm test`');
  for (const service of ['MariaDB', 'Redis', 'HAProxy', 'Chromium'])
    assert.match(text, new RegExp(`\\b${service}\\b`), service);
  assert.match(text, /apt-get/);
  assert.match(text, /SKIP_SERVICES=1/);
  // What the paragraph describes: services.sh ensures MariaDB and Redis for npm test, and
  // installs haproxy and chromium for the tests that run them.
  const runner = readFileSync('scripts/run-tests.mjs', 'utf8');
  assert.match(runner, /services\.sh', 'ensure'/);
  assert.match(runner, /SKIP_SERVICES/);
  const services = readFileSync('scripts/services.sh', 'utf8');
  assert.match(services, /ensure\) ensure_mariadb; ensure_redis ;;/);
  assert.match(services, /apt_install haproxy/);
  assert.match(services, /apt_install chromium/);
  assert.match(readFileSync('test/ha/fixtures/haproxy.ts', 'utf8'), /ensureBinary\('haproxy'\)/);
  assert.match(readFileSync('test/http/status-page.test.ts', 'utf8'), /ensureBinary\('chromium'\)/);
});

/** `FROM image[:tag] [AS stage]` lines of the Dockerfile. */
function fromLines(): { image: string; tag: string }[] {
  return readFileSync('Dockerfile', 'utf8')
    .split('\n')
    .filter((line) => /^FROM\s/i.test(line))
    .map((line) => {
      const ref = line.trim().split(/\s+/)[1] ?? '';
      const [image = '', tag = 'latest'] = ref.split(':');
      return { image, tag };
    });
}

test('Dockerfile builds on Node 22 LTS (maintained) while package.json keeps Node 20.19 working', () => {
  const froms = fromLines();
  assert.equal(froms.length, 2, 'a build stage and a runtime stage');
  for (const { image, tag } of froms) {
    assert.equal(image, 'node');
    const major = Number(/^(\d+)/.exec(tag)?.[1]);
    // Node 20 left maintenance in April 2026; 22 is maintained until April 2027.
    assert.ok(major >= 22 && major % 2 === 0, `an LTS line still maintained, got node:${tag}`);
    assert.match(tag, /-bookworm-slim$/);
  }
  assert.equal(froms[0]?.tag, froms[1]?.tag, 'build and runtime stages on the same Node');
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } };
  assert.equal(pkg.engines.node, '>=20.19');
  // The tests themselves run on this machine's Node, which the engines range must admit.
  const [maj = 0, min = 0] = process.versions.node.split('.').map(Number);
  assert.ok(maj > 20 || (maj === 20 && min >= 19), `this Node ${process.versions.node}`);
});
