/**
 * Step 6b of the batch transaction: module alerts (spec alerts.md §2.1 step 6, §2.3), after the
 * data's status, history and event statements and before the ledger, on the batch's connection,
 * so counters, queue rows and ceased events commit or roll back with the data (D-A1, D-A8).
 *
 * The no-alert path costs nothing here: the logic lists data only for modules the cached
 * definitions name (one Set lookup per datum) or that this batch creates with
 * `<alert_template>`, and a batch with none of them sends no query.
 */
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import {
  attachAlertTemplates,
  recordAlertOutcome,
  type AlertDefinitionCache,
  type AlertEngine,
  type AlertMetrics,
  type AlertOutcome,
  type AlertWarmUp,
  type Row,
} from '../alerts/index.js';
import type { AlertDatumInput, PacketOutcome, ProcessingContext } from '../types.js';

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
  return defs.alertIdsByModule;
}

function add(total: AlertOutcome, one: AlertOutcome): void {
  total.evaluated += one.evaluated;
  total.fired += one.fired;
  total.recovered += one.recovered;
  total.ceased += one.ceased;
  total.queued += one.queued;
}

/** The full `tagente` and `tagente_modulo` rows of the data (queue row #1, #2), two reads. */
async function rowsById(
  conn: PoolConnection,
  data: readonly AlertDatumInput[],
): Promise<{ agents: Map<number, Row>; modules: Map<number, Row> }> {
  const agentIds = [...new Set(data.map((d) => d.agentRef.id))];
  const moduleIds = [...new Set(data.map((d) => d.moduleRef.id))];
  const [res] = await conn.query<RowDataPacket[][]>(
    'SELECT * FROM tagente WHERE id_agente IN (?);\nSELECT * FROM tagente_modulo WHERE id_agente_modulo IN (?)',
    [agentIds, moduleIds],
  );
  const agents = new Map((res[0] ?? []).map((r) => [Number(r['id_agente']), r as Row]));
  const modules = new Map((res[1] ?? []).map((r) => [Number(r['id_agente_modulo']), r as Row]));
  return { agents, modules };
}

/**
 * Evaluates the batch's alert data in order. `statements` (status, history, events so far) are
 * sent first when there is alert work, so `complex` templates see this datum's history and the
 * ceased event follows the status events; the array is emptied. Returns undefined when the
 * batch had no alert work (nothing was sent).
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
  if (statements.length > 0) await conn.query(statements.splice(0).join(';\n'));

  const attached = new Map<number, number[]>();
  for (const a of attachments) {
    const ids = await attachAlertTemplates(conn, a.moduleRef.id, a.names, nowSec);
    if (ids.length > 0) attached.set(a.moduleRef.id, ids);
  }
  if (attached.size > 0) await refreshForNewTemplates(conn, alerts, [...attached.values()].flat());
  const total = { ...EMPTY_OUTCOME };
  if (data.length === 0) return total;
  const { agents, modules } = await rowsById(conn, data);
  for (const d of data) {
    const agentRow = agents.get(d.agentRef.id);
    const moduleRow = modules.get(d.moduleRef.id);
    const attachedAlertIds = attached.get(d.moduleRef.id);
    const outcome = await alerts.engine.evaluateDatum(conn, {
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
    });
    add(total, outcome);
  }
  return total;
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
