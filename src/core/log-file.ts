import { createWriteStream, mkdirSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createStream } from 'rotating-file-stream';
import type { Settings, SettingsTable } from './settings.js';

/**
 * The `log_file` destination: Pandora's text layout (or pino's JSON lines) appended to a file
 * that rotates by size the way Pandora rotates it (`max_log_size`, `max_log_generation`).
 *
 * Rotation is rotating-file-stream's classical (logrotate) mode rather than pino-roll: the live
 * file keeps its name (so `tail -F`, logrotate and Pandora habits work), the old ones are
 * numbered, and it is an ordinary in-thread Writable we can end and wait for on shutdown, where
 * pino-roll runs as a worker-thread transport and names the live file by a rising number.
 * Writes are asynchronous (the event loop never waits on the disk); `close()` resolves once
 * every line written before it is on disk.
 */

export type LogFileFormat = 'text' | 'json';

export interface LogFileOptions {
  readonly path: string;
  readonly format: LogFileFormat;
  /** Rotate once the file is larger than this many bytes; 0 = never. */
  readonly maxBytes: number;
  /**
   * Pandora keeps `max_log_generation + 1` old files: `<file>.0` (newest) … `<file>.N`.
   */
  readonly generations: number;
  /** The server name of the text layout (Pandora prints its `servername`). */
  readonly serverName: string;
}

/** pino level → Pandora's verbosity tag: errors at V0, warnings V1, info V3, debug V10. */
function verbosityTag(level: number): string {
  if (level >= 50) return 'V0';
  if (level >= 40) return 'V1';
  if (level >= 30) return 'V3';
  return 'V10';
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** `YYYY-MM-DD HH:MM:SS` in local time, as Pandora's log lines. */
export function pandoraTimestamp(date: Date): string {
  return (
    `${String(date.getFullYear())}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/** Fields pino adds to every line that the text layout shows in its own way (or not at all). */
const LAYOUT_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

/**
 * One pino JSON line in Pandora's layout: `2026-12-06 10:54:00 greystone [V3] message`, then
 * the line's structured fields as compact JSON so nothing is lost.
 */
export function pandoraLine(jsonLine: string, serverName: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine.endsWith('\n') ? jsonLine : `${jsonLine}\n`;
  }
  const time = typeof record['time'] === 'number' ? new Date(record['time']) : new Date();
  const level = typeof record['level'] === 'number' ? record['level'] : 30;
  const message = typeof record['msg'] === 'string' ? record['msg'] : '';
  const extra = Object.fromEntries(Object.entries(record).filter(([k]) => !LAYOUT_FIELDS.has(k)));
  const fields = Object.keys(extra).length > 0 ? ` ${JSON.stringify(extra)}` : '';
  return `${pandoraTimestamp(time)} ${serverName} [${verbosityTag(level)}] ${message}${fields}\n`;
}

/** Regular files rotate; /dev/null, a FIFO or a terminal must never be renamed. */
function isRotatable(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return true; // not there yet: it will be a regular file
  }
}

function openStream(options: LogFileOptions): Writable {
  // rotating-file-stream refuses anything but a regular file.
  if (!isRotatable(options.path)) return createWriteStream(options.path, { flags: 'a' });
  const name = basename(options.path);
  const rotate = options.maxBytes > 0;
  mkdirSync(dirname(options.path), { recursive: true });
  // Classical mode calls the generator with the rotation index (1 = newest), null for the live
  // file; Pandora numbers its old files from 0.
  const generator = (index: number | Date | null): string =>
    typeof index === 'number' && index > 0 ? `${name}.${String(index - 1)}` : name;
  const path = dirname(options.path);
  if (!rotate) return createStream(generator, { path });
  const size: `${number}B` = `${options.maxBytes}B`;
  return createStream(generator, { path, size, rotate: options.generations + 1 });
}

/** The destination pino writes its lines to (`write(line)` per line, `flush()` on demand). */
export interface LogFile {
  readonly path: string;
  write(line: string): boolean;
  flush(done?: (err?: Error) => void): void;
  /** Opens the file again under its name (after logrotate moved it away; SIGHUP). */
  reopen(): void;
  /** Ends the file; resolves when every line written so far is on disk. */
  close(): Promise<void>;
}

const openFiles = new Set<LogFile>();

export function openLogFile(options: LogFileOptions): LogFile {
  let stream = openStream(options);
  const retired: Promise<void>[] = [];
  const watch = (s: Writable): void => {
    s.on('error', (err) => {
      // The library closes the stream after an error; the next reopen() starts a new one.
      process.stderr.write(`log file ${options.path}: ${err.message}\n`);
    });
  };
  watch(stream);
  const retire = (s: Writable): void => {
    retired.push(finished(s).catch(() => undefined));
    s.end();
  };
  const file: LogFile = {
    path: options.path,
    write(line) {
      if (stream.writableEnded || stream.destroyed) return false;
      return stream.write(options.format === 'text' ? pandoraLine(line, options.serverName) : line);
    },
    flush(done?: (err?: Error) => void) {
      // Lines are already queued to the file; a caller that waits is told once they drained.
      if (done === undefined) return;
      if (stream.writableNeedDrain)
        stream.once('drain', () => {
          done();
        });
      else process.nextTick(done);
    },
    reopen() {
      const previous = stream;
      stream = openStream(options);
      watch(stream);
      retire(previous);
    },
    async close() {
      openFiles.delete(file);
      if (!stream.writableEnded) retire(stream);
      await Promise.all(retired);
    },
  };
  openFiles.add(file);
  return file;
}

/** Reopens every open log file: the hook for SIGHUP after logrotate moved them away. */
export function reopenLogFiles(): string[] {
  for (const file of openFiles) file.reopen();
  return [...openFiles].map((f) => f.path);
}

/** Ends every open log file and waits until their lines are on disk (graceful shutdown). */
export async function closeLogFiles(): Promise<void> {
  await Promise.all([...openFiles].map((file) => file.close()));
}

/** The log file keys of pandora_server.conf (and our log_format), for a program's settings. */
export const LOG_FILE_SETTINGS = {
  log_file: {
    kind: 'string',
    help: 'append logs here (in log_format) instead of stdout',
  },
  log_format: {
    kind: 'string',
    values: ['text', 'json'],
    extension: true,
    help: "log layout: text (Pandora's: date time servername [Vn] message) or json; default: text in log_file and on a terminal, json on piped stdout",
  },
  max_log_size: {
    kind: 'int',
    default: 1_048_576,
    min: 0,
    help: 'rotate log_file past this many bytes (0 = never)',
  },
  max_log_generation: {
    kind: 'int',
    default: 1,
    min: 1,
    max: 99,
    help: 'rotated log files kept beyond the newest: <log_file>.0 (newest) .. .N',
  },
} as const satisfies SettingsTable;

/** createLogger's file options from resolved LOG_FILE_SETTINGS (none without log_file). */
export function logFileOptions(
  s: Settings<typeof LOG_FILE_SETTINGS>,
  serverName: string,
): {
  file?: string;
  fileFormat?: LogFileFormat;
  maxFileBytes?: number;
  fileGenerations?: number;
  serverName?: string;
  stdoutFormat?: LogFileFormat;
} {
  if (s.log_file === undefined || s.log_file === '') {
    const format = s.log_format;
    return format === 'text' || format === 'json'
      ? { stdoutFormat: format, serverName }
      : { serverName };
  }
  return {
    file: s.log_file,
    fileFormat: s.log_format === 'json' ? 'json' : 'text',
    maxFileBytes: s.max_log_size,
    fileGenerations: s.max_log_generation,
    serverName,
  };
}
