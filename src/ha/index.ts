export { HA_SETTINGS, haConfigFrom } from './settings.js';
export type { HaConfig, HaSettings } from './settings.js';
export { HA_DDL, ensureHaSchema } from './schema.js';
export { createHaCoordinator } from './coordinator.js';
export type {
  CoordinatorOptions,
  FencedContext,
  HaCoordinator,
  HaSnapshot,
  PandoraMaster,
  Role,
  RoleChange,
} from './coordinator.js';
export { DATASERVER_TYPE } from './membership.js';
export type { Membership, Peer } from './membership.js';
export { createMasterJob } from './master-job.js';
export type { MasterJob } from './master-job.js';
export { markUnknownModules, UNKNOWN_BLOCK_SIZE } from './unknown-detector.js';
export type { UnknownAlertHook } from './unknown-detector.js';
export { createNodeState } from './node-state.js';
export type { NodeState, NodeStateConfig, NodeStateDeps } from './node-state.js';
export { createHaRuntime } from './runtime.js';
export type { AlertDutyHooks, HaRuntime, IntakeHooks } from './runtime.js';
export { adoptDeadPeerFolders, finishStagedAdoptions } from './folder-takeover.js';
export type { Adoption, FolderTakeoverConfig } from './folder-takeover.js';
export { createOwnerMarkerCheck, OWNER_FILE } from './owner-marker.js';
