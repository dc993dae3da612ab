export {
  AlertDefinitionCache,
  loadAlertDefinitions,
  type AlertDefinitions,
} from './definitions.js';
export { AlertEngine, type AlertDatumContext, type AlertOutcome } from './engine.js';
export { evaluateAlert, type EvaluateInputs } from './evaluate.js';
export { conditionMet } from './conditions.js';
export { buildAlertRecord } from './record.js';
export { alertClock } from './clock.js';
export {
  decodeQueueData,
  encodeQueueData,
  encodeQueuePayload,
  queuePayloadJson,
  QueueMode,
  type QueuePayload,
} from './queue-row.js';
export { counterUpdate, counterUpdateSql, type AlertConnection } from './apply-sql.js';
export { DeferredAlertWrites, deferringConnection } from './deferred-writes.js';
export {
  ALERT_SETTINGS,
  alertConfigFrom,
  resolveAlertConfig,
  DEFAULT_ALERT_CONFIG,
  type AlertConfig,
} from './settings.js';
export { AlertWarmUp, systemEventSql, warmUpStartedSql } from './warm-up.js';
export { createAlertMetrics, recordAlertOutcome, type AlertMetrics } from './metrics.js';
export {
  AlertResult,
  WEEKDAYS,
  type AlertDatum,
  type AlertRecord,
  type AlertResultCode,
  type Row,
} from './types.js';
export { AlertQueueMonitor, type QueueCheck } from './queue-monitor.js';
export { attachAlertTemplates } from './attach.js';
export { queueForcedExecutions, recomputeFiredCounts } from './master-duties.js';
export { createAlertService, type AlertService, type UnknownModule } from './service.js';
