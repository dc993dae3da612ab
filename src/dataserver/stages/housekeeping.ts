import { describeError, type Logger } from '../../core/index.js';
import { LEDGER_TABLE, type DbPool } from '../../db/index.js';
import { backlogEvent } from '../logic/index.js';
import { loadCatalogData, type CatalogData } from '../state/catalog.js';
import type { BatchWriter } from '../writer/batch-writer.js';

const CATALOG_REFRESH_MS = 60_000;
/** Ledger pruning: every 10 min, in bounded deletes (3,000 agents at 5 min add 864k rows a day). */
const LEDGER_PRUNE_MS = 600_000;
const LEDGER_PRUNE_ROWS = 20_000;
const FIRST_PRUNE_MS = 1000;
const BACKLOG_EVENT_PERIOD_SEC = 300;

export interface HousekeepingConfig {
  readonly ledgerRetentionSec: number;
  /** Backlog event above this many files of one agent (0 = off). */
  readonly tooManyXml: number;
}

export interface HousekeepingDeps {
  readonly pool: DbPool;
  readonly log: Logger;
  readonly nowSec: () => number;
  /** Agent keys with more than `limit` files waiting (the intake's). */
  readonly backlog: (limit: number) => readonly { key: string }[];
}

/** Work beside the packet path: the catalog refresh, the ledger prune and backlog events. */
export interface Housekeeping {
  /** Loads the catalog; the batch writer needs it before the first batch. */
  loadCatalog(): Promise<void>;
  readonly catalog: () => CatalogData;
  /** Starts the refresh and prune timers; backlog events go through `writer`. */
  start(writer: BatchWriter): void;
  /** After each listing of the intake: an event per agent over the backlog limit (rate-limited). */
  backlogEvents(): void;
  close(): void;
}

export function createHousekeeping(
  config: HousekeepingConfig,
  deps: HousekeepingDeps,
): Housekeeping {
  const { log } = deps;
  let catalog: CatalogData | undefined;
  let writer: BatchWriter | undefined;
  let closing = false;
  let catalogTimer: NodeJS.Timeout | undefined;
  let pruneTimer: NodeJS.Timeout | undefined;
  const backlogSent = new Map<string, number>();

  async function refreshCatalog(): Promise<void> {
    try {
      catalog = await loadCatalogData(deps.pool);
    } catch (err) {
      log.warn({ err: describeError(err) }, 'catalog refresh failed; keeping the previous one');
    }
    if (!closing)
      catalogTimer = setTimeout(() => void refreshCatalog(), CATALOG_REFRESH_MS).unref();
  }

  async function pruneLedger(): Promise<void> {
    try {
      await deps.pool.query(
        `DELETE FROM ${LEDGER_TABLE} WHERE utimestamp < ? LIMIT ${String(LEDGER_PRUNE_ROWS)}`,
        [deps.nowSec() - config.ledgerRetentionSec],
      );
    } catch (err) {
      log.warn({ err: describeError(err) }, 'ledger prune failed');
    }
    if (!closing) pruneTimer = setTimeout(() => void pruneLedger(), LEDGER_PRUNE_MS).unref();
  }

  return {
    async loadCatalog() {
      catalog = await loadCatalogData(deps.pool);
    },
    catalog: () => catalog as CatalogData,
    start(w) {
      writer = w;
      catalogTimer = setTimeout(() => void refreshCatalog(), CATALOG_REFRESH_MS).unref();
      pruneTimer = setTimeout(() => void pruneLedger(), FIRST_PRUNE_MS).unref();
    },
    backlogEvents() {
      if (config.tooManyXml <= 0 || !writer) return;
      const now = deps.nowSec();
      for (const { key } of deps.backlog(config.tooManyXml)) {
        const text = `More than ${config.tooManyXml} XML files queued for agent ${key}`;
        if (now - (backlogSent.get(text) ?? 0) < BACKLOG_EVENT_PERIOD_SEC) continue;
        backlogSent.set(text, now);
        void writer.submit({ kind: 'event', event: backlogEvent(key, config.tooManyXml, now) });
      }
    },
    close() {
      closing = true;
      for (const t of [catalogTimer, pruneTimer]) if (t) clearTimeout(t);
    },
  };
}
