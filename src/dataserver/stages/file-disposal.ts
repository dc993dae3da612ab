import type { Counter } from 'prom-client';
import { ErrorCode, type Logger } from '../../core/index.js';
import { badXmlEvent } from '../logic/index.js';
import { BADXML_SUFFIX, FAILED_SUFFIX } from '../spool/spool-dir.js';
import type { AgentPacket, ParseFailure } from '../types.js';
import type { BatchWriter } from '../writer/batch-writer.js';
import type { FileStore } from './intake.js';

/** Refusals whose message names the limit (a key, or a column) that refused the file. */
const LIMIT_CODES: ReadonlySet<string> = new Set([
  ErrorCode.XmlTooLarge,
  ErrorCode.XmlLimit,
  ErrorCode.XmlValueTooLong,
]);

/** Where a finished file goes and what is counted and logged about it. */
export interface DisposalDeps {
  readonly store: FileStore;
  readonly log: Logger;
  /** `pandora_dataserver_files_processed_total`, by result. */
  readonly results: Counter<'result'>;
  readonly nowSec: () => number;
}

/** A claimed file whose bytes were read and hashed. */
export interface ReadFile {
  readonly name: string;
  readonly size: number;
  readonly sha256: Buffer;
}

/** A file that will not become rows: dropped, _BADXML with an event, or _FAILED. */
export async function refuseFile(
  deps: DisposalDeps,
  file: ReadFile,
  refusal: ParseFailure,
  w: BatchWriter,
): Promise<void> {
  const { store, log, results } = deps;
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

/** A packet to the batch writer; the file is removed, rejected or left as its answer says. */
export async function submitPacket(
  deps: DisposalDeps,
  file: ReadFile,
  packet: AgentPacket,
  w: BatchWriter,
): Promise<void> {
  const { store, log, results } = deps;
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
        `file refused by the database; set aside ${store.keptAs(file.name, FAILED_SUFFIX)}`,
      );
      await store.reject(file.name, FAILED_SUFFIX);
      results.labels('error').inc();
      return;
    case 'abandoned':
      return;
  }
}
