/**
 * Step 6b of the batch transaction: module alerts (spec alerts.md §2.1 step 6, §2.3), after the
 * data's status, history and event statements and before the ledger, on the batch's connection,
 * so counters, queue rows and ceased events commit or roll back with the data (D-A1, D-A8).
 *
 * The no-alert path costs nothing here: the logic lists data only for modules the cached
 * definitions name (one Set lookup per datum) or that this batch creates with
 * `<alert_template>`, and a batch with none of them sends no query.
 */
import mysql, { type PoolConnection, type RowDataPacket } from 'mysql2/promise';
import {
  attachAlertTemplates,
  DeferredAlertWrites,
  deferringConnection,
  recordAlertOutcome,
  type AlertDefinitionCache,
  type AlertEngine,
  type AlertMetrics,
  type AlertOutcome,
  type AlertWarmUp,
  type Row,
} from '../alerts/index.js';
import type {
  AlertAttachment,
  AlertDatumInput,
  PacketOutcome,
  ProcessingContext,
} from '../types.js';

/** What the batch needs of the alert module; absent: alerts are off (tests, tools). */
export interface BatchAlerts {
  readonly engine: AlertEngine;
  readonly definitions: AlertDefinitionCache;
  readonly warmUp: AlertWarmUp;
  readonly metrics: AlertMetrics;
}

const EMPTY_OUTCOME: AlertOutcome = { evaluated: 0, fired: 0, recovered: 0, ceased: 0, queued: 0 };

/**
 * Before the logic runs: the modules that have alerts, from the definitions cache (reloaded when
 * older than `alert_config_refresh`, §5.5), for `ProcessingContext.alertModules`.
 */
export async function alertModulesOf(
  alerts: BatchAlerts | undefined,
): Promise<ProcessingContext['alertModules']> {
  if (alerts === undefined) return undefined;
  const defs = await alerts.definitions.get();
  // None defined: the per-datum check then costs one undefined test (issue 16).
  return defs.alertIdsByModule.size > 0 ? defs.alertIdsByModule : undefined;
}

function add(total: AlertOutcome, one: AlertOutcome): void {
  total.evaluated += one.evaluated;
  total.fired += one.fired;
  total.recovered += one.recovered;
  total.ceased += one.ceased;
  total.queued += one.queued;
}

interface BatchRows {
  readonly agents: Map<number, Row>;
  readonly modules: Map<number, Row>;
  /** id_grupo → tgrupo.disabled */
  readonly groupDisabled: Map<number, boolean>;
  /** The alert rows of every listed module, locked in id order (D-A1). */
  readonly alertRows: Map<number, Row>;
}

/**
 * One round trip for what every datum would otherwise read: the full `tagente` and
 * `tagente_modulo` rows (queue row #1, #2), the groups' disabled flags (gate 5) and the alert
 * rows, locked in id order. The batch holds its agents' locks, so these rows are ours until
 * COMMIT and the engine keeps them current. `before` (the batch's status, history and event
 * statements, one per entry) runs first in the same round trip.
 */
async function readBatchRows(
  conn: PoolConnection,
  before: readonly string[],
  data: readonly AlertDatumInput[],
  alertIds: readonly number[],
): Promise<BatchRows> {
  const agentIds = [...new Set(data.map((d) => d.agentRef.id))];
  const moduleIds = [...new Set(data.map((d) => d.moduleRef.id))];
  const reads = mysql.format(
    [
      'SELECT * FROM tagente WHERE id_agente IN (?)',
      'SELECT * FROM tagente_modulo WHERE id_agente_modulo IN (?)',
      'SELECT g.id_grupo, g.disabled FROM tgrupo g WHERE g.id_grupo IN (SELECT id_grupo FROM tagente WHERE id_agente IN (?))',
      'SELECT * FROM talert_template_modules WHERE id IN (?) ORDER BY id FOR UPDATE',
    ].join(';\n'),
    [agentIds, moduleIds, agentIds, alertIds.length > 0 ? [...alertIds] : [0]],
  );
  const [all] = await conn.query<RowDataPacket[][]>([...before, reads].join(';\n'));
  // One result per statement: the reads are the last four.
  const res = all.slice(-4);
  const byId = (rows: RowDataPacket[] | undefined, column: string) =>
    new Map((rows ?? []).map((r) => [Number(r[column]), r as Row]));
  return {
    agents: byId(res[0], 'id_agente'),
    modules: byId(res[1], 'id_agente_modulo'),
    groupDisabled: new Map(
      (res[2] ?? []).map((r) => [Number(r['id_grupo']), Number(r['disabled'] ?? 0) !== 0]),
    ),
    alertRows: byId(res[3], 'id'),
  };
}

