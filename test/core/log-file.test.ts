// The log_file destination: Pandora's text layout, size rotation with Pandora's numbering
// (<file>.0 newest … <file>.N), reopen after logrotate, and no line lost on close.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { createLogger } from '../../src/core/log.js';
import {
  closeLogFiles,
  openLogFile,
  pandoraLine,
  pandoraTimestamp,
  reopenLogFiles,
} from '../../src/core/log-file.js';
import { tempDir } from '../helpers/tmp.js';

const LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d greystone \[V(0|1|3|10)\] /;

test('text layout: local time, servername, [Vn] from the level, fields kept as JSON', () => {
  const time = new Date(2026, 11, 6, 9, 5, 7).getTime();
  const json = JSON.stringify({ level: 30, time, pid: 1, msg: 'serving', dir: '/x' });
  assert.equal(
    pandoraLine(json, 'greystone'),
    '2026-12-06 09:05:07 greystone [V3] serving {"dir":"/x"}\n',
  );
  assert.equal(pandoraTimestamp(new Date(2026, 0, 2, 3, 4, 5)), '2026-01-02 03:04:05');
  const levels = [60, 50, 40, 30, 20].map(
    (level) => /\[(V\d+)\]/.exec(pandoraLine(JSON.stringify({ level, time, msg: 'm' }), 's'))?.[1],
  );
  assert.deepEqual(levels, ['V0', 'V0', 'V1', 'V3', 'V10']);
  assert.equal(pandoraLine('not json', 's'), 'not json\n');
});

test('a logger on a text log file: every line in the layout, all on disk after close', async (t) => {
  const tmp = tempDir('ti-log-');
  t.after(() => {
    tmp.cleanup();
  });
  const dir = tmp.path;
  const path = join(dir, 'pandora_server.log');
  const logger = createLogger({
    level: 'info',
    file: path,
    fileFormat: 'text',
    serverName: 'greystone',
  });
  const LINES = 5000;
  for (let i = 0; i < LINES; i++) logger.info({ i }, 'line');
  logger.warn('careful');
  logger.flush();
  await closeLogFiles();
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  assert.equal(lines.length, LINES + 1);
  for (const line of lines) assert.match(line, LINE);
  assert.match(lines.at(-1) ?? '', /\[V1\] careful$/);
  assert.match(lines[41] ?? '', /\[V3\] line \{"i":41\}$/);
});

test('rotation by size keeps max_log_generation + 1 old files named .0 (newest) to .N', async (t) => {
  const tmp = tempDir('ti-log-');
  t.after(() => {
    tmp.cleanup();
  });
  const dir = tmp.path;
  const path = join(dir, 'server.log');
  const file = openLogFile({
    path,
    format: 'json',
    maxBytes: 1000,
    generations: 2,
    serverName: 's',
  });
  const logger = pino({ base: null, timestamp: false }, file);
  // ~100-byte lines: about ten per file, so 100 lines rotate many times.
  for (let i = 0; i < 100; i++) {
    logger.info({ i, pad: 'x'.repeat(60) }, 'm');
    await new Promise((resolve) => setImmediate(resolve));
  }
  await file.close();
  const names = readdirSync(dir).sort();
  assert.deepEqual(names, ['server.log', 'server.log.0', 'server.log.1', 'server.log.2']);
  const index = (name: string): number[] =>
    readFileSync(join(dir, name), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as { i: number }).i);
  // Newest lines live in the live file, then .0, .1, .2: each older than the one before.
  const live = index('server.log');
  assert.equal(live.at(-1), 99);
  assert.ok((index('server.log.0').at(-1) ?? 0) < (live[0] ?? 0));
  assert.ok((index('server.log.2').at(-1) ?? 0) < (index('server.log.1')[0] ?? 0));
  for (const name of names) assert.ok(readFileSync(join(dir, name)).length <= 1100, name);
});

test('/dev/null is never rotated (the shipped tentacle_server.conf logs there)', async (t) => {
  const errors: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  t.mock.method(process.stderr, 'write', (chunk: string) => {
    errors.push(chunk);
    return write(chunk);
  });
  const file = openLogFile({
    path: '/dev/null',
    format: 'text',
    maxBytes: 10,
    generations: 1,
    serverName: 's',
  });
  for (let i = 0; i < 20; i++)
    file.write(`${JSON.stringify({ level: 30, msg: 'x'.repeat(20) })}\n`);
  await file.close();
  assert.equal(existsSync('/dev/null.0'), false);
  assert.deepEqual(errors, []);
});

test('reopen (SIGHUP after logrotate moved the file): new lines go to a new file', async (t) => {
  const tmp = tempDir('ti-log-');
  t.after(() => {
    tmp.cleanup();
  });
  const dir = tmp.path;
  const path = join(dir, 'a.log');
  const file = openLogFile({ path, format: 'json', maxBytes: 0, generations: 1, serverName: 's' });
  file.write('{"msg":"before"}\n');
  await new Promise((resolve) => setTimeout(resolve, 50));
  renameSync(path, `${path}.moved`);
  reopenLogFiles();
  file.write('{"msg":"after"}\n');
  await file.close();
  assert.equal(readFileSync(`${path}.moved`, 'utf8'), '{"msg":"before"}\n');
  assert.equal(readFileSync(path, 'utf8'), '{"msg":"after"}\n');
});
