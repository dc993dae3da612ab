import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { type LogFileFormat, openLogFile, pandoraLine } from './log-file.js';

export type { Logger } from 'pino';

export interface LogOptions {
  /** pino level name; 'silent' turns logging off (tests). */
  level?: string;
  /** Append to this file instead of stdout (see log-file.ts; `reopenLogFiles()` on SIGHUP). */
  file?: string;
  /** The file's layout: Pandora's text lines or pino's JSON. Set: a rotating log-file.ts file. */
  fileFormat?: LogFileFormat;
  /** Rotate the file past this many bytes (max_log_size); 0 or unset = never. */
  maxFileBytes?: number;
  /** Old files kept beyond the newest (max_log_generation). */
  fileGenerations?: number;
  /** The name the text layout prints (servername). */
  serverName?: string;
  /** stdout's layout when set (`log_format`); unset: text on a terminal, JSON lines when piped. */
  stdoutFormat?: LogFileFormat;
}

/**
 * stdout's layout: the one asked for, else Pandora's text lines for a person at a terminal and
 * JSON lines for whatever reads a pipe (journald, docker logs, a collector).
 */
export function stdoutLogFormat(
  requested: LogFileFormat | undefined,
  isTTY: boolean = process.stdout.isTTY,
): LogFileFormat {
  return requested ?? (isTTY ? 'text' : 'json');
}

/** pino's stdout destination, its JSON lines turned into Pandora's text layout on the way. */
function textStdout(serverName: string): DestinationStream {
  const out = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  return {
    write: (line: string) => out.write(pandoraLine(line, serverName)),
    flush: (done?: (err?: Error) => void) => {
      out.flush(done);
    },
  } as DestinationStream;
}

/** Buffered lines reach the file or terminal at least this often, even on a quiet server. */
const FLUSH_INTERVAL_MS = 1000;

const REDACT_PATHS = ['dbpass', 'password', '*.dbpass', '*.password', 'config.dbpass'];

/**
 * Logs (pino) on stdout, as text or JSON (stdoutLogFormat), or a log file (log-file.ts). Writes go through an asynchronous 4 KiB buffer so logging never blocks a
 * socket loop; a timer flushes it every second so a quiet server's lines are not held back, and
 * `logger.flush()` on shutdown writes the rest.
 */
export function createLogger(options: LogOptions = {}): Logger {
  const pinoOptions: LoggerOptions = {
    level: options.level ?? process.env['LOG_LEVEL'] ?? 'info',
    redact: REDACT_PATHS,
    base: { pid: process.pid },
  };
  const destination: DestinationStream =
    options.file !== undefined && options.fileFormat !== undefined
      ? openLogFile({
          path: options.file,
          format: options.fileFormat,
          maxBytes: options.maxFileBytes ?? 0,
          generations: options.fileGenerations ?? 1,
          serverName: options.serverName ?? 'tentacle-ingest',
        })
      : options.file === undefined && stdoutLogFormat(options.stdoutFormat) === 'text'
        ? textStdout(options.serverName ?? 'tentacle-ingest')
        : // stdout, or tentacle-server's plain JSON file (sonic-boom: flushed at exit, reopen()).
          pino.destination({ dest: options.file ?? 1, sync: false, minLength: 4096, mkdir: true });
  const logger = pino(pinoOptions, destination);
  setInterval(() => {
    logger.flush();
  }, FLUSH_INTERVAL_MS).unref();
  return logger;
}

/** A logger that writes nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** Printable form of a byte name (file names are bytes, not text): escapes control and non-ASCII bytes. */
export function printableBytes(bytes: Uint8Array, maxBytes = 256): string {
  let out = '';
  const end = Math.min(bytes.length, maxBytes);
  for (let i = 0; i < end; i++) {
    const b = bytes[i] ?? 0;
    out +=
      b >= 0x20 && b < 0x7f && b !== 0x5c
        ? String.fromCharCode(b)
        : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return bytes.length > maxBytes ? `${out}...` : out;
}
