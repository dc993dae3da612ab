import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

export interface LogOptions {
  /** pino level name; 'silent' turns logging off (tests). */
  level?: string;
  /** Append to this file instead of stdout. */
  file?: string;
}

const REDACT_PATHS = ['dbpass', 'password', '*.dbpass', '*.password', 'config.dbpass'];

/**
 * JSON logs (pino). Writes go through an asynchronous destination so logging never blocks a
 * socket loop; call `logger.flush()` on shutdown.
 */
export function createLogger(options: LogOptions = {}): Logger {
  const pinoOptions: LoggerOptions = {
    level: options.level ?? process.env['LOG_LEVEL'] ?? 'info',
    redact: REDACT_PATHS,
    base: { pid: process.pid },
  };
  const destination = pino.destination({
    dest: options.file ?? 1,
    sync: false,
    minLength: 4096,
    mkdir: true,
  });
  return pino(pinoOptions, destination);
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
