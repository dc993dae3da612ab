import type { AgentSnapshot } from './load-state.js';

interface CacheEntry {
  snapshot: AgentSnapshot;
  /** Hex sha256 of the newest ledger row of this agent when we last wrote or read it. */
  stamp: string | undefined;
}

/**
 * Write-through cache of agent and module state, keyed by lookupKey(agent nameEncoded), so the
 * hot path never reads the database. Entries are replaced only after a commit, and evicted
 * whenever a batch fails (a rolled-back batch may have filled ids that do not exist).
 */
export interface AgentCache {
  get(key: string): CacheEntry | undefined;
  set(key: string, snapshot: AgentSnapshot, stamp: string | undefined): void;
  evict(key: string): void;
  readonly size: number;
}

export function createAgentCache(): AgentCache {
  const entries = new Map<string, CacheEntry>();
  return {
    get: (key) => entries.get(key),
    set(key, snapshot, stamp) {
      entries.set(key, { snapshot, stamp });
    },
    evict(key) {
      entries.delete(key);
    },
    get size() {
      return entries.size;
    },
  };
}
