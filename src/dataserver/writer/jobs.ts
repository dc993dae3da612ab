import type { Registry } from 'prom-client';
import { type Logger } from '../../core/index.js';
import type { DbPool } from '../../db/index.js';
import type { AgentCache } from '../state/agent-cache.js';
import type { BatchAlerts } from './alert-step.js';
import type { CatalogData } from '../state/catalog.js';
import type { AgentPacket, EventRow, LogicConfig, PacketOutcome, ProcessPacket } from '../types.js';

/** A parsed file to write, or an event with no file behind it (bad XML, backlog). */
export type WriteJob =
  | {
      readonly kind: 'packet';
      readonly fileName: string;
      readonly sha256: Buffer;
      readonly packet: AgentPacket;
    }
  | {
      readonly kind: 'event';
      readonly event: EventRow;
      /** The file the event is about (bad XML): ledgered too, so a crash cannot repeat it. */
      readonly file?: { readonly fileName: string; readonly sha256: Buffer };
    };

export type WriteResult =
  /** In the database; the file may be deleted. */
  | { readonly status: 'committed'; readonly outcome?: PacketOutcome }
  /** The ledger says this file was committed before (crash between commit and delete). */
  | { readonly status: 'duplicate' }
  /** Refused for a reason retrying cannot fix (a bug or data the database rejects). */
  | { readonly status: 'failed'; readonly error: string }
  /** Shut down while the database was away: leave the file claimed for the next start. */
  | { readonly status: 'abandoned' };

/** Files of a batch the ledger already holds (a crash between COMMIT and unlink, a resend). */
export class DuplicateFilesError extends Error {
  readonly hashes: Set<string>;
  constructor(hashes: Set<string>) {
    super('files already in the ledger');
    this.hashes = hashes;
  }
}

/**
 * A batch ran past dataserver_batch_timeout and its connection was dropped: the database stopped
 * answering without closing the connection (a partition, a frozen server). Retried like an
 * outage (`fatal`, so isTransientDbError agrees).
 */
export class BatchTimeoutError extends Error {
  readonly code = 'TI_BATCH_TIMEOUT';
  readonly fatal = true;
}

export interface BatchWriterConfig {
  readonly batchFiles: number;
  readonly batchWaitMs: number;
  /** 0 = no limit. */
  readonly batchTimeoutMs: number;
  /** GET_LOCK wait before creating a new agent. */
  readonly agentLockTimeoutSec: number;
  readonly maxConcurrentBatches: number;
  readonly serverName: string;
  readonly serverId: number;
  readonly startedAtSec: number;
  readonly logic: LogicConfig;
  /** InnoDB hands out consecutive ids to one multi-row INSERT (autoinc lock mode 0/1). */
  readonly consecutiveIds: boolean;
}

export interface BatchWriterDeps {
  readonly pool: DbPool;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly cache: AgentCache;
  readonly processPacket: ProcessPacket;
  readonly catalog: () => CatalogData;
  readonly now?: () => number;
  /** Module alerts evaluated in the batch (alert-step.ts); absent = alerts off. */
  readonly alerts?: BatchAlerts;
}
