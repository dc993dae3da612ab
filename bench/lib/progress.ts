/**
 * A one-line progress bar on a TTY (redrawn at most every 100 ms); on a pipe or CI log it prints
 * a plain line every 10 % so logs stay short.
 */
import type { Writable } from 'node:stream';

export interface ProgressBar {
  /** Sets the absolute progress; `note` is shown after the bar (e.g. "812 pkt/s"). */
  update(done: number, note?: string): void;
  /** Prints the final state (`done` defaults to the total) and a newline. */
  finish(note?: string, done?: number): void;
}

export interface ProgressOptions {
  readonly label: string;
  readonly total: number;
  readonly stream?: Writable & { isTTY?: boolean; columns?: number };
  /** Force TTY or plain mode (tests); defaults to the stream's own `isTTY`. */
  readonly tty?: boolean;
  readonly width?: number;
}

const REDRAW_INTERVAL_MS = 100;
const PLAIN_STEP_PERCENT = 10;

export function createProgressBar(options: ProgressOptions): ProgressBar {
  const stream = options.stream ?? process.stderr;
  const isTty = options.tty ?? stream.isTTY === true;
  const width = options.width ?? 30;
  const total = Math.max(1, options.total);
  let lastDrawMs = 0;
  let lastPlainStep = -1;
  let finished = false;

  const render = (done: number, note: string | undefined): string => {
    const ratio = Math.min(1, Math.max(0, done / total));
    const filled = Math.round(ratio * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    const percent = `${Math.floor(ratio * 100)}`.padStart(3);
    return `${options.label} ${bar} ${percent}% ${done}/${options.total}${note ? `  ${note}` : ''}`;
  };

  return {
    update(done, note) {
      if (finished) return;
      if (isTty) {
        const now = performance.now();
        if (now - lastDrawMs < REDRAW_INTERVAL_MS && done < total) return;
        lastDrawMs = now;
        stream.write(`\r\x1b[2K${render(done, note)}`);
        return;
      }
      const step = Math.floor(((done / total) * 100) / PLAIN_STEP_PERCENT);
      if (step > lastPlainStep && step < 100 / PLAIN_STEP_PERCENT) {
        lastPlainStep = step;
        stream.write(`${render(done, note)}\n`);
      }
    },
    finish(note, done = options.total) {
      if (finished) return;
      finished = true;
      const line = render(done, note);
      stream.write(isTty ? `\r\x1b[2K${line}\n` : `${line}\n`);
    },
  };
}
