/**
 * Agent-side delivery (ha.md §1): primary/secondary failover, the ordered buffer and the
 * shipper, as used by `tentacle-client` with delivery options.
 */
export {
  DELIVERY_SETTINGS,
  loadDeliveryConfig,
  parseAddressList,
  type DeliveryConfig,
  type DeliveryConfigSources,
  type SecondaryMode,
  type TargetConfig,
} from './config.js';
export { runDeliveryCycle, type CycleReport, type FileReport } from './cycle.js';
export { createShipper, type Shipper, type ShipperOptions } from './shipper.js';
export { createTargetLink, type TargetLink } from './link.js';
export { runDeliveryCommand } from './cli.js';
