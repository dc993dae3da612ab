/**
 * `alert_execution events` (spec alerts.md §5.5): for installations without any Perl server,
 * write inline exactly the events Pandora's executor would (§5.4 steps 2, 3, 8, 9) and update
 * `talert_template_module_actions` as in step 4. Commands are never run: every action whose
 * command is not "Monitoring Event" is skipped with one warning per action and hour.
 */
import type mysql from 'mysql2/promise';
import type { Logger } from '../../core/index.js';
import { safeInput, safeOutput } from '../../pandora/index.js';
import { run, type AlertConnection } from './apply-sql.js';
import { localDateTimeText } from './clock.js';
import { insertEventSql } from './event-sql.js';
import type { AlertDefinitions } from './definitions.js';
import { looksNumeric } from './perl-number.js';
import { alertNumber, alertText, textOf } from './record.js';
import type { AlertRecord, Row } from './types.js';

const EVENT_TYPES = new Set([
  'going_unknown',
  'unknown',
  'alert_fired',
  'alert_recovered',
  'alert_ceased',
  'alert_manual_validation',
  'recon_host_detected',
  'system',
  'error',
  'new_agent',
  'going_up_warning',
  'going_up_critical',
  'going_down_warning',
  'going_down_normal',
  'going_down_critical',
  'going_up_normal',
  'configuration_change',
  'ncm',
]);
const WARN_EVERY_SECONDS = 3600;
const lastWarned = new Map<number, number>();

export interface EventsModeInput {
  readonly record: AlertRecord;
  readonly agent: Row;
  readonly module: Row;
  readonly defs: AlertDefinitions;
  readonly fired: boolean;
  readonly value: string;
  readonly timestampText: string | null;
  readonly now: number;
  readonly logger: Logger;
}

interface SelectedAction {
  readonly action: Row;
  readonly command: Row | undefined;
  /** The `talert_template_module_actions` row; undefined for the template's default action. */
  readonly link: Row | undefined;
}

/** §5.4 step 3: the alert's actions for this mode and `times_fired`, else the default one. */
function selectActions(input: EventsModeInput): SelectedAction[] {
  const tf = alertNumber(input.record, 'times_fired');
  const links = input.defs.moduleActions.get(input.record.id_template_module) ?? [];
  const chosen = links.filter((l) => {
    const min = alertNumber(l, 'fires_min');
    const max = alertNumber(l, 'fires_max');
    if (min === 0 && max === 0) return true;
    if (!input.fired) return tf >= min;
    return (min <= tf && tf <= max) || (min > max && tf >= min);
  });
  const resolve = (actionId: number, link: Row | undefined): SelectedAction[] => {
    const action = input.defs.actions.get(actionId);
    if (action === undefined) return [];
    const command = input.defs.commands.get(alertNumber(action, 'id_alert_command'));
    return [{ action, command, link }];
  };
  if (chosen.length > 0)
    return chosen.flatMap((l) => resolve(alertNumber(l, 'id_alert_action'), l));
  const fallback = alertNumber(input.record, 'id_alert_action');
  return fallback === 0 ? [] : resolve(fallback, undefined);
}

/** §5.4 step 5: the action's value, else the template's; recovered mode prefers `_recovery`. */
function fieldValues(input: EventsModeInput, action: Row): string[] {
  const out: string[] = [];
  for (let i = 1; i <= 20; i++) {
    const base =
      alertText(action, `field${String(i)}`) || alertText(input.record, `field${String(i)}`);
    let value = base;
    if (!input.fired) {
      const recovery =
        alertText(action, `field${String(i)}_recovery`) ||
        alertText(input.record, `field${String(i)}_recovery`);
      value = recovery || (i === 1 ? base : base === '' ? '' : `[RECOVER]${base}`);
    }
    out.push(safeOutput(value));
  }
  return out;
}

