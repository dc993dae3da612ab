import { NAME_MAX_BYTES } from '../spool-writer.js';

/**
 * The bytes of the Tentacle wire (spec §3): every reply and command prefix, preallocated, and
 * the checks that read a command line. Pure: no session state.
 */

export function ascii(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

/** Constant replies (spec §3.8). */
export const Reply = {
  passOk: ascii('PASS OK\n'),
  quit: ascii('QUIT\n'),
  lsErr: ascii('LS ERR\n'),
  mvErr: ascii('MV ERR\n'),
} as const;

export interface UploadKind {
  readonly compressed: boolean;
  readonly prefix: Buffer;
  readonly ok: Buffer;
  readonly errName: Buffer;
  readonly errBig: Buffer;
  readonly errExists: Buffer;
  /** Storage failure after the body, and (ZSEND) an archive that cannot be unpacked. */
  readonly err: Buffer;
}

function uploadKind(cmd: 'SEND' | 'ZSEND'): UploadKind {
  return {
    compressed: cmd === 'ZSEND',
    prefix: ascii(`${cmd} <`),
    ok: ascii(`${cmd} OK\n`),
    errName: ascii(`${cmd} ERR (invalid file name)\n`),
    errBig: ascii(`${cmd} ERR (file is too big)\n`),
    errExists: ascii(`${cmd} ERR (file already exists)\n`),
    err: ascii(`${cmd} ERR\n`),
  };
}

export const SEND = uploadKind('SEND');
export const ZSEND = uploadKind('ZSEND');

export interface DownloadKind {
  readonly cmd: 'RECV' | 'ZRECV' | 'MV';
  readonly prefix: Buffer;
  readonly sizePrefix: string;
  readonly confirm: Buffer;
  readonly errName: Buffer;
  readonly errMissing: Buffer;
}

function downloadKind(cmd: 'RECV' | 'ZRECV' | 'MV'): DownloadKind {
  const isMv = cmd === 'MV';
  return {
    cmd,
    prefix: ascii(`${cmd} <`),
    sizePrefix: `${cmd} SIZE `,
    confirm: ascii(`${cmd} OK`),
    errName: isMv ? Reply.mvErr : ascii(`${cmd} ERR (file has an invalid file name)\n`),
    errMissing: isMv ? Reply.mvErr : ascii(`${cmd} ERR (file does not exist)\n`),
  };
}

export const RECV = downloadKind('RECV');
export const ZRECV = downloadKind('ZRECV');
export const MV = downloadKind('MV');
export const LS_PREFIX = ascii('LS <');
export const LS_CONFIRM = ascii('LS OK');
export const QUIT = ascii('QUIT');
export const SLASH = ascii('/');
export const LF_BUF = ascii('\n');
export const DOT_ENTRIES = ascii('.\n..\n');
const SIZE_SEPARATOR = ascii('> SIZE ');
const GT = 0x3e;

/** True when the byte is whitespace Perl's 2-argument open would strip from a name's end. */
function isTrailingSpace(b: number): boolean {
  return b === 0x20 || (b >= 0x09 && b <= 0x0d);
}

export function hasForbidden(name: Buffer, forbidden: Uint8Array): boolean {
  for (let i = 0; i < name.length; i++) if (forbidden[name[i] ?? 0] === 1) return true;
  return false;
}

/**
 * Upload names we refuse although the reference lets them through its character check:
 * the reference stores them wrongly or drops the connection after the body (spec §4.2, §15
 * cases 26, 27, 29).
 */
export function isUnstorableName(name: Buffer): boolean {
  if (name.length === 0 || name.length > NAME_MAX_BYTES) return true;
  if (name.length <= 2 && name.every((b) => b === 0x2e)) return true;
  if (name.includes(0)) return true;
  return isTrailingSpace(name[name.length - 1] ?? 0);
}

/** `SEND <name> SIZE digits`: name = up to the last `> SIZE `, digits = one or more ASCII digits. */
export function parseUploadLine(
  line: Buffer,
  prefixLength: number,
): { name: Buffer; digits: Buffer } | undefined {
  const sep = line.lastIndexOf(SIZE_SEPARATOR);
  if (sep < prefixLength) return undefined;
  const digits = line.subarray(sep + SIZE_SEPARATOR.length);
  if (digits.length === 0) return undefined;
  for (const d of digits) if (d < 0x30 || d > 0x39) return undefined;
  return { name: line.subarray(prefixLength, sep), digits };
}

/** `RECV <name>`: the line must end in `>`. */
export function parseNameLine(line: Buffer, prefixLength: number): Buffer | undefined {
  if (line.length <= prefixLength || line[line.length - 1] !== GT) return undefined;
  return line.subarray(prefixLength, line.length - 1);
}

/** The size from its digits, or 0 when it is 0 or above `max` (both "too big"). */
export function parseSize(digits: Buffer, max: number): number {
  let start = 0;
  while (start < digits.length - 1 && digits[start] === 0x30) start++;
  if (digits.length - start > 15) return 0;
  const n = Number(digits.toString('latin1', start));
  return n > max ? 0 : n;
}

/** True when `line` starts with `prefix`. */
export function startsWith(line: Buffer, prefix: Buffer): boolean {
  return line.subarray(0, prefix.length).equals(prefix);
}
