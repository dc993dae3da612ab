/**
 * What the database accepts in every column the dataserver fills from agent-supplied data: one
 * table, kept next to schema.ts and checked against the live schema (information_schema) by
 * test/dataserver/column-limits.test.ts, so the two cannot drift apart. The dataserver fits a
 * packet to it before the batch (src/dataserver/logic/schema-fit.ts): under strict SQL mode a
 * value past a limit is an error that fails the whole batch, where the reference's non-strict
 * MySQL silently truncated or clamped it.
 */

/** A VARCHAR holds characters (code points); the TEXT family holds bytes (UTF-8 here). */
export type TextLimit =
  | { readonly type: 'varchar'; readonly chars: number }
  | { readonly type: 'tinytext' | 'text' | 'mediumtext'; readonly bytes: number };

export type IntegerType = 'tinyint' | 'smallint' | 'int' | 'bigint';

export type ColumnLimit =
  | TextLimit
  | { readonly type: IntegerType; readonly unsigned: boolean }
  | { readonly type: 'double' }
  | { readonly type: 'datetime' };

const varchar = (chars: number): TextLimit => ({ type: 'varchar', chars });
const TINYTEXT: TextLimit = { type: 'tinytext', bytes: 255 };
const TEXT: TextLimit = { type: 'text', bytes: 65_535 };
const MEDIUMTEXT: TextLimit = { type: 'mediumtext', bytes: 16_777_215 };
const INT_UNSIGNED = { type: 'int', unsigned: true } as const;
const TINYINT = { type: 'tinyint', unsigned: false } as const;
const BIGINT = { type: 'bigint', unsigned: false } as const;
const DOUBLE = { type: 'double' } as const;
const DATETIME = { type: 'datetime' } as const;

/** Every text column of agent-supplied data has this charset: 4-byte characters fit. */
export const TEXT_CHARSET = 'utf8mb4';

export const COLUMN_LIMITS = {
  tagente: {
    nombre: varchar(600),
    alias: varchar(600),
    direccion: varchar(100),
    comentarios: varchar(255),
    custom_id: varchar(255),
    url_address: MEDIUMTEXT,
    os_version: varchar(100),
    agent_version: varchar(100),
    intervalo: INT_UNSIGNED,
    timezone_offset: TINYINT,
    ultimo_contacto_remoto: DATETIME,
  },
  taddress: { ip: varchar(60) },
  tagent_custom_data: { description: TEXT },
  tagente_modulo: {
    nombre: TEXT,
    descripcion: TEXT,
    extended_info: TEXT,
    unit: TEXT,
    str_warning: TEXT,
    str_critical: TEXT,
    custom_id: varchar(255),
    cron_interval: varchar(100),
    critical_instructions: TEXT,
    warning_instructions: TEXT,
    unknown_instructions: TEXT,
    module_interval: INT_UNSIGNED,
    min: BIGINT,
    max: BIGINT,
    post_process: DOUBLE,
    min_warning: DOUBLE,
    max_warning: DOUBLE,
    min_critical: DOUBLE,
    max_critical: DOUBLE,
  },
  tagente_estado: { datos: MEDIUMTEXT, timestamp: DATETIME, last_try: DATETIME },
  tagente_datos: { datos: DOUBLE, utimestamp: BIGINT },
  tagente_datos_string: { datos: MEDIUMTEXT, utimestamp: INT_UNSIGNED },
  tagente_datos_inc: { datos: DOUBLE, utimestamp: INT_UNSIGNED },
  tevento: { evento: TEXT, data: TINYTEXT, tags: TEXT },
} as const satisfies Record<string, Record<string, ColumnLimit>>;

/**
 * Integer range of a column type as JS numbers. BIGINT's bounds are the doubles nearest inside
 * ±2^63 whose shortest decimal form (what the SQL text carries) stays inside too: 2^63 − 1 is
 * not a double, and −2^63 prints as -9223372036854776000, which the column refuses.
 */
export function integerRange(limit: {
  type: IntegerType;
  unsigned: boolean;
}): readonly [number, number] {
  const bits = { tinyint: 8, smallint: 16, int: 32, bigint: 64 }[limit.type];
  if (bits === 64) return limit.unsigned ? [0, 2 ** 64 - 2048] : [1024 - 2 ** 63, 2 ** 63 - 1024];
  return limit.unsigned ? [0, 2 ** bits - 1] : [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1];
}

/** DATETIME holds years 0000–9999 as text `YYYY-MM-DD HH:MM:SS`. */
export const DATETIME_MAX_YEAR = 9999;

/** Size of `text` in the limit's unit (code points or UTF-8 bytes). */
export function textSize(text: string, limit: TextLimit): number {
  if (limit.type === 'varchar') {
    let n = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      const next = text.charCodeAt(i + 1);
      if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++; // one pair
      n++;
    }
    return n;
  }
  return Buffer.byteLength(text, 'utf8');
}

