/**
 * The reference's data-file name rule (spec §1.1): `<key>[._]<digits>.data`, case-sensitive;
 * the greedy prefix is the agent key used for per-agent ordering. Staged or temporary names
 * (`….tmp`, `…_BADXML`) never match, so no scanner takes them.
 */
const DATA_FILE = /^(.*)[._]\d+\.data$/;

/** The agent key of a data file's name, or undefined when the name is not a data file. */
export function agentKeyOf(name: string): string | undefined {
  return DATA_FILE.exec(name)?.[1];
}

export function isDataFileName(name: string): boolean {
  return DATA_FILE.test(name);
}
