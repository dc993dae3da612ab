/**
 * The interop check's scenario (spec alerts.md §8 tests 1, 3, 38, 39 and issue 15's non-ASCII
 * case): the agent packets and the alert definitions, written the same way into our database
 * and into the reference's, and the comparison of two decoded queue rows.
 */
import type mysql from 'mysql2/promise';
import { safeInput } from '../../src/pandora/index.js';

type Row = Record<string, unknown>;

/** A datum with Latin-1, BMP and astral characters (reference defect D-A3). */
export const NON_ASCII = 'café ✓ 🙂';

/** "YYYY/MM/DD HH:MM:SS" in UTC, the agent's timestamp text (both servers run with TZ=UTC). */
function agentNow(): string {
  return new Date().toISOString().slice(0, 19).replace('T', ' ').replaceAll('-', '/');
}

/** host1 (group Servers): `cpu`, `load` (warning 70, critical 90), string module `msg`. */
export function agentXml(cpu: number, load: number, text: string): string {
  return `<?xml version='1.0' encoding='UTF-8'?>
<agent_data agent_name='host1' group='Servers' os_name='Linux' interval='300' timestamp='${agentNow()}'>
<module><name>cpu</name><type>generic_data</type><data>${cpu}</data></module>
<module><name>load</name><type>generic_data</type><min_warning>70</min_warning><min_critical>90</min_critical><data>${load}</data></module>
<module><name>msg</name><type>generic_data_string</type><data><![CDATA[${text}]]></data></module>
</agent_data>`;
}

export interface ScenarioAlerts {
  /** Test 38: template Tmax on `cpu`, a shell action appending to `files.out`. */
  readonly a: number;
  /** Test 39: seeded template 1 "Critical condition" on `load`, seeded action 3. */
  readonly b: number;
  /** Non-ASCII: regex `caf` on `msg`, a shell action appending the datum to `files.text`. */
  readonly c: number;
}

/** Inserts the commands, actions, templates and alerts, as the console would. */
export async function defineAlerts(
  pool: mysql.Pool,
  files: { out: string; text: string },
): Promise<ScenarioAlerts> {
  const insert = async (sql: string, values: unknown[]): Promise<number> =>
    (await pool.query<mysql.ResultSetHeader>(sql, values))[0].insertId;
  const moduleId = async (name: string): Promise<number> => {
    const [rows] = await pool.query<mysql.RowDataPacket[]>(
      'SELECT id_agente_modulo FROM tagente_modulo WHERE nombre = ?',
      [name],
    );
    return Number(rows[0]?.['id_agente_modulo']);
  };
  const alert = async (module: string, template: number, action: number): Promise<number> => {
    const id = await insert(
      'INSERT INTO talert_template_modules (id_agent_module, id_alert_template) VALUES (?, ?)',
      [await moduleId(module), template],
    );
    await insert(
      'INSERT INTO talert_template_module_actions (id_alert_template_module, id_alert_action) VALUES (?, ?)',
      [id, action],
    );
    return id;
  };
  const shellAction = async (name: string, command: string): Promise<number> => {
    const commandId = await insert(
      'INSERT INTO talert_commands (name, command, internal) VALUES (?, ?, 0)',
      [safeInput(`${name} command`), safeInput(command)],
    );
    return insert(
      'INSERT INTO talert_actions (name, id_alert_command, field1, field1_recovery) VALUES (?, ?, ?, ?)',
      [safeInput(name), commandId, 'FIRED', 'RECOVERED'],
    );
  };

  const tmax = await insert(
    `INSERT INTO talert_templates (name, type, max_value, time_threshold, max_alerts, min_alerts,
       recovery_notify, priority, schedule) VALUES (?, 'max', 50, 86400, 1, 0, 1, 4, NULL)`,
    [safeInput('Tmax')],
  );
  const tcaf = await insert(
    `INSERT INTO talert_templates (name, type, value, matches_value, time_threshold, max_alerts,
       min_alerts, recovery_notify, priority, schedule)
     VALUES (?, 'regex', 'caf', 1, 86400, 1, 0, 1, 3, NULL)`,
    [safeInput('Tcaf')],
  );
  const echo = await shellAction(
    'Echo action',
    `echo _field1_ _agent_ _module_ _data_ _alert_times_fired_ >> ${files.out}`,
  );
  const echoText = await shellAction(
    'Echo data action',
    `echo _field1_ _module_ _data_ >> ${files.text}`,
  );
  return {
    a: await alert('cpu', tmax, echo),
    b: await alert('load', 1, 3),
    c: await alert('msg', tcaf, echoText),
  };
}

/**
 * Keys whose values differ between two servers by nature: clocks, the datum's time, who wrote
 * the row. Compared by presence only.
 */
const INCIDENTAL = new Set([
  'ultimo_contacto',
  'ultimo_contacto_remoto',
  'last_compact',
  // The alert's fire time (recovered rows): each server's clock at its own run.
  'last_fired',
  'last_reference',
  'server_name',
  '_modulelaststatuschange_',
]);

export interface RowDifference {
  /** `#i.key` (or `#i`) */
  readonly where: string;
  readonly ours: unknown;
  readonly reference: unknown;
  /** Same text, other JSON type (`"300"` against `300`): the Perl consumer reads both alike. */
  readonly typeOnly: boolean;
}

/** Every difference between two decoded §5.2 arrays, except incidental values and `#5`. */
export function diffQueueRows(ours: unknown[], reference: unknown[]): RowDifference[] {
  const out: RowDifference[] = [];
  const compare = (where: string, a: unknown, b: unknown): void => {
    if (JSON.stringify(a) === JSON.stringify(b)) return;
    const scalar = (x: unknown) => typeof x === 'number' || typeof x === 'string';
    const typeOnly = scalar(a) && scalar(b) && String(a) === String(b);
    out.push({ where, ours: a, reference: b, typeOnly });
  };
  for (let i = 0; i < Math.max(ours.length, reference.length); i++) {
    const a = ours[i];
    const b = reference[i];
    if (i === 5) continue; // the datum's timestamp text
    if (isObject(a) && isObject(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
        const where = `#${i}.${key}`;
        if (!(key in a) || !(key in b)) {
          out.push({ where, ours: a[key], reference: b[key], typeOnly: false });
        } else if (!INCIDENTAL.has(key)) compare(where, a[key], b[key]);
      }
    } else compare(`#${i}`, a, b);
  }
  return out;
}

function isObject(value: unknown): value is Row {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