/** True when `text` fits the column; cheap for short text (no scan). */
export function fitsColumn(text: string, limit: TextLimit): boolean {
  // A UTF-16 unit is at most one code point and at most 3 UTF-8 bytes (a pair: 2 units, 4).
  if (limit.type === 'varchar' ? text.length <= limit.chars : text.length * 3 <= limit.bytes) {
    return true;
  }
  return textSize(text, limit) <= (limit.type === 'varchar' ? limit.chars : limit.bytes);
}

/** `text` cut to the column's limit on a character boundary (never half a surrogate pair). */
export function fitToColumn(text: string, limit: TextLimit): string {
  if (fitsColumn(text, limit)) return text;
  const max = limit.type === 'varchar' ? limit.chars : limit.bytes;
  let used = 0;
  let end = 0;
  while (end < text.length) {
    const c = text.charCodeAt(end);
    const next = text.charCodeAt(end + 1); // NaN past the end
    const pair = c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff;
    const units = pair ? 2 : 1;
    const size = limit.type === 'varchar' ? 1 : c < 0x80 ? 1 : c < 0x800 ? 2 : pair ? 4 : 3;
    if (used + size > max) break;
    used += size;
    end += units;
  }
  return text.slice(0, end);
}

/** A `&…` entity cut short by truncation, at the very end of the text. */
const PARTIAL_ENTITY = /&[#0-9A-Za-z]*$/;

/**
 * An entity-encoded value (safe_input) cut to the column: as fitToColumn, then without an entity
 * the cut left half-written (`&#x2`), which the console would show as garbage.
 */
export function fitEncodedToColumn(text: string, limit: TextLimit): string {
  if (fitsColumn(text, limit)) return text;
  return fitToColumn(text, limit).replace(PARTIAL_ENTITY, '');
}

/** A human description of a limit, for logs and events: "600 characters", "65535 bytes". */
export function describeLimit(limit: TextLimit): string {
  return limit.type === 'varchar'
    ? `${String(limit.chars)} characters`
    : `${String(limit.bytes)} bytes`;
}

/** One information_schema.COLUMNS row, as read by {@link columnLimitMismatches}. */
export interface LiveColumn {
  readonly TABLE_NAME: string;
  readonly COLUMN_NAME: string;
  readonly DATA_TYPE: string;
  readonly COLUMN_TYPE: string;
  readonly CHARACTER_MAXIMUM_LENGTH: number | string | null;
  readonly CHARACTER_OCTET_LENGTH: number | string | null;
  readonly CHARACTER_SET_NAME: string | null;
}

/** SQL reading the live definition of every column of {@link COLUMN_LIMITS} (one `?`: schema). */
export const LIVE_COLUMNS_SQL =
  'SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_MAXIMUM_LENGTH, ' +
  'CHARACTER_OCTET_LENGTH, CHARACTER_SET_NAME FROM information_schema.COLUMNS ' +
  `WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (${Object.keys(COLUMN_LIMITS)
    .map((t) => `'${t}'`)
    .join(', ')})`;

/**
 * Where the live schema disagrees with {@link COLUMN_LIMITS} (a missing column, another type,
 * a shorter length, a charset that cannot hold 4-byte characters); [] when it agrees.
 */
export function columnLimitMismatches(live: readonly LiveColumn[]): string[] {
  const byName = new Map(live.map((c) => [`${c.TABLE_NAME}.${c.COLUMN_NAME}`, c]));
  const out: string[] = [];
  for (const [table, columns] of Object.entries(COLUMN_LIMITS)) {
    for (const [column, limit] of Object.entries(columns) as [string, ColumnLimit][]) {
      const name = `${table}.${column}`;
      const c = byName.get(name);
      if (c === undefined) {
        out.push(`${name}: missing`);
        continue;
      }
      const type = c.DATA_TYPE.toLowerCase();
      if (type !== limit.type) out.push(`${name}: ${type}, expected ${limit.type}`);
      if (
        'unsigned' in limit &&
        c.COLUMN_TYPE.toLowerCase().includes('unsigned') !== limit.unsigned
      )
        out.push(`${name}: ${c.COLUMN_TYPE}, expected ${limit.unsigned ? '' : 'not '}unsigned`);
      if (limit.type === 'varchar' && Number(c.CHARACTER_MAXIMUM_LENGTH) !== limit.chars)
        out.push(
          `${name}: ${String(c.CHARACTER_MAXIMUM_LENGTH)} characters, expected ${String(limit.chars)}`,
        );
      if ('bytes' in limit && Number(c.CHARACTER_OCTET_LENGTH) !== limit.bytes)
        out.push(
          `${name}: ${String(c.CHARACTER_OCTET_LENGTH)} bytes, expected ${String(limit.bytes)}`,
        );
      if (('chars' in limit || 'bytes' in limit) && c.CHARACTER_SET_NAME !== TEXT_CHARSET)
        out.push(`${name}: charset ${String(c.CHARACTER_SET_NAME)}, expected ${TEXT_CHARSET}`);
    }
  }
  return out;
}
