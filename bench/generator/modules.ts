/**
 * Module definitions. The default set is the Pandora capacity study's agent: 33 modules, of
 * which 1 string, 17 `generic_proc` and 15 `generic_data` with warning/critical thresholds at
 * 50/75. Names use only `[A-Za-z0-9_]` plus, for Windows-style agents, Latin-1 letters, so
 * they survive Pandora's `safe_input` encoding unchanged except for those letters.
 */
import type { ModuleProfile } from './profiles.js';

export type ModuleType = 'generic_data' | 'generic_proc' | 'generic_data_string';

export interface ModuleSpec {
  readonly name: string;
  /** Name used by Windows-style (ISO-8859-1) agents: same module, Latin-1 letters. */
  readonly latin1Name: string;
  readonly type: ModuleType;
  readonly description: string;
  readonly latin1Description?: string;
  readonly unit?: string;
  readonly minWarning?: number;
  readonly minCritical?: number;
  readonly profile: ModuleProfile;
}

export const CAPACITY_STUDY_MODULE_COUNT = 33;
export const WARNING_THRESHOLD = 50;
export const CRITICAL_THRESHOLD = 75;

/**
 * `count` modules in the capacity study's proportions: one string module, then process and
 * data modules split 17:15 (exactly 1/17/15 for 33).
 */
export function capacityStudyModules(count = CAPACITY_STUDY_MODULE_COUNT): ModuleSpec[] {
  if (count < 1) throw new RangeError('at least one module per agent');
  const numeric = count - 1;
  const procCount = Math.round((numeric * 17) / 32);
  const dataCount = numeric - procCount;
  const modules: ModuleSpec[] = [
    {
      name: 'last_login',
      latin1Name: 'último_acceso',
      type: 'generic_data_string',
      description: 'Last user login',
      profile: { kind: 'string', minLength: 8, maxLength: 16 },
    },
  ];
  for (let i = 1; i <= procCount; i++) {
    const n = pad2(i);
    modules.push({
      name: `service_${n}_running`,
      latin1Name: `servicio_${n}_en_ejecución`,
      type: 'generic_proc',
      description: `Service ${n} status`,
      profile: { kind: 'random', min: 0, max: 1 },
    });
  }
  for (let i = 1; i <= dataCount; i++) {
    const n = pad2(i);
    modules.push({
      // Same ASCII name for both agent styles: the bench finds a packet's last module by name.
      name: `load_${n}`,
      latin1Name: `load_${n}`,
      type: 'generic_data',
      description: `Resource load ${n}`,
      latin1Description: `Carga ${n} (¼ núcleo)`,
      unit: '%',
      minWarning: WARNING_THRESHOLD,
      minCritical: CRITICAL_THRESHOLD,
      profile: { kind: 'scatter', prob: 50, avg: 20, min: 0, max: 100 },
    });
  }
  return modules;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}
