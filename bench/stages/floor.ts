/**
 * The durability floor of a pass: what the promise "the file is on disk before SEND OK" costs
 * by itself (the durable write on the main thread plus libuv's pool, where the fsyncs run), set
 * against MariaDB's whole CPU per packet in the same scenario. Issue 13 asks for the server's
 * CPU per packet at or below MariaDB's; when the floor alone reaches MariaDB's figure, no cut
 * elsewhere can get there while every file is fsynced.
 */
import { formatNumber } from '../lib/index.js';

export interface FloorInput {
  /** µs/pkt of the "durable write" row (profiled run). */
  readonly durableWriteUs: number | undefined;
  /** µs/pkt of libuv's pool row (profiled run). */
  readonly poolUs: number | undefined;
  /** The server's whole CPU per packet without --cpu-prof. */
  readonly serverUs: number | undefined;
  /** MariaDB's CPU per packet in the unprofiled run. */
  readonly mariadbUs: number | undefined;
}

export interface Floor {
  readonly durableWriteUs: number;
  readonly poolUs: number;
  readonly durabilityUs: number;
  readonly serverUs: number;
  readonly mariadbUs: number;
  /** Server over MariaDB: 1 or less meets the target. */
  readonly ratio: number;
  /** The server's CPU besides durability. */
  readonly restUs: number;
  /** What MariaDB's figure leaves the rest once durability is paid (negative: nothing). */
  readonly restAllowedUs: number;
}

function known(value: number | undefined): value is number {
  return value !== undefined && Number.isFinite(value);
}

/** undefined when a figure is missing or MariaDB's CPU was not measured (0 or less). */
export function durabilityFloor(input: FloorInput): Floor | undefined {
  const { durableWriteUs, poolUs, serverUs, mariadbUs } = input;
  if (!known(durableWriteUs) || !known(poolUs) || !known(serverUs) || !known(mariadbUs)) {
    return undefined;
  }
  if (!(mariadbUs > 0)) return undefined;
  const durabilityUs = durableWriteUs + poolUs;
  return {
    durableWriteUs,
    poolUs,
    durabilityUs,
    serverUs,
    mariadbUs,
    ratio: serverUs / mariadbUs,
    restUs: serverUs - durabilityUs,
    restAllowedUs: mariadbUs - durabilityUs,
  };
}

const us = (value: number): string => `${formatNumber(value, 0)} µs`;

/** What the figures say about reaching MariaDB's CPU per packet, phrased from them. */
function verdict(f: Floor): string {
  if (f.serverUs <= f.mariadbUs) return 'the server is at or below MariaDB already';
  if (f.durabilityUs >= f.mariadbUs) {
    return 'at or below MariaDB is out of reach while each file is fsynced before SEND OK';
  }
  const cut = f.restUs - f.restAllowedUs;
  return (
    `durability leaves the rest of the server ${us(f.restAllowedUs)} of MariaDB's figure, ` +
    `against the ${us(f.restUs)} it takes: ${us(cut)} to cut ` +
    `(${formatNumber((cut / f.restUs) * 100, 0)} % of the rest)`
  );
}

/** One line of the "Floor" paragraph: `- steady: durability alone …`. */
export function floorLine(pass: string, floor: Floor | undefined): string {
  if (floor === undefined) return `- ${pass}: not measured`;
  return (
    `- ${pass}: durability alone ${us(floor.durabilityUs)} ` +
    `(durable write ${formatNumber(floor.durableWriteUs, 0)} + fsync pool ${formatNumber(floor.poolUs, 0)}) ` +
    `against MariaDB's whole packet ${us(floor.mariadbUs)}; ` +
    `the server without --cpu-prof ${us(floor.serverUs)}, ${formatNumber(floor.ratio, 1)}× MariaDB's: ` +
    `${verdict(floor)}.`
  );
}
