import type { LogicConfig } from '../types.js';
import { DEFAULT_EVENT_TEXTS } from './events.js';

/** The shipped pandora_server.conf values of the §7 keys (the §9 acceptance fixture). */
export const DEFAULT_LOGIC_CONFIG: LogicConfig = {
  autocreate: true,
  autocreateGroup: 10,
  autocreateGroupName: '',
  autocreateGroupForce: false,
  updateParent: true,
  dataserverLifo: false,
  eventAutoValidation: true,
  unknownEvents: true,
  warmupEventInterval: 0,
  eventStormProtection: false,
  graphPrecision: 1,
  ...DEFAULT_EVENT_TEXTS,
};
