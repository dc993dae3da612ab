import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readConfFile } from '../../src/core/index.js';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_WAITING } from '../../src/tentacle/settings.js';
import { descriptorsNeeded } from '../../src/tentacle/fd-limit.js';
import { tempDir } from '../helpers/tmp.js';

// Packaging (issue 14): the systemd unit, the logrotate file, the compose example and the
// Dockerfile, checked by the tools that read them where this machine has them.

const UNIT = 'packaging/tentacle-ingest.service';
const LOGROTATE = 'packaging/tentacle-ingest.logrotate';

const has = (bin: string, args: string[] = ['--version']): boolean =>
  spawnSync(bin, args, { stdio: 'ignore' }).error === undefined;

/** `Key=value` lines of the unit's [Service] section (last one wins, as in systemd). */
function serviceKeys(): Map<string, string> {
  const text = readFileSync(UNIT, 'utf8');
  const section = text.split('[Service]')[1]?.split('[Install]')[0] ?? '';
  const keys = new Map<string, string>();
  for (const line of section.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) keys.set(m[1], m[2]);
  }
  return keys;
}

test('systemd unit: hardening, reload by HUP, stop timeout above the drain, enough descriptors', () => {
  const keys = serviceKeys();
  for (const [key, value] of [
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', 'strict'],
    ['PrivateTmp', 'yes'],
    ['ReadWritePaths', '/var/spool/pandora /var/log/pandora'],
    ['Restart', 'on-failure'],
    ['KillSignal', 'SIGTERM'],
    ['ExecReload', '/bin/kill -HUP $MAINPID'],
  ]) {
    assert.equal(keys.get(key ?? ''), value, key);
  }
  // serve exits by itself after shutdown_timeout (60 s by default): systemd must wait longer.
  assert.ok(Number(keys.get('TimeoutStopSec')) > 60, 'TimeoutStopSec above shutdown_timeout');
  const needed = descriptorsNeeded(DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_WAITING);
  assert.ok(Number(keys.get('LimitNOFILE')) >= needed, `LimitNOFILE >= ${String(needed)}`);
  assert.match(
    keys.get('ExecStart') ?? '',
    /main\.js serve -c \/etc\/pandora\/pandora_server\.conf$/,
  );
});

test(
  'systemd-analyze verify accepts the unit without a warning',
  { skip: has('systemd-analyze') ? false : 'systemd-analyze missing' },
  () => {
    const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const aboutUnit = r.stderr.split('\n').filter((l) => l.includes('tentacle-ingest.service'));
    assert.deepEqual(aboutUnit, []);
  },
);

test(
  'logrotate reads the file (as this user, on a temp log) and reloads the service after rotating',
  { skip: has('logrotate') ? false : 'logrotate missing' },
  () => {
    const text = readFileSync(LOGROTATE, 'utf8');
    assert.match(text, /postrotate\s+systemctl reload tentacle-ingest\.service/);
    const tmp = tempDir('ti-logrotate-');
    try {
      const user = spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim();
      const group = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim();
      const log = join(tmp.path, 'tentacle-ingest.log');
      writeFileSync(log, 'a line\n');
      const conf = join(tmp.path, 'logrotate.conf');
      writeFileSync(
        conf,
        text
          .replaceAll('/var/log/pandora/tentacle-ingest.log', log)
          .replaceAll('pandora pandora', `${user} ${group}`),
      );
      const r = spawnSync('logrotate', ['-d', '-s', join(tmp.path, 'state'), conf], {
        encoding: 'utf8',
      });
      const out = `${r.stdout}${r.stderr}`;
      assert.equal(r.status, 0, out);
      assert.doesNotMatch(out, /error:/);
      assert.match(out, /Handling 1 logs?/);
    } finally {
      tmp.cleanup();
    }
  },
);

test(
  'docker-compose config accepts the compose example',
  {
    skip: has('docker-compose', ['version'])
      ? false
      : "docker-compose missing (Debian's docker-compose)",
  },
  () => {
    const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const full = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '--services'], {
      encoding: 'utf8',
    });
    assert.deepEqual(full.stdout.trim().split('\n').sort(), [
      'haproxy',
      'ingest1',
      'ingest2',
      'mariadb',
      'redis',
    ]);
  },
);

test(
  'the compose HAProxy configuration is valid',
  { skip: has('haproxy', ['-v']) ? false : 'haproxy missing' },
  () => {
    const r = spawnSync('haproxy', ['-c', '-f', 'packaging/compose/haproxy.cfg'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
  },
);

test('the compose servers read the PROXY header only from the HAProxy address', () => {
  const conf = readConfFile('packaging/compose/pandora_server.conf');
  const compose = readFileSync('docker-compose.yml', 'utf8');
  const haproxyAddress = /ipv4_address: (\S+)/.exec(compose)?.[1];
  assert.equal(conf.get('tentacle_proxy_protocol')?.value, '1');
  assert.equal(conf.get('tentacle_proxy_protocol_from')?.value, haproxyAddress);
  // Every key is one serve knows (its --help lists them all).
  const help = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', '--help'], {
    encoding: 'utf8',
  }).stdout;
  for (const key of conf.keys()) {
    assert.ok(help.includes(`--${key.replaceAll('_', '-')} `), `serve knows ${key}`);
  }
});

test('Dockerfile: spool and configuration are volumes; .dockerignore keeps local state out', () => {
  const dockerfile = readFileSync('Dockerfile', 'utf8');
  assert.match(dockerfile, /^VOLUME \["\/var\/spool\/pandora", "\/etc\/pandora"\]$/m);
  const ignored = readFileSync('.dockerignore', 'utf8').split('\n');
  for (const entry of ['node_modules', '.git', 'dist']) assert.ok(ignored.includes(entry), entry);
  // What the build copies must not be ignored.
  for (const copied of dockerfile.matchAll(/^COPY (?!--from)(.+) \.\/?\S*$/gm)) {
    for (const path of (copied[1] ?? '').split(' ')) {
      assert.ok(!ignored.includes(path), `${path} is copied by the Dockerfile`);
    }
  }
});
