/**
 * The alert definition cache (spec alerts.md §1.2, §5.5 "Config freshness"): templates, which
 * enabled alert rows each module has, calendars' special days, actions and commands, and the
 * console's `event_storm_protection` flag. Reloaded whole when older than
 * `alert_config_refresh` seconds (0 = on every use), so a console change applies to data
 * processed after that. Counters are never taken from here: the engine reads the alert rows
 * under a lock inside the datum's transaction (D-A1).
 */
import type mysql from 'mysql2/promise';
import { textOf } from './record.js';
import type { Row } from './types.js';

export interface AlertDefinitions {
  readonly loadedAt: number;
  readonly templates: ReadonlyMap<number, Row>;
  /** Module id → ids of its enabled (`disabled = 0`) alert rows, ascending. */
  readonly alertIdsByModule: ReadonlyMap<number, readonly number[]>;
  readonly specialDays: readonly Row[];
  /** `talert_template_module_actions` rows by alert id (events mode). */
  readonly moduleActions: ReadonlyMap<number, readonly Row[]>;
  readonly actions: ReadonlyMap<number, Row>;
  readonly commands: ReadonlyMap<number, Row>;
  /** `tconfig.event_storm_protection = 1`: nothing is evaluated (§2.2 gate 2). */
  readonly eventStormProtection: boolean;
}

type Reader = Pick<mysql.Pool, 'query'>;

async function rows(db: Reader, sql: string): Promise<Row[]> {
  const [result] = await db.query<mysql.RowDataPacket[]>(sql);
  return result;
}

function byId(list: readonly Row[]): Map<number, Row> {
  return new Map(list.map((r) => [Number(r['id']), r]));
}

function groupBy(list: readonly Row[], column: string): Map<number, Row[]> {
  const out = new Map<number, Row[]>();
  for (const r of list) {
    const key = Number(r[column]);
    const bucket = out.get(key);
    if (bucket === undefined) out.set(key, [r]);
    else bucket.push(r);
  }
  return out;
}

export async function loadAlertDefinitions(db: Reader, now: number): Promise<AlertDefinitions> {
  const [templates, alerts, specialDays, moduleActions, actions, commands, storm] =
    await Promise.all([
      rows(db, 'SELECT * FROM talert_templates'),
      rows(
        db,
        'SELECT id, id_agent_module FROM talert_template_modules WHERE disabled = 0 ORDER BY id',
      ),
      rows(db, 'SELECT id_calendar, id_group, `date`, day_code FROM talert_special_days'),
      rows(db, 'SELECT * FROM talert_template_module_actions ORDER BY id'),
      rows(db, 'SELECT * FROM talert_actions'),
      rows(db, 'SELECT * FROM talert_commands'),
      rows(db, "SELECT `value` FROM tconfig WHERE token = 'event_storm_protection' LIMIT 1"),
    ]);
  const alertIdsByModule = new Map<number, number[]>();
  for (const [module, list] of groupBy(alerts, 'id_agent_module')) {
    alertIdsByModule.set(
      module,
      list.map((r) => Number(r['id'])),
    );
  }
  return {
    loadedAt: now,
    templates: byId(templates),
    alertIdsByModule,
    specialDays,
    moduleActions: groupBy(moduleActions, 'id_alert_template_module'),
    actions: byId(actions),
    commands: byId(commands),
    eventStormProtection: textOf(storm[0]?.['value']) === '1',
  };
}

/**
 * Holds the current definitions and reloads them when stale. Concurrent callers share one
 * reload; a failed reload keeps serving the previous definitions and retries on the next use.
 *
 * A load is valid until `loadedAt` (when it started) + `refreshSeconds`. From half that age a
 * reload starts in the background while callers keep the current definitions, so batches do
 * not stall on it (with 15,000 alerts a reload took every batch's turn for its duration); a
 * caller waits only when the definitions are past their age, as §5.5 requires.
 */
export class AlertDefinitionCache {
  private current: AlertDefinitions | undefined;
  private loading: Promise<AlertDefinitions> | undefined;

  private readonly db: Reader;
  private readonly refreshSeconds: number;
  private readonly nowSeconds: () => number;

  /** `refreshSeconds` is capped at 30: the storm flag must be re-read at least that often. */
  constructor(
    db: Reader,
    refreshSeconds: number,
    nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
  ) {
    this.db = db;
    this.refreshSeconds = Math.min(refreshSeconds, 30);
    this.nowSeconds = nowSeconds;
  }

  async get(): Promise<AlertDefinitions> {
    const now = this.nowSeconds();
    const current = this.current;
    const age = current === undefined ? Infinity : now - current.loadedAt;
    if (current !== undefined && this.refreshSeconds > 0 && age < this.refreshSeconds) {
      if (age >= this.refreshSeconds / 2) this.reload(now).catch(() => undefined);
      return current;
    }
    try {
      return await this.reload(now);
    } catch (err) {
      if (current === undefined) throw err;
      return current;
    }
  }

  /** One load at a time; a newer load replaces the current definitions when it ends. */
  private reload(now: number): Promise<AlertDefinitions> {
    this.loading ??= loadAlertDefinitions(this.db, now)
      .then((loaded) => {
        if (this.current === undefined || loaded.loadedAt >= this.current.loadedAt)
          this.current = loaded;
        return loaded;
      })
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }

  /** Forget the cached definitions (tests, or after our own writes to definitions). */
  invalidate(): void {
    this.current = undefined;
  }
}
