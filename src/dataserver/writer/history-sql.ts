import type { IncrementalWrite, PacketOutcome } from '../types.js';
import { chunks } from './insert-ids.js';
import { clamp, fmt } from './sql-values.js';

/** SQL for the data tables: tagente_datos, tagente_datos_string and tagente_datos_inc. */

/** The history rows of a batch, gathered outcome by outcome, then written by {@link historyStatements}. */
export interface HistoryRows {
  readonly numeric: unknown[][];
  readonly strings: unknown[][];
  readonly incInserts: unknown[][];
}

export const emptyHistoryRows = (): HistoryRows => ({ numeric: [], strings: [], incInserts: [] });

/** Adds one outcome's history rows; an existing incremental sample is updated in place (to `sql`). */
export function addHistory(o: PacketOutcome, rows: HistoryRows, sql: string[]): void {
  for (const w of o.incrementalWrites) addIncremental(w, rows, sql);
  for (const h of o.numericHistory) rows.numeric.push([h.ref.id, h.datos, h.utimestamp]);
  for (const h of o.stringHistory) {
    rows.strings.push([h.ref.id, h.datos, clamp(h.utimestamp, 0, 4294967295)]);
  }
}

function addIncremental(w: IncrementalWrite, rows: HistoryRows, sql: string[]): void {
  const sample = [w.sample.datos, clamp(w.sample.utimestamp, 0, 4294967295)];
  if (w.insert) rows.incInserts.push([w.ref.id, ...sample]);
  else {
    sql.push(
      fmt('UPDATE tagente_datos_inc SET datos = ?, utimestamp = ? WHERE id_agente_modulo = ?', [
        ...sample,
        w.ref.id,
      ]),
    );
  }
}

export function historyStatements(rows: HistoryRows, sql: string[]): void {
  for (const c of chunks(rows.incInserts)) {
    sql.push(
      fmt('INSERT INTO tagente_datos_inc (id_agente_modulo, datos, utimestamp) VALUES ?', [c]),
    );
  }
  for (const c of chunks(rows.numeric)) {
    sql.push(fmt('INSERT INTO tagente_datos (id_agente_modulo, datos, utimestamp) VALUES ?', [c]));
  }
  for (const c of chunks(rows.strings)) {
    sql.push(
      fmt('INSERT INTO tagente_datos_string (id_agente_modulo, datos, utimestamp) VALUES ?', [c]),
    );
  }
}
