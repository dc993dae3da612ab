import net from 'node:net';
import { ErrorCode, PandoraError } from '../core/index.js';

/**
 * The PROXY protocol header a balancer (HAProxy's `send-proxy` / `send-proxy-v2`) puts before
 * the client's first byte, so that the server learns the client's address (HAProxy's
 * proxy-protocol.txt, versions 1 and 2). Framing and decoding only: whom to trust is decided by
 * the caller (proxy-accept.ts).
 *
 * Incremental and bounded: bytes go in as they arrive; at most the 16-byte v2 preamble plus its
 * address block (232 bytes), or a whole v1 line (107 bytes), is held; v2 TLVs are skipped as they
 * stream by. Strict: the first byte that cannot belong to a valid header throws a
 * ProxyHeaderError, so garbage is refused without waiting for more of it.
 */

/** Longest v1 header, `PROXY … \r\n` included (spec 2.1). */
export const V1_MAX_BYTES = 107;
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
export const V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
/** Signature, version/command, family/transport, 16-bit length. */
const V2_PREAMBLE_BYTES = 16;
/** Address block sizes by v2 address family (high nibble of byte 13). */
const V2_ADDRESS_BYTES: Readonly<Record<number, number>> = { 0: 0, 1: 12, 2: 36, 3: 216 };
const V2_FAMILY_INET = 1;
const V2_FAMILY_INET6 = 2;
const V2_TRANSPORT_STREAM = 1;
const V2_TRANSPORT_DGRAM = 2;
const CR = 0x0d;
const LF = 0x0a;
const HELD_BYTES = Math.max(V1_MAX_BYTES, V2_PREAMBLE_BYTES + 216);
const PORT = /^(?:0|[1-9][0-9]{0,4})$/;

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/**
 * `proxy`: the connection is relayed for `source`. `local`: the balancer speaks for itself
 * (v2 LOCAL, health checks), or the family is unknown (v1 UNKNOWN, v2 UNSPEC/UNIX): the
 * socket's own address stands.
 */
export type ProxyHeader =
  | {
      readonly command: 'proxy';
      readonly version: 1 | 2;
      readonly source: Endpoint;
      readonly destination: Endpoint;
    }
  | { readonly command: 'local'; readonly version: 1 | 2 };

export interface ProxyHeaderResult {
  readonly header: ProxyHeader;
  /** Bytes after the header: the start of the client's own stream. */
  readonly rest: Buffer;
}

export class ProxyHeaderError extends PandoraError {
  constructor(message: string) {
    super(ErrorCode.TentacleProxyHeader, message);
  }
}

/** An IPv4-mapped IPv6 address as plain IPv4 (how the sessions log and key addresses). */
export function plainAddress(address: string): string {
  return address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
}

function endpoint(address: string, port: number): Endpoint {
  return { address: plainAddress(address), port };
}

/**
 * True when the bytes seen so far could still begin a PROXY header (v1 or v2); false as soon
 * as one byte rules it out. `undefined` while every byte matches but too few have arrived.
 */
export function couldBeProxyHeader(bytes: Buffer): boolean | undefined {
  const signature = bytes[0] === CR ? V2_SIGNATURE : V1_PREFIX;
  const n = Math.min(bytes.length, signature.length);
  if (!bytes.subarray(0, n).equals(signature.subarray(0, n))) return false;
  return n === signature.length ? true : undefined;
}

export class ProxyHeaderParser {
  readonly #held = Buffer.alloc(HELD_BYTES);
  #length = 0;
  #version: 0 | 1 | 2 = 0;
  /** v2: bytes of preamble plus address block to hold. */
  #needed = V2_PREAMBLE_BYTES;
  /** v2: TLV bytes still to skip after the address block. */
  #skip = 0;
  #header: ProxyHeader | undefined;
  #finished = false;

  /** Bytes held so far (bounded by HELD_BYTES). */
  get bufferedBytes(): number {
    return this.#length;
  }

