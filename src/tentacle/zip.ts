import { basename } from 'node:path';
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { ErrorCode, PandoraError } from '../core/index.js';

/**
 * The PKZIP container Tentacle uses for ZSEND/ZRECV (spec tentacle.md §6): a single member.
 * Reading prefers the central directory (sizes and method are reliable there) and falls back
 * to inflating from the first local header when there is none; methods 0 (stored) and 8
 * (deflate). The decompressed size is capped, because the reference's lack of a cap lets a
 * 48 KB upload become a 50 MB file (zip bomb).
 */

const LOCAL_HEADER_SIG = 0x04034b50;
const CENTRAL_HEADER_SIG = 0x02014b50;
const END_OF_CENTRAL_DIR_SIG = 0x06054b50;
const LOCAL_HEADER_BYTES = 30;
const CENTRAL_HEADER_BYTES = 46;
const END_OF_CENTRAL_DIR_BYTES = 22;
const MAX_ZIP_COMMENT_BYTES = 0xffff;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;
const FLAG_DATA_DESCRIPTOR = 0x0008;
const FLAG_UTF8_NAME = 0x0800;

export function isZip(buf: Uint8Array): boolean {
  return (
    buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04
  );
}

function invalid(message: string): PandoraError {
  return new PandoraError(ErrorCode.ZipInvalid, `invalid ZIP archive: ${message}`);
}

function tooLarge(maxBytes: number): PandoraError {
  return new PandoraError(
    ErrorCode.ZipTooLarge,
    `ZIP member decompresses to more than ${maxBytes} bytes`,
  );
}

interface MemberLocation {
  method: number;
  compressedSize: number | undefined;
  uncompressedSize: number | undefined;
  dataStart: number;
}

function findEndOfCentralDirectory(buf: Buffer): number {
  const lowest = Math.max(0, buf.length - END_OF_CENTRAL_DIR_BYTES - MAX_ZIP_COMMENT_BYTES);
  for (let at = buf.length - END_OF_CENTRAL_DIR_BYTES; at >= lowest; at--) {
    if (buf.readUInt32LE(at) === END_OF_CENTRAL_DIR_SIG) return at;
  }
  return -1;
}

function dataStartOfLocalHeader(buf: Buffer, offset: number): number {
  if (offset + LOCAL_HEADER_BYTES > buf.length || buf.readUInt32LE(offset) !== LOCAL_HEADER_SIG) {
    throw invalid('local header missing');
  }
  const nameLength = buf.readUInt16LE(offset + 26);
  const extraLength = buf.readUInt16LE(offset + 28);
  const dataStart = offset + LOCAL_HEADER_BYTES + nameLength + extraLength;
  if (dataStart > buf.length) throw invalid('local header runs past the end');
  return dataStart;
}

/** The first member as the central directory describes it, or undefined when there is none. */
function locateFromCentralDirectory(buf: Buffer): MemberLocation | undefined {
  const eocd = findEndOfCentralDirectory(buf);
  if (eocd < 0) return undefined;
  const entries = buf.readUInt16LE(eocd + 10);
  const centralOffset = buf.readUInt32LE(eocd + 16);
  if (entries === 0) return undefined;
  if (
    centralOffset + CENTRAL_HEADER_BYTES > buf.length ||
    buf.readUInt32LE(centralOffset) !== CENTRAL_HEADER_SIG
  ) {
    return undefined;
  }
  const localOffset = buf.readUInt32LE(centralOffset + 42);
  return {
    method: buf.readUInt16LE(centralOffset + 10),
    compressedSize: buf.readUInt32LE(centralOffset + 20),
    uncompressedSize: buf.readUInt32LE(centralOffset + 24),
    dataStart: dataStartOfLocalHeader(buf, localOffset),
  };
}

