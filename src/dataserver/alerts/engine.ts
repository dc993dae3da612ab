/**
 * Module alerts for one datum (spec alerts.md §2–§5), run on the connection of the datum's
 * transaction so counters, queue rows and the ceased event commit or roll back with the datum's
 * rows (D-A1, D-A8). The caller calls it after the status row and history of the datum are
 * written, only when the status row was updated (D-A5), and never for rejected values.
 */
import type mysql from 'mysql2/promise';
import type { Logger } from '../../core/index.js';
import {
  ceasedEventSql,
  counterUpdate,
  flagAlertCount,
  flipsFiredState,
  run,
  writeCounters,
  writeQueueRow,
  type AlertConnection,
} from './apply-sql.js';
import { alertClock, localDateTimeText } from './clock.js';
import { complexSpec, complexWindowStart } from './conditions.js';
import type { AlertDefinitionCache, AlertDefinitions } from './definitions.js';
import { evaluateAlert } from './evaluate.js';
import { executeAsEvents } from './events-mode.js';
import { cascadeBlocks, quietOrDisabled } from './gates.js';
import { encodeQueuePayload, QueueMode } from './queue-row.js';
import {
  alertNumber,
  alertText,
  evaluationRecord,
  fullAlertRecord,
  templateType,
  textOf,
  withCounters,
} from './record.js';
import { specialDayCode } from './schedule.js';
import type { AlertConfig } from './settings.js';
import {
  AlertResult,
  type AlertDatum,
  type AlertRecord,
  type Evaluation,
  type Row,
  type TemplateType,
} from './types.js';
import type { AlertWarmUp } from './warm-up.js';

const UNKNOWN_PATH_TYPES: readonly TemplateType[] = ['unknown', 'not_normal'];

/** Results that write a queue row or an event (and so need the full alert record). */
function actsOn(rc: Evaluation['rc']): boolean {
  return rc === AlertResult.Fire || rc === AlertResult.Recover || rc === AlertResult.Cease;
}

/** Everything the batch knows about one accepted datum (§2.1 step 6). */
export interface AlertDatumContext {
  readonly agentId: number;
  readonly moduleId: number;
  readonly datum: AlertDatum;
  /** The datum's timestamp text as the agent sent it (queue row #5). */
  readonly timestampText: string | null;
  /** `tagente_estado.last_status_change` before this datum (`_modulelaststatuschange_`). */
  readonly lastStatusChange: number;
  /** The XML `<status>` of the module, or null (queue row #2 `status`). */
  readonly forcedStatus: string | null;
  /** The master's unknown path (§2.4): only templates of these types. */
  readonly onlyTypes?: readonly TemplateType[];
  /** log4x modules: `_severity_`, `_message_`, `_stacktrace_`. */
  readonly extraMacros?: Readonly<Record<string, string>>;
  /** Queue row #0 when it differs from the datum's text (the unknown path queues the number 0). */
  readonly queueValue?: string | number;
  /** The full `tagente` / `tagente_modulo` rows when the batch holds them (saves two reads). */
  readonly agentRow?: Row;
  readonly moduleRow?: Row;
  /**
   * Alert rows this transaction attached (§2.3): not committed, so not yet in the cached
   * definitions, yet the creating datum is evaluated with them.
   */
  readonly attachedAlertIds?: readonly number[];
  /**
   * Batch reads done once for many data: the alert rows already locked by this transaction
   * (kept current: the engine writes its counter updates into them) and whether the agent's
   * primary group is disabled. Rows missing from the map are read and locked here.
   */
  readonly locked?: { readonly alertRows: Map<number, Row>; readonly groupDisabled: boolean };
}

export interface AlertOutcome {
  evaluated: number;
  fired: number;
  recovered: number;
  ceased: number;
  queued: number;
  /** Why nothing was evaluated, when a gate stopped the datum. */
  gated?: 'no-alerts' | 'storm' | 'warm-up' | 'cascade' | 'quiet-or-group';
}

export interface AlertEngineDeps {
  readonly config: AlertConfig;
  readonly definitions: AlertDefinitionCache;
  readonly warmUp: AlertWarmUp;
  readonly logger: Logger;
  readonly nowSeconds?: () => number;
}

async function oneRow(conn: AlertConnection, sql: string, values: unknown[]) {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(sql, values);
  return rows[0] as Row | undefined;
}

/** Locks the module's alert rows in id order (a fixed order: no deadlock between writers). */
async function lockAlertRows(conn: AlertConnection, ids: readonly number[]): Promise<Row[]> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    'SELECT * FROM talert_template_modules WHERE id IN (?) ORDER BY id FOR UPDATE',
    [ids],
  );
  return rows;
}