/**
 * Evaluates the batch's alert data in order. `statements` (status, history, events so far) are
 * sent first when there is alert work, so `complex` templates see this datum's history and the
 * ceased event follows the status events; the array is emptied and then receives the alert
 * writes (deferred-writes.ts), which go with the COMMIT. Returns undefined when the batch had
 * no alert work (nothing was sent).
 */
export async function evaluateBatchAlerts(
  conn: PoolConnection,
  written: readonly PacketOutcome[],
  statements: string[],
  alerts: BatchAlerts | undefined,
  nowSec: number,
): Promise<AlertOutcome | undefined> {
  if (alerts === undefined) return undefined;
  const data = written.flatMap((o) => o.alertData ?? []);
  const attachments = written.flatMap((o) => o.alertAttachments ?? []);
  if (data.length === 0 && attachments.length === 0) return undefined;
  const attached = await attachTemplates(conn, statements, alerts, attachments, nowSec);
  const total = { ...EMPTY_OUTCOME };
  if (data.length === 0) return total;
  const defs = await alerts.definitions.get();
  const alertIds = new Set<number>();
  for (const d of data) {
    for (const id of defs.alertIdsByModule.get(d.moduleRef.id) ?? []) alertIds.add(id);
    for (const id of attached.get(d.moduleRef.id) ?? []) alertIds.add(id);
  }
  const rows = await readBatchRows(
    conn,
    statements.splice(0),
    data,
    [...alertIds].sort((a, b) => a - b),
  );
  const deferred = new DeferredAlertWrites();
  const alertConn = deferringConnection(conn, deferred);
  for (const d of data) {
    const agentRow = rows.agents.get(d.agentRef.id);
    const moduleRow = rows.modules.get(d.moduleRef.id);
    const attachedAlertIds = attached.get(d.moduleRef.id);
    const groupDisabled = rows.groupDisabled.get(Number(agentRow?.['id_grupo'] ?? -1)) ?? false;
    const outcome = await alerts.engine.evaluateDatum(alertConn, {
      agentId: d.agentRef.id,
      moduleId: d.moduleRef.id,
      datum: {
        value: d.value,
        status: d.status,
        utimestamp: d.epoch,
        previousValue: d.previousValue,
      },
      timestampText: d.timestampText,
      lastStatusChange: d.lastStatusChange,
      forcedStatus: d.forcedStatus,
      ...(agentRow === undefined ? {} : { agentRow }),
      ...(moduleRow === undefined ? {} : { moduleRow }),
      ...(attachedAlertIds === undefined ? {} : { attachedAlertIds }),
      locked: { alertRows: rows.alertRows, groupDisabled },
    });
    add(total, outcome);
  }
  statements.push(...deferred.take());
  return total;
}

/**
 * `<alert_template>` attachments of modules this batch creates (§2.3): the batch's statements
 * are sent first (the module rows must exist). Returns the new alert ids by module.
 */
async function attachTemplates(
  conn: PoolConnection,
  statements: string[],
  alerts: BatchAlerts,
  attachments: readonly AlertAttachment[],
  nowSec: number,
): Promise<Map<number, number[]>> {
  const attached = new Map<number, number[]>();
  if (attachments.length === 0) return attached;
  if (statements.length > 0) await conn.query(statements.splice(0).join(';\n'));
  for (const a of attachments) {
    const ids = await attachAlertTemplates(conn, a.moduleRef.id, a.names, nowSec);
    if (ids.length > 0) attached.set(a.moduleRef.id, ids);
  }
  if (attached.size > 0) await refreshForNewTemplates(conn, alerts, [...attached.values()].flat());
  return attached;
}

/**
 * Attached alerts of a template the cache does not know yet (created by the console since the
 * last reload) would be skipped: reload the definitions then.
 */
async function refreshForNewTemplates(
  conn: PoolConnection,
  alerts: BatchAlerts,
  alertIds: readonly number[],
): Promise<void> {
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT DISTINCT id_alert_template AS t FROM talert_template_modules WHERE id IN (?)',
    [alertIds],
  );
  const defs = await alerts.definitions.get();
  if (rows.some((r) => !defs.templates.has(Number(r['t'])))) alerts.definitions.invalidate();
}

/** After COMMIT: the metrics, and the warm-up notice (if this batch wrote it) is final. */
export function alertsCommitted(
  alerts: BatchAlerts | undefined,
  outcome: AlertOutcome | undefined,
) {
  if (alerts === undefined || outcome === undefined) return;
  alerts.warmUp.committed();
  recordAlertOutcome(alerts.metrics, outcome);
}

/**
 * After ROLLBACK of a batch that evaluated alerts: a warm-up "ended" notice it wrote is written
 * again by a later datum.
 */
export function alertsRolledBack(alerts: BatchAlerts | undefined, evaluated: boolean): void {
  if (evaluated) alerts?.warmUp.rolledBack();
}
