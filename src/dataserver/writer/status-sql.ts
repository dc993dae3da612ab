import type { ModuleStatus, StatusWrite } from '../types.js';
import { chunks } from './insert-ids.js';
import { clamp, sqlLiteral, sqlRows } from './sql-values.js';

/**
 * SQL for the tagente_estado rows of a batch. Every module of every packet gets its status row
 * rewritten (the reference does the same, one UPDATE per module), which made the status write
 * the largest database cost of a steady packet: a 22-column upsert of 33 rows cost MariaDB
 * 0.8 ms of CPU per packet on the 2-core bench machine. Most of those rows differ from the row
 * already stored only in the packet's times, identical for every module of the packet, so rows
 * whose changed columns and values coincide are written as one
 * `UPDATE … SET <changed> WHERE id_agente_estado IN (…)`, and only the rest as the upsert
 * (0.37 ms per packet for the same rows, 3,000 agents x 33 modules, 50 packets a transaction).
 *
 * "Stored" is the status the cache holds for the module, which the batch has verified against
 * the database (ledger stamp, module and status signatures) under the agent's row lock.
 */

export const STATUS_COLUMNS = [
  'id_agente_estado',
  'id_agente_modulo',
  'id_agente',
  'datos',
  'timestamp',
  'estado',
  'known_status',
  'last_status',
  'last_known_status',
  'status_changes',
  'last_try',
  'utimestamp',
  'current_interval',
  'running_by',
  'last_execution_try',
  'last_error',
  'ff_start_utimestamp',
  'ff_normal',
  'ff_warning',
  'ff_critical',
  'last_status_change',
  'warning_count',
] as const;

export const STATUS_INSERT_COLUMNS = STATUS_COLUMNS.slice(1);

/** Rows sharing one change are grouped from this many on; fewer go to the upsert. */
export const MIN_GROUPED_ROWS = 4;

/** The value written for each status column from `datos` on (STATUS_COLUMNS[3..]), clamped. */
const STATUS_VALUE_OF: readonly ((s: ModuleStatus) => unknown)[] = [
  (s) => s.datos,
  (s) => s.timestamp,
  (s) => s.estado,
  (s) => s.knownStatus,
  (s) => s.lastStatus,
  (s) => s.lastKnownStatus,
  (s) => clamp(s.statusChanges, 0, 255),
  (s) => s.lastTry,
  (s) => s.utimestamp,
  (s) => clamp(s.currentInterval, 0, 4294967295),
  (s) => clamp(s.runningBy, 0, 65535),
  (s) => s.lastExecutionTry,
  (s) => s.lastError,
  (s) => s.ffStartUtimestamp,
  (s) => clamp(s.ffNormal, 0, 4294967295),
  (s) => clamp(s.ffWarning, 0, 4294967295),
  (s) => clamp(s.ffCritical, 0, 4294967295),
  (s) => s.lastStatusChange,
  (s) => clamp(s.warningCount, 0, 4294967295),
];
const FIRST_VALUE_COLUMN = STATUS_COLUMNS.length - STATUS_VALUE_OF.length;

/** The column values of a write's status row (clamped to the column types). */
export function statusRow(w: StatusWrite): unknown[] {
  const row: unknown[] = [w.statusRef.id || null, w.ref.id, w.agentRef.id];
  for (const value of STATUS_VALUE_OF) row.push(value(w.status));
  return row;
}

/** `col = value, …` of `next` for the columns of `mask` (bit i: STATUS_VALUE_OF[i]). */
function setClause(mask: number, next: ModuleStatus): string {
  let set = '';
  for (let i = 0; i < STATUS_VALUE_OF.length; i++) {
    const value = STATUS_VALUE_OF[i];
    if ((mask & (1 << i)) === 0 || value === undefined) continue;
    const column = STATUS_COLUMNS[FIRST_VALUE_COLUMN + i] ?? '';
    set += `${set === '' ? '' : ', '}\`${column}\` = ${sqlLiteral(value(next))}`;
  }
  return set;
}

/** Bit i set: column STATUS_VALUE_OF[i] of `next` differs from `stored` (0 when none does). */
function changedMask(next: ModuleStatus, stored: ModuleStatus): number {
  let mask = 0;
  for (let i = 0; i < STATUS_VALUE_OF.length; i++) {
    const value = STATUS_VALUE_OF[i];
    if (value !== undefined && value(next) !== value(stored)) mask |= 1 << i;
  }
  return mask;
}

/** `a` and `b` hold the same values in the columns of `mask`: the same `SET` clause. */
function sameInColumns(mask: number, a: ModuleStatus, b: ModuleStatus): boolean {
  for (let i = 0; i < STATUS_VALUE_OF.length; i++) {
    const value = STATUS_VALUE_OF[i];
    if ((mask & (1 << i)) !== 0 && value !== undefined && value(a) !== value(b)) return false;
  }
  return true;
}

/** The group a row joined last: the next row of the same packet most often joins it too. */
interface RecentGroup {
  readonly mask: number;
  readonly status: ModuleStatus;
  readonly rows: StatusWrite[];
}

const STATUS_UPSERT_HEAD = `INSERT INTO tagente_estado (${STATUS_COLUMNS.map((c) => `\`${c}\``).join(', ')}) VALUES `;
const STATUS_UPSERT_TAIL = ` ON DUPLICATE KEY UPDATE ${STATUS_COLUMNS.slice(1)
  .map((c) => `\`${c}\` = VALUES(\`${c}\`)`)
  .join(', ')}`;

/** Statements that bring the existing status rows of `writes` (no inserts) up to date. */
export function statusUpdateStatements(writes: readonly StatusWrite[]): string[] {
  const full: unknown[][] = [];
  /** `SET` clause → the rows that need exactly it. */
  const groups = new Map<string, StatusWrite[]>();
  // Rows of one packet mostly change alike (the packet's times), so a row is first compared,
  // value by value, with the group the previous row joined; only a row that differs from it
  // builds its SET text to find or start its group (equal values give equal text).
  let recent: RecentGroup | undefined;
  for (const w of writes) {
    if (w.stored === undefined || w.statusRef.id === 0) {
      full.push(statusRow(w));
      continue;
    }
    const mask = changedMask(w.status, w.stored);
    if (mask === 0) continue; // the stored row already says exactly this
    if (recent?.mask === mask && sameInColumns(mask, recent.status, w.status)) {
      recent.rows.push(w);
      continue;
    }
    const set = setClause(mask, w.status);
    let group = groups.get(set);
    if (group === undefined) {
      group = [];
      groups.set(set, group);
    }
    group.push(w);
    recent = { mask, status: w.status, rows: group };
  }
  const sql: string[] = [];
  for (const [set, group] of groups) {
    if (group.length < MIN_GROUPED_ROWS) {
      for (const w of group) full.push(statusRow(w));
      continue;
    }
    for (const c of chunks(group)) {
      const ids = c.map((w) => w.statusRef.id).join(',');
      sql.push(`UPDATE tagente_estado SET ${set} WHERE id_agente_estado IN (${ids})`);
    }
  }
  for (const c of chunks(full)) sql.push(STATUS_UPSERT_HEAD + sqlRows(c) + STATUS_UPSERT_TAIL);
  return sql;
}