/** The module's alert rows, from the batch's locked rows when it holds them all, in id order. */
async function alertRowsOf(
  conn: AlertConnection,
  ids: readonly number[],
  locked: Map<number, Row> | undefined,
): Promise<Row[]> {
  if (locked === undefined) return lockAlertRows(conn, ids);
  const missing = ids.filter((id) => !locked.has(id));
  if (missing.length > 0)
    for (const r of await lockAlertRows(conn, missing)) locked.set(Number(r['id']), r);
  return [...ids]
    .sort((a, b) => a - b)
    .flatMap((id) => {
      const row = locked.get(id);
      return row === undefined ? [] : [row];
    });
}

const AGGREGATE_SQL = {
  avg: 'AVG',
  min: 'MIN',
  max: 'MAX',
  sum: 'SUM',
} as const;

/** H of a complex template: the aggregate over the module's history in its window. */
async function complexHistory(
  conn: AlertConnection,
  record: AlertRecord,
  moduleId: number,
  now: number,
): Promise<number | null> {
  const spec = complexSpec(record);
  if (spec === undefined) return null;
  const row = await oneRow(
    conn,
    `SELECT ${AGGREGATE_SQL[spec.fn]}(datos) AS h FROM tagente_datos WHERE id_agente_modulo = ? AND utimestamp > ?`,
    [moduleId, complexWindowStart(spec.window, now)],
  );
  const h = row?.['h'];
  return h === null || h === undefined ? null : Number(h);
}

async function moduleTags(conn: AlertConnection, moduleId: number): Promise<string> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    'SELECT t.name FROM ttag_module tm JOIN ttag t ON t.id_tag = tm.id_tag WHERE tm.id_agente_modulo = ? ORDER BY t.id_tag',
    [moduleId],
  );
  return rows.map((r) => textOf(r['name'])).join(',');
}

export class AlertEngine {
  private readonly now: () => number;
  private readonly warnedIncomplete = new Set<number>();

  private readonly deps: AlertEngineDeps;

  constructor(deps: AlertEngineDeps) {
    this.deps = deps;
    this.now = deps.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  }

  /** Evaluates and applies every candidate alert of the datum's module (§2.2 gate 6). */
  async evaluateDatum(conn: AlertConnection, ctx: AlertDatumContext): Promise<AlertOutcome> {
    const outcome: AlertOutcome = { evaluated: 0, fired: 0, recovered: 0, ceased: 0, queued: 0 };
    const defs = await this.deps.definitions.get();
    const cached = defs.alertIdsByModule.get(ctx.moduleId) ?? [];
    const ids =
      ctx.attachedAlertIds === undefined || ctx.attachedAlertIds.length === 0
        ? cached
        : [...new Set([...cached, ...ctx.attachedAlertIds])];
    if (ids.length === 0) return { ...outcome, gated: 'no-alerts' };

    const agent =
      ctx.agentRow ??
      (await oneRow(conn, 'SELECT * FROM tagente WHERE id_agente = ?', [ctx.agentId]));
    const module =
      ctx.moduleRow ??
      (await oneRow(conn, 'SELECT * FROM tagente_modulo WHERE id_agente_modulo = ?', [
        ctx.moduleId,
      ]));
    if (agent === undefined || module === undefined) return { ...outcome, gated: 'no-alerts' };

    // §2.2 gates, in the reference's order.
    if (await cascadeBlocks(conn, agent)) return { ...outcome, gated: 'cascade' };
    if (defs.eventStormProtection) return { ...outcome, gated: 'storm' };
    const now = this.now();
    if (!(await this.deps.warmUp.allows(conn, now))) return { ...outcome, gated: 'warm-up' };
    if (await quietOrDisabled(conn, agent, module, ctx.locked?.groupDisabled))
      return { ...outcome, gated: 'quiet-or-group' };

    const clock = alertClock(now);
    let flagAgent = false;
    for (const alertRow of await alertRowsOf(conn, ids, ctx.locked?.alertRows)) {
      if (Number(alertRow['disabled']) !== 0) continue; // disabled since the cache was loaded
      if (Number(alertRow['id_agent_module']) !== ctx.moduleId) continue;
      const template = defs.templates.get(Number(alertRow['id_alert_template']));
      if (template === undefined) continue; // a template newer than the cache: next refresh
      const record = evaluationRecord(alertRow, template);
      const type = templateType(record);
      if (ctx.onlyTypes !== undefined && (type === undefined || !ctx.onlyTypes.includes(type)))
        continue;
      this.warnIncompleteComplex(record);
      const evaluation = evaluateAlert({
        record,
        datum: ctx.datum,
        clock,
        specialDayCode: specialDayCode(record, defs.specialDays, clock),
        history: type === 'complex' ? await complexHistory(conn, record, ctx.moduleId, now) : null,
        timeSource: this.deps.config.timeSource,
      });
      outcome.evaluated++;
      // The full record only for what executes or writes an event, from the row as evaluated.
      const full = actsOn(evaluation.rc)
        ? { ...evaluation, record: fullAlertRecord(alertRow, template, evaluation.record) }
        : undefined;
      const update = counterUpdate(evaluation, now);
      if (flipsFiredState(alertNumber(alertRow, 'times_fired'), update)) flagAgent = true;
      if (update !== undefined) {
        await writeCounters(conn, record.id_template_module, update);
        Object.assign(alertRow, update); // a locked row of the batch stays current
      }
      if (full !== undefined)
        await this.execute(conn, ctx, { agent, module, defs, evaluation: full, now, outcome });
    }
    if (flagAgent) await flagAlertCount(conn, ctx.agentId);
    return outcome;
  }

