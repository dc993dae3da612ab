import pino, { type Logger } from 'pino';

interface ReopenableStream {
  readonly file?: string | null;
  reopen?: (file?: string) => void;
}

/**
 * Reopens the logger's file under its name (SIGHUP after logrotate moved it), so new lines go
 * to a fresh file. Returns the path, or undefined when the logger writes to a descriptor
 * (stdout) and there is nothing to reopen.
 */
export function reopenLogFile(logger: Logger): string | undefined {
  const stream = (logger as unknown as Record<symbol, ReopenableStream | undefined>)[
    pino.symbols.streamSym
  ];
  if (!stream || typeof stream.file !== 'string' || typeof stream.reopen !== 'function') {
    return undefined;
  }
  logger.flush();
  stream.reopen();
  return stream.file;
}
