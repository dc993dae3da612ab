import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TargetRole } from './config.js';
import type { TargetHealth } from './lane.js';

/** Hidden, so the buffer never lists or counts it. */
export const HEALTH_FILE = '.tentacle-client.health.json';

interface RoleState {
  readonly downUntilMs: number;
  readonly delayMs: number;
}

/**
 * Health memory across separate runs (ha.md §1.8, fixing §1.6-7): a target that failed is
 * skipped — counted as failed, so `on_error` goes straight to the secondary — until its back-off
 * ends; the back-off doubles on each further failure up to `maxMs` and resets on a success.
 * Within one run a target that fails is not tried again (one attempt per run, as the reference).
 */
export interface PersistentHealth extends TargetHealth {
  /** Roles skipped this run because of an earlier failure. */
  readonly skipped: ReadonlySet<TargetRole>;
  save(): Promise<void>;
}

export async function loadPersistentHealth(
  dir: string,
  backoff: { initialMs: number; maxMs: number },
  now = Date.now(),
): Promise<PersistentHealth> {
  const path = join(dir, HEALTH_FILE);
  const state = new Map<TargetRole, RoleState>();
  try {
    const saved = JSON.parse(await readFile(path, 'utf8')) as Record<string, RoleState>;
    for (const role of ['primary', 'secondary'] as const) {
      const entry = saved[role];
      if (entry) state.set(role, entry);
    }
  } catch {
    // First run, or an unreadable file: no memory.
  }
  const skipped = new Set<TargetRole>();
  for (const role of ['primary', 'secondary'] as const) {
    if ((state.get(role)?.downUntilMs ?? 0) > now) skipped.add(role);
  }
  const failedNow = new Set<TargetRole>();
  const next = new Map(state);
  return {
    skipped,
    isUp: (role) => !skipped.has(role) && !failedNow.has(role),
    failed(role) {
      failedNow.add(role);
      const previous = state.get(role)?.delayMs;
      const delayMs = Math.min(backoff.maxMs, previous ? previous * 2 : backoff.initialMs);
      next.set(role, { downUntilMs: Date.now() + delayMs, delayMs });
    },
    succeeded(role) {
      failedNow.delete(role);
      next.delete(role);
    },
    async save() {
      const temporary = `${path}.${process.pid}.tmp`;
      await writeFile(temporary, JSON.stringify(Object.fromEntries(next)));
      await rename(temporary, path);
    },
  };
}