function locateFromLocalHeader(buf: Buffer): MemberLocation {
  const flags = buf.readUInt16LE(6);
  const hasDescriptor = (flags & FLAG_DATA_DESCRIPTOR) !== 0;
  return {
    method: buf.readUInt16LE(8),
    compressedSize: hasDescriptor ? undefined : buf.readUInt32LE(18),
    uncompressedSize: hasDescriptor ? undefined : buf.readUInt32LE(22),
    dataStart: dataStartOfLocalHeader(buf, 0),
  };
}

/**
 * Returns the first member's bytes, refusing more than `maxBytes` of output. Throws
 * ERR_ZIP_INVALID for anything that is not a readable single-member archive and
 * ERR_ZIP_TOO_LARGE past the cap.
 */
export function unzipFirstMember(buf: Buffer, maxBytes: number): Buffer {
  if (!isZip(buf) || buf.length < LOCAL_HEADER_BYTES) throw invalid('no local header');
  const member = locateFromCentralDirectory(buf) ?? locateFromLocalHeader(buf);
  if (member.uncompressedSize !== undefined && member.uncompressedSize > maxBytes) {
    throw tooLarge(maxBytes);
  }
  const end =
    member.compressedSize === undefined ? buf.length : member.dataStart + member.compressedSize;
  if (end > buf.length) throw invalid('member data runs past the end');
  const data = buf.subarray(member.dataStart, end);
  switch (member.method) {
    case METHOD_STORED:
      if (member.compressedSize === undefined) throw invalid('stored member without sizes');
      if (data.length > maxBytes) throw tooLarge(maxBytes);
      return Buffer.from(data);
    case METHOD_DEFLATE:
      try {
        // Inflate stops at the end of the deflate stream; what follows (descriptor, central
        // directory) is ignored, which is what we want when sizes are unknown.
        return inflateRawSync(data, { maxOutputLength: Math.max(1, maxBytes) });
      } catch (err) {
        if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(maxBytes);
        throw invalid((err as Error).message);
      }
    default:
      throw invalid(`compression method ${member.method} is not supported`);
  }
}

function dosDateTime(date: Date): { time: number; day: number } {
  const year = Math.max(1980, date.getFullYear());
  return {
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1),
    day: ((year - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}

/**
 * A single-member deflate archive. The member is named by the base name only: the reference
 * puts the absolute server path (and uid/gid) in ZRECV archives, which leaks information.
 */
export function zipSingleFile(name: string, data: Buffer, modified = new Date()): Buffer {
  const nameBytes = Buffer.from(basename(name), 'utf8');
  const compressed = deflateRawSync(data);
  const checksum = crc32(data);
  const { time, day } = dosDateTime(modified);
  const flags = nameBytes.some((b) => b >= 0x80) ? FLAG_UTF8_NAME : 0;

  const local = Buffer.alloc(LOCAL_HEADER_BYTES);
  local.writeUInt32LE(LOCAL_HEADER_SIG, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(flags, 6);
  local.writeUInt16LE(METHOD_DEFLATE, 8);
  local.writeUInt16LE(time, 10);
  local.writeUInt16LE(day, 12);
  local.writeUInt32LE(checksum, 14);
  local.writeUInt32LE(compressed.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(nameBytes.length, 26);
  local.writeUInt16LE(0, 28);

  const central = Buffer.alloc(CENTRAL_HEADER_BYTES);
  central.writeUInt32LE(CENTRAL_HEADER_SIG, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(flags, 8);
  central.writeUInt16LE(METHOD_DEFLATE, 10);
  central.writeUInt16LE(time, 12);
  central.writeUInt16LE(day, 14);
  central.writeUInt32LE(checksum, 16);
  central.writeUInt32LE(compressed.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(nameBytes.length, 28);
  central.writeUInt32LE(0, 42);

  const centralOffset = LOCAL_HEADER_BYTES + nameBytes.length + compressed.length;
  const centralSize = CENTRAL_HEADER_BYTES + nameBytes.length;
  const end = Buffer.alloc(END_OF_CENTRAL_DIR_BYTES);
  end.writeUInt32LE(END_OF_CENTRAL_DIR_SIG, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(centralOffset, 16);

  return Buffer.concat([local, nameBytes, compressed, central, nameBytes, end]);
}
