// Runs the whole test suite the way CI does: makes sure MariaDB and Redis answer (installing
// and starting them when missing), runs every test/**/*.test.ts file with node:test through
// tsx, one file at a time, then stops only the services it started.
//   npm test                      # everything
//   npm test -- test/tentacle     # files under a folder (or single files)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function collect(path, out) {
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path).sort()) collect(join(path, entry), out);
  } else if (path.endsWith('.test.ts')) {
    out.push(path);
  }
  return out;
}

const roots = process.argv.slice(2);
const files = (roots.length > 0 ? roots : ['test']).flatMap((root) => collect(root, []));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

const useServices = process.env.SKIP_SERVICES !== '1';
if (useServices) {
  const ensured = spawnSync('bash', ['scripts/services.sh', 'ensure'], { stdio: 'inherit' });
  if (ensured.status !== 0) process.exit(ensured.status ?? 1);
}

const run = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    // A file whose tests are done but whose process stays alive lists what is still open.
    '--import',
    './test/helpers/open-handles.ts',
    '--test',
    '--test-concurrency=1',
    `--test-timeout=${process.env.TEST_TIMEOUT_MS ?? '300000'}`,
    '--test-reporter=spec',
    ...files,
  ],
  { stdio: 'inherit' },
);

if (useServices) spawnSync('bash', ['scripts/services.sh', 'stop'], { stdio: 'inherit' });
process.exit(run.status ?? 1);
