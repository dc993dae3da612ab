import { Counter, Histogram, type Registry } from 'prom-client';
import { ErrorCode, PandoraError, describeError } from '../../core/index.js';
import { fitPacketToSchema } from '../logic/schema-fit.js';
import type { PacketParser, ParseResult } from '../parser.js';
import { fileIdentity } from '../spool/file-identity.js';
import type { BatchWriter } from '../writer/batch-writer.js';
import { toParseFailure } from '../xml/index.js';
import type { ByteBudget } from './byte-budget.js';
import type { HandedBytes } from './handed-bytes.js';
import { refuseFile, submitPacket, type DisposalDeps } from './file-disposal.js';
import { collectedGauge } from './health.js';
import type { IntakeFile } from './intake.js';

export interface FileHandlerDeps extends DisposalDeps {
  readonly parser: PacketParser;
  readonly registry: Registry;
  readonly maxXmlSize: number;
  /** Bytes of files read and not yet finished (packetByteBudget); none = unbounded. */
  readonly budget?: ByteBudget;
  /** Bytes the listener of this process wrote and handed over; absent or missing: read the disk. */
  readonly handed?: HandedBytes;
}

/**
 * One data file from claim to disposal: claim, read, hash, parse, fit to the schema, submit to
 * the batch writer, then remove (committed), reject (refused) or leave claimed (abandoned: the
 * database went away or the server is closing; the next start takes it again). The file leaves
 * the store only after the writer has answered, so a crash in between never loses it. Between
 * learning a file's size and reading it, the handler waits for the byte budget; the bytes are
 * held until the file is finished.
 */
export interface FileHandler {
  handle(file: IntakeFile, writer: BatchWriter): Promise<void>;
}

/** The parse-time histogram, and the byte budget's gauges when there is a budget. */
function fileHandlerMetrics(
  registry: Registry,
  budget: ByteBudget | undefined,
  handed: HandedBytes | undefined,
): { parseDuration: Histogram; handedTaken: Counter | undefined } {
  const parseDuration = new Histogram({
    name: 'pandora_dataserver_xml_parse_duration_seconds',
    help: 'Time to parse one agent XML file',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  if (budget) {
    collectedGauge(
      registry,
      'pandora_dataserver_admitted_file_bytes',
      'Bytes of files read and not yet finished (bounded by the byte budget)',
      () => budget.held,
    );
    collectedGauge(
      registry,
      'pandora_dataserver_admission_waiting_files',
      'Files whose size is known, waiting for the byte budget before they are read',
      () => budget.waiting,
    );
  }
  if (!handed) return { parseDuration, handedTaken: undefined };
  collectedGauge(
    registry,
    'pandora_dataserver_handed_over_bytes',
    'Bytes of stored files the listener handed to the dataserver, not yet taken (bounded)',
    () => handed.held,
  );
  const handedTaken = new Counter({
    name: 'pandora_dataserver_handed_over_files_total',
    help: 'Files parsed from the bytes the listener handed over instead of a read of the spool',
    registers: [registry],
  });
  return { parseDuration, handedTaken };
}

/** The packet in a file's bytes, or the refusal of a file too large to read; timed. */
async function parseFile(
  deps: FileHandlerDeps,
  parseDuration: Histogram,
  file: IntakeFile,
  read: Buffer | { tooLarge: number },
): Promise<ParseResult> {
  const t0 = process.hrtime.bigint();
  const parsed: ParseResult = Buffer.isBuffer(read)
    ? await deps.parser.parse({
        bytes: read,
        info: { mtimeSec: Math.floor(file.mtimeMs / 1000), nowSec: deps.nowSec() },
      })
    : {
        error: toParseFailure(
          new PandoraError(
            ErrorCode.XmlTooLarge,
            `file of ${String(read.tooLarge)} bytes exceeds max_xml_size ${String(deps.maxXmlSize)}`,
          ),
        ),
      };
  parseDuration.observe(Number(process.hrtime.bigint() - t0) / 1e9);
  return parsed;
}

/**
 * The claimed file's bytes: those the listener handed over when they are the file's (no disk
 * read), else read from the store. Either way within the byte budget and max_xml_size.
 */
async function readClaimed(
  deps: FileHandlerDeps,
  file: IntakeFile,
  admit: ((size: number) => Promise<void>) | undefined,
  taken: Counter | undefined,
): Promise<Buffer | { tooLarge: number }> {
  const handed = deps.handed?.take(file.name, file.mtimeMs);
  if (handed === undefined) return deps.store.readClaimed(file.name, deps.maxXmlSize, admit);
  taken?.inc();
  if (handed.length > deps.maxXmlSize) return { tooLarge: handed.length };
  await admit?.(handed.length);
  return handed;
}

export function createFileHandler(deps: FileHandlerDeps): FileHandler {
  const { store, log, results, budget } = deps;
  const { parseDuration, handedTaken } = fileHandlerMetrics(deps.registry, budget, deps.handed);

  /** Parses a file read within the budget, fits it to the schema and sends it on its way. */
  async function ingest(
    file: IntakeFile,
    read: Buffer | { tooLarge: number },
    w: BatchWriter,
  ): Promise<void> {
    const size = Buffer.isBuffer(read) ? read.length : read.tooLarge; // before the bytes move
    const sha256 = fileIdentity(file.name, read, file.mtimeMs);
    const parsed = await parseFile(deps, parseDuration, file, read);
    // Checked against the columns before the batch: a value the database would refuse must
    // not fail the batch and send the file down the _FAILED path meant for our own bugs.
    const fitted = parsed.packet ? fitPacketToSchema(parsed.packet) : { refused: parsed.error };
    const done = { name: file.name, size, sha256 };
    if (fitted.refused) await refuseFile(deps, done, fitted.refused, w);
    else await submitPacket(deps, done, fitted.packet, w);
  }

  return {
    async handle(file, w) {
      if (!file.recovered && !(await store.claim(file.name))) {
        deps.handed?.drop(file.name);
        results.labels('lost').inc(); // another process claimed it first
        return;
      }
      let held = 0;
      const admit = async (size: number) => {
        await budget?.acquire(size);
        held = size;
      };
      try {
        let read: Buffer | { tooLarge: number };
        try {
          read = await readClaimed(deps, file, budget && admit, handedTaken);
        } catch (err) {
          log.error({ err: describeError(err), file: file.name }, 'cannot read claimed file');
          results.labels('error').inc();
          return;
        }
        await ingest(file, read, w);
      } finally {
        if (held > 0) budget?.release(held);
      }
    },
  };
}
