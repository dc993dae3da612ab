/**
 * SIGHUP for `tentacle-ingest serve`: a list of reload actions run in order (reopen the log
 * file, re-read the configuration files and apply what can change safely), then one log line
 * saying what changed and which changed keys need a restart. A failing action is logged and
 * the others still run; the server never stops for a reload (logrotate's usual signal).
 */
import {
  type ConfEntries,
  describeError,
  type Logger,
  readConfFile,
  reopenLogFile,
  reopenLogFiles,
} from './core/index.js';
import { resolveTentacleSettings, type Reconfiguration } from './tentacle/index.js';

export interface ReloadOutcome {
  /** Keys whose new value is now in effect. */
  readonly changed?: readonly string[];
  /** Keys whose new value waits for a restart. */
  readonly restartNeeded?: readonly string[];
  /** Anything else worth a field in the log line (e.g. the reopened log file). */
  readonly note?: Readonly<Record<string, unknown>>;
}

type ReloadAction = () => ReloadOutcome | undefined | Promise<ReloadOutcome | undefined>;

export class ReloadActions {
  readonly #actions: { name: string; run: ReloadAction }[] = [];
  #running: Promise<void> | undefined;
  /** Signals received; a reload runs until it has seen them all. */
  #requests = 0;

  add(name: string, run: ReloadAction): void {
    this.#actions.push({ name, run });
  }

  /** Runs every action; a signal during a reload runs one more afterwards (files may have moved on). */
  run(logger: Logger): Promise<void> {
    this.#requests++;
    if (this.#running) return this.#running;
    this.#running = (async () => {
      let handled = 0;
      while (handled !== this.#requests) {
        handled = this.#requests;
        await this.#runOnce(logger);
      }
    })().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #runOnce(logger: Logger): Promise<void> {
    const changed: string[] = [];
    const restartNeeded: string[] = [];
    const failed: Record<string, string> = {};
    let notes: Record<string, unknown> = {};
    for (const { name, run } of this.#actions) {
      try {
        const outcome = await run();
        changed.push(...(outcome?.changed ?? []));
        restartNeeded.push(...(outcome?.restartNeeded ?? []));
        notes = { ...notes, ...outcome?.note };
      } catch (err) {
        failed[name] = describeError(err).message;
      }
    }
    const fields = { event: 'reload', changed, restartNeeded, ...notes };
    if (Object.keys(failed).length > 0) {
      logger.error({ ...fields, failed }, 'SIGHUP: reload partly failed; the rest still runs');
    } else {
      logger.info(fields, 'SIGHUP: configuration reloaded');
    }
    if (restartNeeded.length > 0) {
      logger.warn(
        { event: 'reload_restart_needed', keys: restartNeeded },
        'changed keys that take effect only after a restart',
      );
    }
    logger.flush();
  }
}

/** SIGHUP runs the actions (installed at once, so an early signal does not kill the process). */
export function onSighup(actions: ReloadActions, logger: Logger): void {
  process.on('SIGHUP', () => {
    logger.info({ event: 'sighup' }, 'SIGHUP received');
    void actions.run(logger);
  });
}

/** The log file reopened under its name (after logrotate moved it). */
export function reopenLogAction(logger: Logger): ReloadAction {
  return () => {
    // serve's log_file (log-file.ts, rotated) or a plain pino file destination.
    const files = reopenLogFiles();
    const file = reopenLogFile(logger) ?? files[0];
    return file === undefined ? undefined : { note: { logFileReopened: file } };
  };
}

type Values = Readonly<Record<string, unknown>>;

/** Keys whose value differs (compared as text: every setting is a string, number or boolean). */
export function changedKeys(before: Values, after: Values): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => String(before[k]) !== String(after[k])).sort();
}

/** The keys of serve's own table a reload applies; every other changed key needs a restart. */
const RELOADABLE_SERVE_KEYS = new Set([
  'verbosity',
  'tentacle_config',
  'tentacle_filters',
  'tentacle_max_size',
  'tentacle_max_connections',
  'tentacle_max_connections_per_address',
  'tentacle_recv_any_file',
  'tentacle_password',
]);

/** tentacle_config keys that only a restart applies (reconfigure.ts keeps their fields). */
const RESTART_TENTACLE_FILE_KEYS = new Set([
  'addresses',
  'port',
  'directory',
  'sync',
  'file_mode',
  'overwrite',
  'proxy_ip',
  'proxy_port',
  'proxy_protocol',
  'proxy_protocol_from',
  'proxy_protocol_timeout',
  'pass_delay_max',
  'ssl_password',
  'daemon',
]);

/** A tentacle_config file's keys as the listener resolves them (absent file: none). */
export function tentacleFileValues(path: string | undefined): Values {
  if (path === undefined) return {};
  const file: ConfEntries = readConfFile(path);
  return resolveTentacleSettings({ file }).values;
}

export interface SettingsSnapshot<V extends Values = Values> {
  /** serve's settings (file, environment and flags). */
  readonly serve: V;
  /** The listener's tentacle_config file, if any. */
  readonly tentacleFile: Values;
}

/**
 * Re-reads the configuration and applies what can change safely: the log level, and the
 * listener's limits, filters, password and TLS certificate (TentacleServer.reconfigure). Keys
 * of other parts (database, dataserver, HA, HTTP) are named as needing a restart. Nothing is
 * applied when the new files do not resolve (the error names file, line and key).
 */
export function settingsReloadAction<V extends Values>(deps: {
  readonly initial: SettingsSnapshot<V>;
  /** Reads the files again; throws ConfigError. */
  readonly read: () => SettingsSnapshot<V>;
  readonly applyLogLevel: (serve: V) => void;
  /** Absent without the built-in listener. */
  readonly reconfigureListener?: ((serve: V) => Reconfiguration) | undefined;
}): ReloadAction {
  let current = deps.initial;
  return () => {
    const next = deps.read();
    const serveKeys = changedKeys(current.serve, next.serve);
    const fileKeys = changedKeys(current.tentacleFile, next.tentacleFile);
    const changed: string[] = [];
    const restartNeeded: string[] = [];
    for (const key of serveKeys) {
      (RELOADABLE_SERVE_KEYS.has(key) ? changed : restartNeeded).push(key);
    }
    for (const key of fileKeys) {
      const reloadable = deps.reconfigureListener && !RESTART_TENTACLE_FILE_KEYS.has(key);
      (reloadable ? changed : restartNeeded).push(`tentacle_config:${key}`);
    }
    // The listener first: it refuses a configuration it cannot resolve before changing anything.
    let listener: { applied: string[]; restartNeeded: string[] } | undefined;
    if (deps.reconfigureListener) {
      const result = deps.reconfigureListener(next.serve);
      listener = { applied: [...result.applied], restartNeeded: [...result.restartNeeded] };
      // TLS turned on or off, or the client-certificate rule changed (ssl_cert, ssl_ca).
      if (result.restartNeeded.includes('tls')) restartNeeded.push('listener TLS mode');
    }
    deps.applyLogLevel(next.serve);
    current = next;
    return { changed, restartNeeded, note: listener ? { listener } : {} };
  };
}
