// The shipped Grafana dashboard and Prometheus alert rules: promtool accepts the rules, and
// every metric name either uses is one a real `serve` exports on /metrics.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { killAll, type NodeProcess } from '../ha/fixtures/cluster.js';
import { freePort, initServeDatabase, spawnServe } from '../ha/fixtures/serve.js';
import { createTestDatabase } from '../helpers/db.js';
import { createTestRedisPrefix } from '../helpers/redis.js';
import { queueFlags } from '../queue/fixture.js';
import { teardown } from '../helpers/teardown.js';
import { tempDir } from '../helpers/tmp.js';

const RULES = 'packaging/prometheus-rules.yml';
const DASHBOARD = 'packaging/grafana-dashboard.json';
const SERVICES = fileURLToPath(new URL('../../scripts/services.sh', import.meta.url));

function hasPromtool(): boolean {
  return spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** Installs Debian's prometheus package (promtool) like the other test tools, when allowed. */
function promtoolSkipReason(): string | false {
  if (hasPromtool()) return false;
  if (process.env['SKIP_SERVICES'] !== '1')
    spawnSync('bash', [SERVICES, 'promtool'], { stdio: 'inherit' });
  return hasPromtool()
    ? false
    : "promtool missing (Debian's prometheus package; bash scripts/services.sh promtool)";
}

/** Metric names in PromQL expressions; histogram series map to their family. */
function metricNames(exprs: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const expr of exprs)
    for (const m of expr.matchAll(/\b(?:pandora|tentacle_ingest)_[a-z0-9_]+/g))
      names.add(m[0].replace(/_(bucket|sum|count)$/, ''));
  return names;
}

/** The rules file holds metric names only in its expressions. */
function ruleExprs(): string[] {
  return [readFileSync(RULES, 'utf8')];
}

function dashboardExprs(): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: { targets?: { expr: string }[] }[];
    templating: { list: { query?: unknown }[] };
  };
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  for (const v of dashboard.templating.list)
    if (typeof v.query === 'object' && v.query !== null) exprs.push(JSON.stringify(v.query));
  return exprs;
}

test(
  'promtool check rules accepts packaging/prometheus-rules.yml',
  { skip: promtoolSkipReason() },
  () => {
    const r = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS: 5 rules found/);
  },
);

test('the alert rules cover stalled, DB down, backlog growing, not ready and no master', () => {
  const alerts = [...readFileSync(RULES, 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
  assert.deepEqual(alerts, [
    'TentacleIngestStalled',
    'TentacleIngestDatabaseDown',
    'TentacleIngestBacklogGrowing',
    'TentacleIngestNotReady',
    'TentacleIngestNoMaster',
  ]);
});

test('every metric the dashboard and the rules use is exported by a real serve', async (t) => {
  const cleanup = teardown(t);
  const db = await createTestDatabase('ti_observe');
  cleanup(() => db.drop());
  await initServeDatabase(db);
  const spool = tempDir('ti-observe-');
  cleanup(() => {
    spool.cleanup();
  });
  const nodes: NodeProcess[] = [];
  cleanup(() => killAll(nodes));
  const redis = createTestRedisPrefix();
  cleanup(() => redis.cleanup());
  // A spool-mode server, and a scale-out one for the shared queue's metrics.
  const scrape = async (name: string, extra: string[]): Promise<string> => {
    const [tentaclePort, httpPort] = [await freePort(), await freePort()];
    const serve = spawnServe({
      name,
      master: 1,
      db,
      incomingDir: join(spool.path, name, 'data_in'),
      tentaclePort,
      httpPort,
      extra,
    });
    nodes.push(serve);
    await serve.ready();
    return (await fetch(`http://127.0.0.1:${String(httpPort)}/metrics`)).text();
  };
  // One parse worker (the fixture parses inline), for the pandora_dataserver_parse_worker_* gauges.
  const text = await scrape('observe1', ['--dataserver-threads', '1']);
  const queueText = await scrape('observe2', queueFlags(redis.prefix, 2));
  const exported = new Set([...(text + queueText).matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
  const used = metricNames([...ruleExprs(), ...dashboardExprs()]);
  assert.ok(used.size > 15, `few names found: ${[...used].join(' ')}`);
  const missing = [...used].filter((name) => !exported.has(name));
  assert.deepEqual(missing, []);
  // Labelled counters are exported at 0 from the start, and the build is named.
  assert.match(text, /^pandora_dataserver_files_processed_total\{result="ok"\} 0$/m);
  assert.match(text, /^pandora_dataserver_db_retries_total\{reason="lock"\} 0$/m);
  assert.match(text, /^pandora_dataserver_module_values_total\{result="stored"\} 0$/m);
  assert.match(text, /^tentacle_ingest_build_info\{version="[^"]+",node_version="[^"]+"\} 1$/m);
  assert.match(text, /^pandora_ready 1$/m);
  assert.match(text, /^pandora_dataserver_backlog_files 0$/m);
});