  /**
   * Feeds the next bytes. Returns the header and the bytes after it once complete, undefined
   * while more are needed; throws ProxyHeaderError on the first byte that makes it invalid.
   */
  push(chunk: Buffer): ProxyHeaderResult | undefined {
    if (this.#finished) throw new Error('PROXY header already complete');
    let i = 0;
    while (this.#header === undefined) {
      if (i === chunk.length) return undefined;
      this.#accept(chunk[i++] ?? 0);
    }
    const skipped = Math.min(this.#skip, chunk.length - i);
    this.#skip -= skipped;
    i += skipped;
    if (this.#skip > 0) return undefined;
    this.#finished = true;
    return { header: this.#header, rest: chunk.subarray(i) };
  }

  #accept(b: number): void {
    const pos = this.#length;
    this.#held[this.#length++] = b;
    if (pos === 0) {
      if (b === V1_PREFIX[0]) this.#version = 1;
      else if (b === V2_SIGNATURE[0]) this.#version = 2;
      else throw new ProxyHeaderError('not a PROXY header');
    }
    if (this.#version === 1) this.#acceptV1(b, pos);
    else this.#acceptV2(b, pos);
  }

  #acceptV1(b: number, pos: number): void {
    if (pos < V1_PREFIX.length) {
      if (b !== V1_PREFIX[pos]) throw new ProxyHeaderError('not a PROXY header');
      return;
    }
    const previous = this.#held[pos - 1];
    if (b === LF) {
      if (previous !== CR) throw new ProxyHeaderError('v1 header ends in LF without CR');
      this.#header = parseV1(this.#held.toString('latin1', 0, pos - 1));
      return;
    }
    if (previous === CR) throw new ProxyHeaderError('v1 header has CR without LF');
    if (b !== CR && (b < 0x20 || b > 0x7e)) {
      throw new ProxyHeaderError('v1 header has a non-printable byte');
    }
    if (this.#length === V1_MAX_BYTES) {
      throw new ProxyHeaderError(`v1 header longer than ${V1_MAX_BYTES} bytes`);
    }
  }

  #acceptV2(b: number, pos: number): void {
    if (pos < V2_SIGNATURE.length) {
      if (b !== V2_SIGNATURE[pos]) throw new ProxyHeaderError('not a PROXY header');
      return;
    }
    if (pos === 12) {
      if (b >> 4 !== 2) throw new ProxyHeaderError(`v2 header has version ${b >> 4}`);
      if ((b & 0x0f) > 1) throw new ProxyHeaderError(`v2 header has command ${b & 0x0f}`);
      return;
    }
    if (pos === 13) {
      if (V2_ADDRESS_BYTES[b >> 4] === undefined || (b & 0x0f) > V2_TRANSPORT_DGRAM) {
        throw new ProxyHeaderError(`v2 header has address family 0x${b.toString(16)}`);
      }
      return;
    }
    if (pos === V2_PREAMBLE_BYTES - 1) {
      const length = this.#held.readUInt16BE(14);
      const local = ((this.#held[12] ?? 0) & 0x0f) === 0;
      const addressBytes = local ? 0 : (V2_ADDRESS_BYTES[(this.#held[13] ?? 0) >> 4] ?? 0);
      if (length < addressBytes) {
        throw new ProxyHeaderError(`v2 header length ${length} is too short for its addresses`);
      }
      this.#needed = V2_PREAMBLE_BYTES + addressBytes;
      this.#skip = length - addressBytes;
    }
    if (this.#length === this.#needed) this.#header = decodeV2(this.#held);
  }
}

function port(text: string | undefined): number {
  if (text === undefined || !PORT.test(text) || Number(text) > 65535) {
    throw new ProxyHeaderError(`v1 header has an invalid port "${text ?? ''}"`);
  }
  return Number(text);
}

/** `PROXY TCP4|TCP6 src dst sport dport` or `PROXY UNKNOWN …` (CRLF already removed). */
function parseV1(line: string): ProxyHeader {
  const fields = line.split(' ');
  const family = fields[1];
  // UNKNOWN: the rest of the line is to be ignored (spec 2.1).
  if (family === 'UNKNOWN') return { command: 'local', version: 1 };
  if (family !== 'TCP4' && family !== 'TCP6') {
    throw new ProxyHeaderError(`v1 header has an unknown protocol "${family ?? ''}"`);
  }
  if (fields.length !== 6)
    throw new ProxyHeaderError('v1 header needs 4 fields after the protocol');
  const ipVersion = family === 'TCP4' ? 4 : 6;
  const [, , src = '', dst = '', sport, dport] = fields;
  for (const address of [src, dst]) {
    if (net.isIP(address) !== ipVersion) {
      throw new ProxyHeaderError(`v1 header has an invalid ${family} address "${address}"`);
    }
  }
  const canonical = (a: string): string =>
    ipVersion === 4 ? a : new net.SocketAddress({ address: a, family: 'ipv6' }).address;
  return {
    command: 'proxy',
    version: 1,
    source: endpoint(canonical(src), port(sport)),
    destination: endpoint(canonical(dst), port(dport)),
  };
}

function ipv6Text(bytes: Buffer, offset: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(bytes.readUInt16BE(offset + 2 * i).toString(16));
  return new net.SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

/** The preamble and address block of a v2 header (TLVs are skipped by the caller). */
function decodeV2(held: Buffer): ProxyHeader {
  const command = (held[12] ?? 0) & 0x0f;
  const family = (held[13] ?? 0) >> 4;
  const transport = (held[13] ?? 0) & 0x0f;
  if (command === 0) return { command: 'local', version: 2 };
  if (family !== V2_FAMILY_INET && family !== V2_FAMILY_INET6) {
    // UNSPEC (the balancer could not tell) or a UNIX socket: the socket's address stands.
    return { command: 'local', version: 2 };
  }
  if (transport !== V2_TRANSPORT_STREAM) {
    throw new ProxyHeaderError(`v2 header announces transport ${transport}, not a stream`);
  }
  if (family === V2_FAMILY_INET) {
    const ip = (o: number): string => `${held[o]}.${held[o + 1]}.${held[o + 2]}.${held[o + 3]}`;
    return {
      command: 'proxy',
      version: 2,
      source: endpoint(ip(16), held.readUInt16BE(24)),
      destination: endpoint(ip(20), held.readUInt16BE(26)),
    };
  }
  return {
    command: 'proxy',
    version: 2,
    source: endpoint(ipv6Text(held, 16), held.readUInt16BE(48)),
    destination: endpoint(ipv6Text(held, 32), held.readUInt16BE(50)),
  };
}
