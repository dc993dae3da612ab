import type { ModuleConfig, ModuleState } from '../types.js';

/** Distinct module names kept for sharing; beyond this, names are simply not shared. */
const MAX_POOLED_NAMES = 200_000;
/**
 * Distinct configurations kept for sharing. Held strongly (a WeakRef and a finalizer per
 * configuration cost more than the interning itself on a creation pass); past this many the
 * pool starts afresh, so configurations no module uses any more cannot pile up.
 */
const MAX_POOLED_CONFIGS = 50_000;

/**
 * Shares equal immutable values between the cached modules of all agents. Agents deployed from
 * one template report the same modules with the same settings, so 3,000 agents x 33 modules
 * held 99,000 copies of 33 distinct configurations (35 MB of a 108 MB heap in the end-to-end
 * bench) and as many copies of 33 names. A configuration is interned once, when its object is
 * first cached (loaded, created or changed); the per-packet path only checks a WeakSet.
 */
export interface ModuleInterner {
  /** `modules` with shared configurations, names and keys; entries replaced in place. */
  internModules(modules: Map<string, ModuleState>): void;
}

export function createModuleInterner(): ModuleInterner {
  const configs = new Map<string, ModuleConfig>();
  const interned = new WeakSet<ModuleConfig>();
  const names = new Map<string, string>();

  function shareName(name: string): string {
    const pooled = names.get(name);
    if (pooled !== undefined) return pooled;
    if (names.size < MAX_POOLED_NAMES) names.set(name, name);
    return name;
  }

  function shareConfig(config: ModuleConfig): ModuleConfig {
    const key = configKey(config);
    const found = configs.get(key);
    if (found !== undefined) return found;
    if (configs.size >= MAX_POOLED_CONFIGS) configs.clear();
    configs.set(key, config);
    interned.add(config);
    return config;
  }

  return {
    internModules(modules) {
      const fresh: [string, ModuleState][] = [];
      for (const [key, state] of modules) if (!interned.has(state.config)) fresh.push([key, state]);
      for (const [key, state] of fresh) {
        modules.delete(key);
        modules.set(shareName(key), {
          ...state,
          nameEncoded: shareName(state.nameEncoded),
          config: shareConfig(state.config),
        });
      }
    },
  };
}

/** Every field of ModuleConfig, in a fixed order (the compiler checks none is missing). */
const CONFIG_FIELDS = [
  'typeId',
  'typeName',
  'description',
  'extendedInfo',
  'moduleInterval',
  'cronInterval',
  'moduleFfInterval',
  'min',
  'max',
  'postProcess',
  'historyData',
  'minWarning',
  'maxWarning',
  'minCritical',
  'maxCritical',
  'strWarning',
  'strCritical',
  'warningInverse',
  'criticalInverse',
  'percentageWarning',
  'percentageCritical',
  'warningTime',
  'minFfEvent',
  'minFfEventNormal',
  'minFfEventWarning',
  'minFfEventCritical',
  'ffTimeout',
  'ffType',
  'eachFf',
  'disabled',
  'deletePending',
  'quiet',
  'criticalInstructions',
  'warningInstructions',
  'unknownInstructions',
  'disabledTypesEvent',
  'idPolicyModule',
  'policyLinked',
  'policyAdopted',
  'parentModuleId',
  'tags',
] as const satisfies readonly (keyof ModuleConfig)[];
type UnkeyedField = Exclude<keyof ModuleConfig, (typeof CONFIG_FIELDS)[number]>;
/** Fails to compile, naming the field, when ModuleConfig gains a field the key misses. */
export const CONFIG_FIELDS_COMPLETE: [UnkeyedField] extends [never] ? true : UnkeyedField = true;

/** Every field with its type: two keys are equal only for equal configs. */
function configKey(config: ModuleConfig): string {
  let key = '';
  for (const field of CONFIG_FIELDS) {
    const value: unknown = config[field];
    key += `${typeof value === 'string' ? 's' : typeof value === 'number' ? 'n' : 'o'}${String(value)}\u0001`;
  }
  return key;
}