/** `_data_`: numeric values with one decimal (graph_precision 1), trailing zeros removed. */
function dataMacro(value: string): string {
  if (!looksNumeric(value)) return value;
  const fixed = Number(value).toFixed(1);
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

function substitute(text: string, macros: ReadonlyMap<string, string>): string {
  return text.replace(/_[a-z0-9_]+?_/gi, (m) => macros.get(m) ?? m);
}

function macroTable(input: EventsModeInput, fields: readonly string[]): Map<string, string> {
  const name = safeOutput(alertText(input.agent, 'nombre'));
  const alias = safeOutput(alertText(input.agent, 'alias'));
  const m = new Map<string, string>([
    ['_agent_', alias || name],
    ['_agentname_', name],
    ['_agentalias_', alias],
    ['_module_', safeOutput(alertText(input.module, 'nombre'))],
    ['_data_', dataMacro(input.value)],
    ['_timestamp_', input.timestampText ?? localDateTimeText(input.now)],
    ['_alert_name_', safeOutput(alertText(input.record, 'name'))],
    ['_alert_priority_', String(alertNumber(input.record, 'priority'))],
    ['_alert_times_fired_', String(alertNumber(input.record, 'times_fired'))],
  ]);
  fields.forEach((f, i) => m.set(`_field${String(i + 1)}_`, f));
  return m;
}

interface EventColumns {
  readonly idAgente: number;
  readonly text: string;
  readonly type: string;
  readonly criticity: number;
  readonly source: string;
  readonly idExtra: string;
  readonly tags: string;
  readonly customData: string;
}

async function insertAlertEvent(conn: AlertConnection, input: EventsModeInput, e: EventColumns) {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    'SELECT datos, estado FROM tagente_estado WHERE id_agente_modulo = ?',
    [input.module['id_agente_modulo']],
  );
  const state = rows[0];
  await run(
    conn,
    insertEventSql(
      {
        id_agente: e.idAgente,
        id_grupo: alertNumber(input.agent, 'id_grupo'),
        evento: safeInput(e.text),
        event_type: e.type,
        id_agentmodule: alertNumber(input.module, 'id_agente_modulo'),
        id_alert_am: input.record.id_template_module,
        criticity: e.criticity,
        tags: e.tags,
        source: e.source,
        id_extra: e.idExtra,
        critical_instructions: alertText(input.module, 'critical_instructions'),
        warning_instructions: alertText(input.module, 'warning_instructions'),
        unknown_instructions: alertText(input.module, 'unknown_instructions'),
        custom_data: e.customData,
        data: safeInput(textOf(state?.['datos'] ?? input.value)),
        module_status: Number(state?.['estado'] ?? 0),
      },
      input.now,
    ),
  );
}

export async function executeAsEvents(conn: AlertConnection, input: EventsModeInput) {
  if (alertNumber(input.record, 'standby') === 1) return; // step 2
  const selected = selectActions(input);
  if (selected.length === 0) {
    input.logger.info({ alert: input.record.id_template_module }, 'No actions defined');
    return;
  }
  const eventsOn = alertNumber(input.record, 'disable_event') !== 1;
  const listed: string[] = [];
  let monitoringEventRan = false;
  for (const { action, command, link } of selected) {
    listed.push(safeOutput(alertText(action, 'name')));
    const threshold =
      alertNumber(link ?? {}, 'module_action_threshold') || alertNumber(action, 'action_threshold');
    const due = input.fired
      ? input.now >= alertNumber(link ?? {}, 'last_execution') + threshold
      : alertNumber(link ?? {}, 'recovered') === 0;
    if (!due) continue;
    const commandName = safeOutput(alertText(command ?? {}, 'name'));
    if (commandName === 'Monitoring Event') {
      monitoringEventRan = true;
      if (eventsOn) {
        const fields = fieldValues(input, action);
        const macros = macroTable(input, fields);
        const f = (i: number) => substitute(fields[i - 1] ?? '', macros);
        const type = fields[1] ?? '';
        await insertAlertEvent(conn, input, {
          idAgente: alertNumber(input.agent, 'id_agente'),
          text: f(1),
          type: EVENT_TYPES.has(type) ? type : input.fired ? 'alert_fired' : 'alert_recovered',
          criticity:
            (fields[4] ?? '') !== '' ? Number(fields[4]) : alertNumber(input.record, 'priority'),
          source: f(3),
          idExtra: f(6),
          tags: f(7),
          customData: '',
        });
      }
    } else {
      const actionId = alertNumber(action, 'id');
      if (input.now - (lastWarned.get(actionId) ?? -Infinity) >= WARN_EVERY_SECONDS) {
        lastWarned.set(actionId, input.now);
        input.logger.warn(
          { action: actionId, command: commandName },
          'alert_execution events: this action is not run (only Monitoring Event is executed inline)',
        );
      }
    }
    if (link !== undefined) {
      await run(conn, {
        sql: input.fired
          ? 'UPDATE talert_template_module_actions SET last_execution = ?, recovered = 0 WHERE id = ?'
          : 'UPDATE talert_template_module_actions SET recovered = 1 WHERE id = ?',
        values: input.fired ? [input.now, link['id']] : [link['id']],
      });
    }
  }
  if (monitoringEventRan || !eventsOn) return; // step 8 suppresses step 9
  const name = safeOutput(alertText(input.record, 'name'));
  const moduleName = safeOutput(alertText(input.module, 'nombre'));
  await insertAlertEvent(conn, input, {
    idAgente: alertNumber(input.agent, 'id_agente'),
    text: `${input.fired ? 'fired' : 'recovered'} (${name}) assigned to (${moduleName})`,
    type: input.fired ? 'alert_fired' : 'alert_recovered',
    criticity: input.fired ? alertNumber(input.record, 'priority') : 2,
    source: 'monitoring_server',
    idExtra: '',
    tags: '',
    customData: JSON.stringify({ actions: listed, forced: 0, recovered: input.fired ? 0 : 1 }),
  });
}
