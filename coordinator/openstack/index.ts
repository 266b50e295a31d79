/** What the rest of the coordinator may use from coordinator/openstack/. */
export type * from './types.js';
export {
  connectCloud,
  connectOpenStack,
  DEFAULT_OPENSTACK_TIMEOUT_MS,
  type ConnectOptions,
  type OpenStackConnection,
} from './connection.js';
export { cachedCloudConnector, type CloudSettings } from './connection-cache.js';
export {
  endpointServiceOf,
  SERVICE_TYPES,
  type AuthType,
  type CloudAuth,
  type CloudConfig,
  type CloudLookupOptions,
  type CloudTls,
  type EndpointInterface,
  type ServiceSettings,
  type ServiceType,
} from './cloud-config.js';
export { cloudSearchDirs } from './clouds-yaml.js';
export { loadCloudConfig } from './clouds.js';
export {
  IRONIC_KNOWN_MICROVERSION,
  IRONIC_MIN_MICROVERSION,
  IRONIC_MIN_MICROVERSION_REASON,
  IronicClient,
} from './ironic.js';
export { NOVA_EXTRA_SPECS_MICROVERSION, NOVA_MIN_MICROVERSION, NovaClient } from './nova.js';
export { placementResourceClass, PlacementClient } from './placement.js';
export { GlanceClient } from './glance.js';
export { codeOfStatus, openStackErrorMessage } from './errors.js';
export { compareMicroversions, parseMicroversion } from './microversion.js';
export { Secret } from './secret.js';
