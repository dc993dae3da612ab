import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
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

/** The README section under `## title`, up to the next `## ` heading. */
function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `README has ## ${title}`);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end < 0 ? undefined : end);
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string): string =>
  heading
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');

// Issue 14's dashboard and alert rules, which "Operating it" must name.
const MONITORING_FILES = new Set([
  'packaging/grafana-dashboard.json',
  'packaging/prometheus-rules.yml',
]);

test('README "Operating it": install, configure, systemd, rotate logs, Grafana, upgrade, with working links', () => {
  const text = section('Operating it');
  const steps = [...text.matchAll(/^(\d)\. \*\*([^*]+)\*\*/gm)].map((m) => m[2] ?? '');
  assert.equal(steps.length, 6, steps.join(' | '));
  const expected = [/install/i, /configure/i, /systemd/i, /rotate logs/i, /grafana/i, /upgrade/i];
  expected.forEach((pattern, i) => {
    assert.match(steps[i] ?? '', pattern);
  });

  // Links go to files that exist and to headings of this README (reused, not duplicated).
  const headings = new Set(
    README.split('\n')
      .filter((l) => l.startsWith('## '))
      .map((l) => slug(l.slice(3))),
  );
  const links = [...text.matchAll(/\]\(([^)]+)\)/g)].map((m) => m[1] ?? '');
  assert.ok(links.includes('#install-without-docker'), 'links the install section');
  assert.ok(links.includes('docs/configuration.md'), 'links the configuration reference');
  for (const link of links) {
    if (link.startsWith('#')) assert.ok(headings.has(link.slice(1)), `anchor ${link}`);
    else assert.ok(existsSync(link), `file ${link}`);
  }

  // Every packaging file it names ships.
  const named = new Set([...text.matchAll(/`(packaging\/[^`\s]+)`/g)].map((m) => m[1] ?? ''));
  for (const file of MONITORING_FILES) assert.ok(named.has(file), `names ${file}`);
  for (const file of named) assert.ok(existsSync(file), file);
  assert.doesNotThrow(() => JSON.parse(readFileSync('packaging/grafana-dashboard.json', 'utf8')));

  // The commands it shows match what ships: the unit's name and program, logrotate's reload.
  const unit = readFileSync('packaging/tentacle-ingest.service', 'utf8');
  const program = /^ExecStart=\S*node\S* (?:--\S+ )*(\S+main\.js)/m.exec(unit)?.[1];
  assert.ok(program !== undefined, 'ExecStart runs main.js');
  assert.match(text, new RegExp(`${program.replace(/[.]/g, '\\.')} serve \\S+ --check-config`));
  assert.match(text, /systemctl enable --now tentacle-ingest/);
  assert.match(text, /tentacle-ingest serving: ready/);
  assert.match(
    readFileSync('packaging/tentacle-ingest.logrotate', 'utf8'),
    /systemctl reload tentacle-ingest/,
  );
  assert.match(text, /max_log_size 0/, 'logrotate and the built-in rotation are not both on');
});
