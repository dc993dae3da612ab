import { accessSync, constants as fsConstants, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import tls from 'node:tls';
import mysql from 'mysql2/promise';
import { describeError, type SettingsTable } from '../core/index.js';
import { connectionOptions, type DbConnectionConfig } from '../db/index.js';
import {
  resolveTentacleConfig,
  type TentacleServerOptions,
  type TentacleTlsOptions,
} from '../tentacle/index.js';

/**
 * `tentacle-ingest serve --check-config`, after `zabbix_server -T`: everything `serve` would
 * trip over at start, checked without starting anything, then the settings it would run with.
 */

type Status = 'ok' | 'warn' | 'FAIL';

interface Finding {
  readonly status: Status;
  readonly text: string;
}

export interface CheckConfigInput {
  readonly confPath: string | undefined;
  readonly table: SettingsTable;
  readonly values: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Start-up warnings already known (ignored and unknown keys). */
  readonly warnings: readonly string[];
  readonly db: DbConnectionConfig & { readonly database: string };
  readonly incomingDir: string;
  /** Builds the built-in listener's options (reads tentacle_config); undefined: tentacle 0. */
  readonly listener: () => TentacleServerOptions | undefined;
  readonly logFile: string | undefined;
  readonly pidFile: string | undefined;
  readonly connectTimeoutMs?: number;
}

export interface CheckConfigResult {
  readonly ok: boolean;
  readonly report: string;
}

const MASK = '********';

async function checkDatabase(
  db: CheckConfigInput['db'],
  connectTimeoutMs: number,
): Promise<Finding> {
  const where = `${db.user}@${db.host}:${String(db.port)}/${db.database}`;
  let conn: mysql.Connection;
  try {
    conn = await mysql.createConnection({
      ...connectionOptions({ host: db.host, port: db.port, user: db.user, password: db.password }),
      connectTimeout: connectTimeoutMs,
    });
  } catch (err) {
    return { status: 'FAIL', text: `database login ${where}: ${describeError(err).message}` };
  }
  try {
    const [dbs] = await conn.query<mysql.RowDataPacket[]>('SHOW DATABASES LIKE ?', [db.database]);
    if (dbs.length === 0) {
      return { status: 'ok', text: `database login ${where}; the database is created at start` };
    }
    const [tables] = await conn.query<mysql.RowDataPacket[]>(
      "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = 'tagente'",
      [db.database],
    );
    const schema = tables.length > 0 ? 'Pandora schema present' : 'empty: tables created at start';
    return { status: 'ok', text: `database login ${where}; ${schema}` };
  } catch (err) {
    return { status: 'FAIL', text: `database ${where}: ${describeError(err).message}` };
  } finally {
    await conn.end().catch(() => undefined);
  }
}

function writable(path: string): string | undefined {
  try {
    accessSync(path, fsConstants.W_OK);
    return undefined;
  } catch (err) {
    return describeError(err).message;
  }
}

function checkFolder(what: string, dir: string, mayBeCreated: boolean): Finding {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch {
    return mayBeCreated
      ? { status: 'warn', text: `${what} ${dir} does not exist; created at start` }
      : { status: 'FAIL', text: `${what} ${dir} does not exist` };
  }
  if (!isDirectory) return { status: 'FAIL', text: `${what} ${dir} is not a directory` };
  const problem = writable(dir);
  return problem === undefined
    ? { status: 'ok', text: `${what} ${dir} exists and is writable` }
    : { status: 'FAIL', text: `${what} ${dir} is not writable: ${problem}` };
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * A file serve appends to or creates (with its missing folders): the file if it is there,
 * else its nearest existing folder, must be writable.
 */
function checkOutputFile(what: string, path: string): Finding {
  let target = path;
  while (!exists(target) && dirname(target) !== target) target = dirname(target);
  const problem = writable(target);
  return problem === undefined
    ? { status: 'ok', text: `${what} ${path} can be written` }
    : { status: 'FAIL', text: `${what} ${path} cannot be written: ${problem}` };
}

/** Readable PEM files, and a certificate and key that belong together. */
function checkTls(options: TentacleTlsOptions): Finding {
  const files: [string, string | undefined][] = [
    ['ssl_cert', options.cert],
    ['ssl_key', options.key],
    ['ssl_ca', options.ca],
  ];
  const pem = new Map<string, Buffer>();
  for (const [key, path] of files) {
    if (path === undefined) continue;
    try {
      pem.set(key, readFileSync(path));
    } catch (err) {
      return { status: 'FAIL', text: `TLS ${key} ${path}: ${describeError(err).message}` };
    }
  }
  const cert = pem.get('ssl_cert');
  const ca = pem.get('ssl_ca');
  try {
    tls.createSecureContext({
      ...(cert ? { cert } : {}),
      key: pem.get('ssl_key') ?? cert,
      ...(ca ? { ca } : {}),
    });
  } catch (err) {
    return { status: 'FAIL', text: `TLS certificate and key: ${describeError(err).message}` };
  }
  return { status: 'ok', text: `TLS files readable; certificate and key match (${options.cert})` };
}

function checkListener(input: CheckConfigInput): Finding[] {
  let options: TentacleServerOptions | undefined;
  try {
    options = input.listener();
  } catch (err) {
    return [{ status: 'FAIL', text: `built-in listener: ${describeError(err).message}` }];
  }
  if (options === undefined) return [{ status: 'ok', text: 'built-in listener off (tentacle 0)' }];
  const findings: Finding[] = [];
  if (options.tls) findings.push(checkTls(options.tls));
  try {
    // Addresses, filters, limits: everything but the TLS files (checked above) and the folder.
    resolveTentacleConfig({ ...options, tls: undefined, directory: process.cwd() });
    const where = `${String(options.addresses ?? '')} port ${String(options.port ?? '')}`;
    findings.push({ status: 'ok', text: `built-in listener settings valid (${where})` });
  } catch (err) {
    findings.push({ status: 'FAIL', text: `built-in listener: ${describeError(err).message}` });
  }
  return findings;
}

/** `key value` lines in the configuration file's own syntax, secrets masked. */
export function effectiveSettings(
  table: SettingsTable,
  values: Readonly<Record<string, string | number | boolean | undefined>>,
): string[] {
  const lines: string[] = [];
  for (const [key, spec] of Object.entries(table)) {
    const value = values[key];
    if (value === undefined) continue;
    const shown = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
    lines.push(`${key} ${spec.secret && shown !== '' ? MASK : shown}`);
  }
  return lines;
}

export async function checkConfig(input: CheckConfigInput): Promise<CheckConfigResult> {
  const findings: Finding[] = [
    {
      status: 'ok',
      text:
        input.confPath === undefined
          ? 'no configuration file: built-in defaults, environment and flags'
          : `configuration file ${input.confPath} read; every value valid`,
    },
    ...input.warnings.map((text): Finding => ({ status: 'warn', text })),
    await checkDatabase(input.db, input.connectTimeoutMs ?? 5000),
    checkFolder('incomingdir', input.incomingDir, input.confPath === undefined),
    ...(input.logFile === undefined ? [] : [checkOutputFile('log_file', input.logFile)]),
    ...(input.pidFile === undefined ? [] : [checkOutputFile('PID file', input.pidFile)]),
    ...checkListener(input),
  ];
  const failures = findings.filter((f) => f.status === 'FAIL').length;
  const report = [
    'checks:',
    ...findings.map((f) => `  ${f.status.padEnd(4)}  ${f.text}`),
    '',
    'effective settings (command line > environment > file > default):',
    ...effectiveSettings(input.table, input.values).map((line) => `  ${line}`),
    '',
    failures === 0 ? 'configuration OK' : `configuration has ${String(failures)} problem(s)`,
  ].join('\n');
  return { ok: failures === 0, report: `${report}\n` };
}
