import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { RowDataPacket } from 'mysql2/promise';
import { createTestDatabase } from '../helpers/db.js';
import { freePort } from '../helpers/net.js';
import { startServeChild, waitUntil } from '../helpers/serve-child.js';
import { teardown } from '../helpers/teardown.js';
import { tempDir } from '../helpers/tmp.js';

// The README's quick start, tried as a new user would (issue 14): its client command line, copied
// out of README.md, sends the sample packet that ships in examples/ to a real `serve`, and the
// agent and its modules appear in the database.

const TENTACLE_DEFAULT_PORT = 41121;

/** The `tentacle-client` command of the README's Quick start, as words. */
function readmeClientCommand(): string[] {
  const readme = readFileSync('README.md', 'utf8');
  const line = readme.split('\n').find((l) => l.startsWith('npx tsx src/cli/tentacle-client.ts'));
  assert.ok(line !== undefined, 'README shows the client command on a line of its own');
  return line.trim().split(/\s+/);
}

async function portIsFree(port: number): Promise<boolean> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => {
      resolve(false);
    });
    server.listen(port, '127.0.0.1', () => {
      server.close(() => {
        resolve(true);
      });
    });
  });
}

test(
  'the README client command delivers the shipped sample packet to serve',
  { timeout: 180_000 },
  async (t) => {
    const command = readmeClientCommand();
    const file = command.at(-1) ?? '';
    assert.match(file, /^examples\/[^/]+\.\d+\.data$/, 'the sample packet ships in examples/');
    const cleanup = teardown(t);
    const db = await createTestDatabase('ti_readme');
    cleanup(() => db.drop());
    const tmp = tempDir('ti-readme-');
    cleanup(() => {
      tmp.cleanup();
    });
    const incoming = join(tmp.path, 'data_in');
    mkdirSync(incoming);
    // The README's command uses the default port; on a machine where another server holds it,
    // the only change is `-p PORT` before the file name.
    const defaultFree = await portIsFree(TENTACLE_DEFAULT_PORT);
    const port = defaultFree ? TENTACLE_DEFAULT_PORT : await freePort();
    if (!defaultFree) {
      t.diagnostic(
        `port ${String(TENTACLE_DEFAULT_PORT)} busy: client run with -p ${String(port)}`,
      );
      command.splice(command.length - 1, 0, '-p', String(port));
    }
    const serve = await startServeChild({
      args: ['--dbname', db.name, '--incomingdir', incoming, '--tentacle-port', String(port)],
    });
    cleanup(async () => {
      assert.equal(await serve.stop(), 0, serve.stderr());
    });

    const [program = '', ...args] = command;
    const run = await promisify(execFile)(program, args, { encoding: 'utf8', timeout: 60_000 });
    assert.match(
      `${run.stdout}${run.stderr}`,
      /agent\.1700000000\.data/,
      'verbose client names the file',
    );

    const modules = async (): Promise<RowDataPacket[]> => {
      const [rows] = await db.pool.query<RowDataPacket[]>(
        `SELECT m.nombre AS module, s.datos AS data
         FROM tagente a
         JOIN tagente_modulo m ON m.id_agente = a.id_agente
         JOIN tagente_estado s ON s.id_agente_modulo = m.id_agente_modulo
        WHERE a.nombre = 'demo-host' ORDER BY m.nombre`,
      );
      return rows;
    };
    await waitUntil(async () => (await modules()).length === 3, 60_000, 'the sample rows');
    // As Pandora stores them: names HTML-encoded (the console decodes), numbers with 5 decimals.
    assert.deepEqual(
      (await modules()).map((r) => [String(r['module']), String(r['data'])]),
      [
        ['CPU&#x20;Load', '12.50000'],
        ['Kernel', 'Linux 6.1.0-18-amd64'],
        ['sshd', '1.00000'],
      ],
    );
    const [agents] = await db.pool.query<RowDataPacket[]>(
      "SELECT alias, os_version FROM tagente WHERE nombre = 'demo-host'",
    );
    assert.deepEqual(
      agents.map((a) => [String(a['alias']), String(a['os_version'])]),
      [['Demo&#x20;host', 'Debian 12']],
    );
  },
);
