import { statSync } from 'node:fs';
import {
  type ConfEntries,
  ConfigError,
  ignoredKeysMessage,
  reviewConfKeys,
  type SettingsTable,
  unknownKeyMessage,
} from '../core/index.js';
import { TENTACLE_SETTINGS } from '../tentacle/index.js';
import { LISTENER_IGNORED_KEYS, SERVE_IGNORED_KEYS } from './ignored-keys.js';

/**
 * What `serve` tells about its configuration files at start: one warning naming every ignored
 * key with its reason, one warning per unknown key with the nearest known one.
 */
export function serveFileWarnings(file: ConfEntries | undefined, table: SettingsTable): string[] {
  if (file === undefined) return [];
  return reviewWarnings(
    file,
    new Set(Object.keys(table)),
    SERVE_IGNORED_KEYS,
    'pandora_server.conf',
  );
}

/** The same review for the built-in listener's `tentacle_config` (tentacle_server.conf). */
export function listenerFileWarnings(file: ConfEntries | undefined): string[] {
  if (file === undefined) return [];
  const honoured = Object.keys(TENTACLE_SETTINGS).filter(
    (key) => !Object.hasOwn(LISTENER_IGNORED_KEYS, key),
  );
  return reviewWarnings(file, new Set(honoured), LISTENER_IGNORED_KEYS, 'tentacle_config');
}

function reviewWarnings(
  file: ConfEntries,
  honoured: ReadonlySet<string>,
  ignored: Readonly<Record<string, string>>,
  what: string,
): string[] {
  const review = reviewConfKeys(file, honoured, ignored);
  const summary = ignoredKeysMessage(review.ignored);
  return [
    ...(summary === undefined ? [] : [`${what}: ${summary}`]),
    ...review.unknown.map(unknownKeyMessage),
  ];
}

/**
 * Pandora stops when its incoming folder is missing rather than spooling into a folder nobody
 * watches (a typo in incomingdir). With a configuration file we do the same; on the built-in
 * defaults (no file, a development run) the folder is created as before.
 */
export function requireIncomingDir(dir: string, fromConfigFile: boolean): void {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch {
    if (!fromConfigFile) return;
    throw new ConfigError(
      `incomingdir ${dir} does not exist: create it (owned by the service user) or fix incomingdir`,
    );
  }
  if (!isDirectory) throw new ConfigError(`incomingdir ${dir} is not a directory`);
}
