import { appendFileSync, mkdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DirSyncer, fsyncPath, renamePath } from '../../core/index.js';

/**
 * `<incomingdir>/.in-flight/<servername>.jsonl`: beside the claim folders, not in them (a claim
 * folder holds claimed data files and nothing else; operators and the HA takeover read it so).
 */
export function inFlightJournalPath(incomingDir: string, serverName: string): string {
  return join(incomingDir, '.in-flight', `${serverName}.jsonl`);
}

/**
 * One line of the journal, JSON (file names may hold any byte but NUL and '/'):
 * - `run`: the first line, written at start (the process id, for a reader);
 * - `deaths`: abnormal deaths a claimed file was in flight for, carried from earlier runs;
 * - `waiting`: left claimed by the previous run and re-queued at this start, not handled yet;
 * - `begun`: such a file was handed to processing in this run;
 * - `clean`: this run shut down cleanly (close() finished).
 */
type Line =
  | { readonly k: 'run'; readonly pid: number }
  | { readonly k: 'deaths'; readonly f: string; readonly n: number }
  | { readonly k: 'waiting'; readonly f: string }
  | { readonly k: 'begun'; readonly f: string }
  | { readonly k: 'clean' };

/**
 * Which claimed files (in this server's claim folder) were in flight when the process died abnormally (SIGKILL, out of memory,
 * a crash), and how many times: the record behind the poison-file guard.
 *
 * The claim folder itself says which files were in flight: a file is claimed (renamed in) only
 * when it is handed to processing and leaves when it is finished. The one exception is a file the
 * previous run left claimed: re-queued at start, it sits there before its turn comes. So the
 * journal holds little: per run, the files re-queued at start (`waiting`), those of them
 * handed to processing (`begun`), the deaths carried, and whether the run ended cleanly. At the
 * next start, a claimed file counts one more death unless the run ended cleanly or the file was
 * still waiting for its turn.
 *
 * What survives what: the journal is rewritten at start atomically (temp, fsync, rename, folder
 * fsync) and `clean` is fsynced; `begun` lines are appended without an fsync. A process death
 * (the threat: a file that kills the process) loses nothing of a write() already made. A power
 * loss may lose a `begun` line or a claim rename: the next start then counts fewer deaths, never
 * more, so a good file is never set aside for it. A torn last line is ignored.
 */
export class InFlightJournal {
  readonly path: string;
  readonly #dir: string;
  /** The previous run's record, read once at start; undefined when there was none. */
  #previous: Line[] | undefined | null = null;

  constructor(path: string) {
    this.path = path;
    this.#dir = dirname(path);
    mkdirSync(this.#dir, { recursive: true });
  }

  /**
   * Abnormal deaths each of `claimed` (the files the previous run left claimed) was in flight
   * for, from what the previous runs recorded. Files with none are left out.
   */
  async deathsOf(claimed: readonly string[]): Promise<Map<string, number>> {
    if (this.#previous === null) this.#previous = await this.#read();
    const lines = this.#previous ?? [];
    const carried = new Map<string, number>();
    const waiting = new Set<string>();
    const begun = new Set<string>();
    // No journal: a first start, or the first since the guard exists; nothing to count.
    let clean = this.#previous === undefined;
    for (const line of lines) {
      if (line.k === 'deaths') carried.set(line.f, line.n);
      else if (line.k === 'waiting') waiting.add(line.f);
      else if (line.k === 'begun') begun.add(line.f);
      else if (line.k === 'clean') clean = true;
    }
    const deaths = new Map<string, number>();
    for (const name of claimed) {
      const inFlight = !clean && (!waiting.has(name) || begun.has(name));
      const n = (carried.get(name) ?? 0) + (inFlight ? 1 : 0);
      if (n > 0) deaths.set(name, n);
    }
    return deaths;
  }

  /**
   * Starts this run's record, durably, before anything is processed: the deaths carried per
   * claimed file and the files re-queued at start (waiting for their turn).
   */
  async startRun(deaths: ReadonlyMap<string, number>, waiting: readonly string[]): Promise<void> {
    const lines: Line[] = [
      { k: 'run', pid: process.pid },
      ...[...deaths].map(([f, n]): Line => ({ k: 'deaths', f, n })),
      ...waiting.map((f): Line => ({ k: 'waiting', f })),
    ];
    const temp = `${this.path}.tmp`;
    await writeFile(temp, lines.map((l) => JSON.stringify(l) + '\n').join(''));
    await fsyncPath(temp);
    await renamePath(temp, this.path);
    await new DirSyncer().sync(Buffer.from(this.#dir, 'utf8'));
    this.#previous = lines;
  }

  /** A file re-queued at start is handed to processing now. */
  begun(name: string): void {
    appendFileSync(this.path, JSON.stringify({ k: 'begun', f: name } satisfies Line) + '\n');
  }

  /** The run is shutting down cleanly: the files still claimed were not in flight at a death. */
  async markClean(): Promise<void> {
    appendFileSync(this.path, JSON.stringify({ k: 'clean' } satisfies Line) + '\n');
    await fsyncPath(this.path);
  }

  async #read(): Promise<Line[] | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
      throw err;
    }
    const lines: Line[] = [];
    for (const raw of text.split('\n')) {
      if (raw === '') continue;
      try {
        lines.push(JSON.parse(raw) as Line);
      } catch {
        // a line torn by a crash mid-append: what it said is lost, nothing else
      }
    }
    return lines;
  }
}
