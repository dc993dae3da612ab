export { processPacket } from './process-packet.js';
export { DEFAULT_LOGIC_CONFIG } from './defaults.js';
export { backlogEvent, badXmlEvent, DEFAULT_EVENT_TEXTS, poisonFileEvent } from './events.js';
export { initialStatus } from './module-config.js';
export { ASYNC_TYPE_IDS, classifyModuleType, KEEP_ALIVE_TYPE_ID } from '../../pandora/index.js';
export { formatLocalDateTime, NEVER_EPOCH, NEVER_TEXT, parseLocalDateTime } from './time.js';
export { formatFixed, formatStored, parseNumeric } from './values.js';
