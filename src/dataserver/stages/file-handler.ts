import { Histogram, type Counter, type Registry } from 'prom-client';
import { ErrorCode, PandoraError, describeError, type Logger } from '../../core/index.js';
import { badXmlEvent } from '../logic/index.js';
import { fitPacketToSchema } from '../logic/schema-fit.js';
import type { PacketParser, ParseResult } from '../parser.js';
import { fileIdentity } from '../spool/file-identity.js';
import { BADXML_SUFFIX, FAILED_SUFFIX } from '../spool/spool-dir.js';
import type { AgentPacket, ParseFailure } from '../types.js';
import type { BatchWriter } from '../writer/batch-writer.js';
import { toParseFailure } from '../xml/index.js';
import type { ByteBudget } from './byte-budget.js';
import { collectedGauge } from './health.js';
import type { FileStore, IntakeFile } from './intake.js';

/** Refusals whose message names the limit (a key, or a column) that refused the file. */
const LIMIT_CODES: ReadonlySet<string> = new Set([
  ErrorCode.XmlTooLarge,
  ErrorCode.XmlLimit,
  ErrorCode.XmlValueTooLong,
]);

export interface FileHandlerDeps {
  readonly store: FileStore;
  readonly parser: PacketParser;
  readonly log: Logger;
  readonly registry: Registry;
  /** `pandora_dataserver_files_processed_total`, by result. */
  readonly results: Counter<'result'>;
  readonly maxXmlSize: number;
  readonly nowSec: () => number;
  /** Bytes of files read and not yet finished (packetByteBudget); none = unbounded. */
  readonly budget?: ByteBudget;
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

interface ReadFile {
  readonly name: string;
  readonly size: number;
  readonly sha256: Buffer;
}

export function createFileHandler(deps: FileHandlerDeps): FileHandler {
  const { store, log, results } = deps;
  const parseDuration = new Histogram({
    name: 'pandora_dataserver_xml_parse_duration_seconds',
    help: 'Time to parse one agent XML file',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers: [deps.registry],
  });
  const { budget } = deps;
  if (budget) {
    collectedGauge(
      deps.registry,
      'pandora_dataserver_admitted_file_bytes',
      'Bytes of files read and not yet finished (bounded by the byte budget)',
      () => budget.held,
    );
    collectedGauge(
      deps.registry,
      'pandora_dataserver_admission_waiting_files',
      'Files whose size is known, waiting for the byte budget before they are read',
      () => budget.waiting,
    );
  }

  async function parse(file: IntakeFile, read: Buffer | { tooLarge: number }) {
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

  /** A file that will not become rows: dropped, _BADXML with an event, or _FAILED. */
  async function refuse(file: ReadFile, refusal: ParseFailure, w: BatchWriter): Promise<void> {
    const { disposition, code, message } = refusal;
    if (disposition === 'drop') {
      log.info({ file: file.name, code, reason: message }, 'file dropped');
      await store.remove(file.name, file.size);
      results.labels('dropped').inc();
      return;
    }
    if (disposition === 'badxml') {
      log.warn({ file: file.name, code, reason: message }, 'bad XML file');
      const r = await w.submit({
        kind: 'event',
        event: badXmlEvent(file.name, deps.nowSec(), LIMIT_CODES.has(code) ? message : undefined),
        file: { fileName: file.name, sha256: file.sha256 },
      });
      // 'duplicate': the event was committed before a crash; only the rename is left to do.
      if (r.status === 'abandoned') return;
      await store.reject(file.name, BADXML_SUFFIX);
      results.labels('badxml').inc();
      return;
    }
    log.error({ file: file.name, code, reason: message }, 'cannot read file');
    await store.reject(file.name, FAILED_SUFFIX);
    results.labels('error').inc();
  }

  async function submit(file: ReadFile, packet: AgentPacket, w: BatchWriter): Promise<void> {
    for (const warning of packet.warnings) log.warn({ file: file.name, warning }, 'packet warning');
    const r = await w.submit({ kind: 'packet', fileName: file.name, sha256: file.sha256, packet });
    switch (r.status) {
      case 'committed':
        // Counted at COMMIT: removing it (as a spare, after a folder fsync) may take a moment.
        results.labels(r.outcome?.dropped ? 'dropped' : 'ok').inc();
        await store.remove(file.name, file.size);
        return;
      case 'duplicate':
        log.info({ file: file.name }, 'file already committed (ledger); removed');
        results.labels('duplicate').inc();
        await store.remove(file.name, file.size);
        return;
      case 'failed':
        log.error(
          { file: file.name, reason: r.error },
          `file refused by the database; kept as ${file.name}${FAILED_SUFFIX}`,
        );
        await store.reject(file.name, FAILED_SUFFIX);
        results.labels('error').inc();
        return;
      case 'abandoned':
        return;
    }
  }

  /** Parses a file read within the budget, fits it to the schema and sends it on its way. */
  async function ingest(
    file: IntakeFile,
    read: Buffer | { tooLarge: number },
    w: BatchWriter,
  ): Promise<void> {
    const size = Buffer.isBuffer(read) ? read.length : read.tooLarge; // before the bytes move
    const sha256 = fileIdentity(file.name, read, file.mtimeMs);
    const parsed = await parse(file, read);
    // Checked against the columns before the batch: a value the database would refuse must
    // not fail the batch and send the file down the _FAILED path meant for our own bugs.
    const fitted = parsed.packet ? fitPacketToSchema(parsed.packet) : { refused: parsed.error };
    const done = { name: file.name, size, sha256 };
    if (fitted.refused) await refuse(done, fitted.refused, w);
    else await submit(done, fitted.packet, w);
  }

  return {
    async handle(file, w) {
      if (!file.recovered && !(await store.claim(file.name))) {
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
          read = await store.readClaimed(file.name, deps.maxXmlSize, budget && admit);
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
