/**
 * Whether `name` names one entry of a folder: not empty, not `.` or `..`, no `/`, `\` or NUL.
 * Server names become folder names (`.processing/<name>`, `.spare/<name>`), some of them removed
 * recursively, so a name that climbs out of its folder must never get that far.
 */
export function isPathSegment(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}
