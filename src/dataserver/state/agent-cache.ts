import { Counter, Gauge, type Registry } from 'prom-client';
import { createModuleInterner } from './intern.js';
import type { AgentSnapshot } from './load-state.js';

interface CacheEntry {
  snapshot: AgentSnapshot;
  /** Hex sha256 of the newest ledger row of this agent when we last wrote or read it. */
  stamp: string | undefined;
}

/** An entry and the module count it was charged for (its map may grow in place later). */
interface Held extends CacheEntry {
  readonly charged: number;
}

/**
 * Write-through cache of agent and module state, keyed by lookupKey(agent nameEncoded), so the
 * hot path never reads the database. Entries are replaced only after a commit, and evicted
 * whenever a batch fails (a rolled-back batch may have filled ids that do not exist).
 *
 * Bounded by module count: past `maxModules`, the agents written least recently leave it, and
 * their next packet reloads them inside its batch (the path every cache miss already takes).
 * Memory then stays within the heap the server is started with, whatever the fleet size.
 */
export interface AgentCache {
  get(key: string): CacheEntry | undefined;
  /** Takes ownership of `snapshot.modules`: their configurations and names get shared. */
  set(key: string, snapshot: AgentSnapshot, stamp: string | undefined): void;
  evict(key: string): void;
  /** Agents cached. */
  readonly size: number;
  /** Module states cached. */
  readonly modules: number;
}

export interface AgentCacheOptions {
  /** Most module states held (0 = no limit). */
  readonly maxModules?: number;
  readonly registry?: Registry;
}

export function createAgentCache(options: AgentCacheOptions = {}): AgentCache {
  const maxModules = options.maxModules ?? 0;
  // Map order is insertion order: re-inserting on every write keeps the oldest write first.
  const entries = new Map<string, Held>();
  const interner = createModuleInterner();
  let modules = 0;
  const registers = options.registry ? [options.registry] : [];
  const evictions = new Counter({
    name: 'pandora_dataserver_cache_evictions_total',
    help: 'Agents dropped from the state cache to stay within dataserver_cache_modules',
    registers,
  });
  new Gauge({
    name: 'pandora_dataserver_cache_modules',
    help: 'Module states held in the cache',
    registers,
    collect() {
      this.set(modules);
    },
  });

  function remove(key: string): void {
    const old = entries.get(key);
    if (old === undefined) return;
    modules -= old.charged;
    entries.delete(key);
  }

  return {
    get: (key) => entries.get(key),
    set(key, snapshot, stamp) {
      interner.internModules(snapshot.modules);
      remove(key);
      entries.set(key, { snapshot, stamp, charged: snapshot.modules.size });
      modules += snapshot.modules.size;
      if (maxModules <= 0) return;
      for (const oldest of entries.keys()) {
        if (modules <= maxModules || oldest === key) break;
        remove(oldest);
        evictions.inc();
      }
    },
    evict: remove,
    get size() {
      return entries.size;
    },
    get modules() {
      return modules;
    },
  };
}
