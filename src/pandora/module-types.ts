/**
 * Module type classes (spec §4.5). The reference classifies by type *name* pattern, not id,
 * so a console-defined type such as `remote_cmd_string` is handled without a table change.
 */

export interface TypeClass {
  /** `*_string`: raw text values, tagente_datos_string, regex thresholds. */
  readonly isString: boolean;
  /** `*_inc` or `*_inc_abs`: value derived from tagente_datos_inc. */
  readonly isIncremental: boolean;
  /** `*_inc_abs`: absolute delta instead of a rate per second. */
  readonly isIncrementalAbsolute: boolean;
  /** `*_proc`, `web_analysis`, `keep_alive`: default critical interval [0, 1). */
  readonly hasBooleanDefaults: boolean;
  /** `async*`: every datum is stored, created NORMAL. */
  readonly isAsync: boolean;
  /** `log4x` (obsolete): always stored. */
  readonly isLog4x: boolean;
}

const classes = new Map<string, TypeClass>();

export function classifyModuleType(name: string): TypeClass {
  let found = classes.get(name);
  if (found === undefined) {
    const isIncrementalAbsolute = name.endsWith('_inc_abs');
    found = {
      isString: name.endsWith('_string'),
      isIncremental: isIncrementalAbsolute || name.endsWith('_inc'),
      isIncrementalAbsolute,
      hasBooleanDefaults:
        name.endsWith('_proc') || name === 'web_analysis' || name.includes('keep_alive'),
      isAsync: name.includes('async'),
      isLog4x: name === 'log4x',
    };
    classes.set(name, found);
  }
  return found;
}

/** ttipo_modulo ids the reference hard-codes. */
export const ASYNC_TYPE_IDS: ReadonlySet<number> = new Set([21, 22, 23]);
export const KEEP_ALIVE_TYPE_ID = 100;
