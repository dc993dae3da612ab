/** The agent XML generator (our `pandora_xml_stress`, spec dataserver.md §8). */
export {
  createFleet,
  dataFileName,
  formatLocal,
  writeFiles,
  type FileNameStyle,
  type Fleet,
  type FleetOptions,
  type GeneratedFile,
  type Pass,
} from './fleet.js';
export {
  capacityStudyModules,
  CAPACITY_STUDY_MODULE_COUNT,
  CRITICAL_THRESHOLD,
  WARNING_THRESHOLD,
  type ModuleSpec,
  type ModuleType,
} from './modules.js';
export { drawValue, nextValue, profileCardinality, type ModuleProfile } from './profiles.js';
export { createRng, deriveSeed, type Rng } from './rng.js';
export {
  cdata,
  encodeAgentXml,
  ENCODING_OF_STYLE,
  escapeAttribute,
  renderAgentXml,
  XML_DECLARATION,
  type AgentDocument,
  type AgentStyle,
} from './xml.js';
