/**
 * Module value profiles, after `pandora_xml_stress`'s `module_exec` generators (spec
 * dataserver.md §8.1): RANDOM (uniform integer, or random string for string types), SCATTER
 * (mostly `avg`, sometimes a uniform value: the compaction-friendly profile), a constant, and
 * a random string. CURVE and SOURCE are not needed for sizing and are left out.
 */
import type { Rng } from './rng.js';

export type ModuleProfile =
  | { readonly kind: 'random'; readonly min: number; readonly max: number }
  | {
      readonly kind: 'scatter';
      /** Percentage (0–100) of draws that are uniform in [min, max] instead of `avg`. */
      readonly prob: number;
      readonly avg: number;
      readonly min: number;
      readonly max: number;
    }
  | { readonly kind: 'constant'; readonly value: string }
  | { readonly kind: 'string'; readonly minLength: number; readonly maxLength: number };

/** Draws one value from the profile, as the text that goes into `<data>`. */
export function drawValue(profile: ModuleProfile, rng: Rng, extraChars = ''): string {
  switch (profile.kind) {
    case 'random':
      return String(rng.int(profile.min, profile.max));
    case 'scatter':
      return String(
        rng.chance(profile.prob / 100) ? rng.int(profile.min, profile.max) : profile.avg,
      );
    case 'constant':
      return profile.value;
    case 'string': {
      const text = rng.alnum(rng.int(profile.minLength, profile.maxLength));
      // Windows-style agents mix in Latin-1 letters so the ISO-8859-1 path is exercised.
      return extraChars === ''
        ? text
        : `${text}${extraChars.charAt(rng.int(0, extraChars.length - 1))}`;
    }
  }
}

/** How many distinct values the profile can produce (1 means it can never change). */
export function profileCardinality(profile: ModuleProfile): number {
  switch (profile.kind) {
    case 'random':
      return profile.max - profile.min + 1;
    case 'scatter':
      return Math.max(1, profile.max - profile.min + 1);
    case 'constant':
      return 1;
    case 'string':
      return Number.POSITIVE_INFINITY;
  }
}

const MAX_REDRAWS = 32;

/**
 * The next value of a module given its previous one. With `changeRate` undefined every pass is
 * a fresh draw (the reference tool's behaviour). With a rate, the value changes with exactly
 * that probability — the capacity study's "information fragmentation", which decides how much
 * the server can compact — and a change is always to a different value.
 */
export function nextValue(
  profile: ModuleProfile,
  previous: string | undefined,
  rng: Rng,
  changeRate: number | undefined,
  extraChars = '',
): string {
  if (previous === undefined || changeRate === undefined)
    return drawValue(profile, rng, extraChars);
  if (profileCardinality(profile) < 2 || !rng.chance(changeRate)) return previous;
  if (profile.kind === 'random' && profile.max - profile.min === 1) {
    // Booleans (generic_proc 0/1): a change is a flip.
    return String(Number(previous) === profile.min ? profile.max : profile.min);
  }
  for (let i = 0; i < MAX_REDRAWS; i++) {
    const value =
      profile.kind === 'scatter'
        ? String(rng.int(profile.min, profile.max))
        : drawValue(profile, rng, extraChars);
    if (value !== previous) return value;
  }
  return previous;
}