  /**
   * The master's unknown path (§2.4): when a module turns UNKNOWN (or an async module goes back
   * to NORMAL), only `unknown` and `not_normal` templates, with value `0`, status `status`,
   * `u` = now, previous value `0`; gates as for data. Run in the transaction that writes the
   * module's new status.
   */
  async evaluateUnknown(
    conn: AlertConnection,
    target: { agentId: number; moduleId: number; lastStatusChange: number; status?: number },
  ): Promise<AlertOutcome> {
    const now = this.now();
    return this.evaluateDatum(conn, {
      agentId: target.agentId,
      moduleId: target.moduleId,
      datum: { value: '0', status: target.status ?? 3, utimestamp: now, previousValue: '0' },
      timestampText: localDateTimeText(now),
      lastStatusChange: target.lastStatusChange,
      forcedStatus: null,
      onlyTypes: UNKNOWN_PATH_TYPES,
      queueValue: 0,
    });
  }

  private async execute(
    conn: AlertConnection,
    ctx: AlertDatumContext,
    p: {
      agent: Row;
      module: Row;
      defs: AlertDefinitions;
      evaluation: Evaluation;
      now: number;
      outcome: AlertOutcome;
    },
  ): Promise<void> {
    const { evaluation, now, outcome } = p;
    if (evaluation.rc === AlertResult.Cease) {
      outcome.ceased++;
      if (alertNumber(evaluation.record, 'disable_event') === 1) return;
      await run(
        conn,
        ceasedEventSql(evaluation.record, {
          agentId: ctx.agentId,
          groupId: alertNumber(p.agent, 'id_grupo'),
          moduleId: ctx.moduleId,
          data: ctx.datum.value,
          moduleStatus: ctx.datum.status,
          instructions: {
            critical: alertText(p.module, 'critical_instructions'),
            warning: alertText(p.module, 'warning_instructions'),
            unknown: alertText(p.module, 'unknown_instructions'),
          },
          tags: await moduleTags(conn, ctx.moduleId),
          now,
        }),
      );
      return;
    }
    if (evaluation.rc !== AlertResult.Fire && evaluation.rc !== AlertResult.Recover) return;
    const fired = evaluation.rc === AlertResult.Fire;
    if (fired) outcome.fired++;
    else outcome.recovered++;
    // rc 0 carries the new counters, rc 4 those of the record after the window logic (§4).
    const record = fired
      ? withCounters(
          evaluation.record,
          alertNumber(evaluation.record, 'times_fired') + 1,
          alertNumber(evaluation.record, 'internal_counter') + 1,
        )
      : evaluation.record;
    if (this.deps.config.execution === 'events') {
      await executeAsEvents(conn, {
        record,
        agent: p.agent,
        module: p.module,
        defs: p.defs,
        fired,
        value: ctx.datum.value,
        timestampText: ctx.timestampText,
        now,
        logger: this.deps.logger,
      });
      return;
    }
    const data = encodeQueuePayload({
      value: ctx.queueValue ?? ctx.datum.value,
      agent: p.agent,
      module: p.module,
      forcedStatus: ctx.forcedStatus,
      alert: record,
      mode: fired ? QueueMode.Fired : QueueMode.Recovered,
      timestamp: ctx.timestampText,
      forced: 0,
      macros: { _modulelaststatuschange_: ctx.lastStatusChange, ...ctx.extraMacros },
    });
    await writeQueueRow(conn, data, now);
    outcome.queued++;
  }

  /** D-A7: an incomplete complex template never fires; say so once per alert. */
  private warnIncompleteComplex(record: AlertRecord): void {
    if (templateType(record) !== 'complex' || complexSpec(record) !== undefined) return;
    if (this.warnedIncomplete.has(record.id_template_module)) return;
    this.warnedIncomplete.add(record.id_template_module);
    this.deps.logger.warn(
      { alert: record.id_template_module, template: record['id'] },
      'complex alert template lacks math_function, condition or time_window; it never fires',
    );
  }
}
