/** What the rest of the coordinator may use from coordinator/openstack/. */
export type {
  IronicApi,
  IronicNode,
  IronicPort,
  JsonPatchOp,
  NovaApi,
  NovaFlavor,
  OpenStackClients,
  OpenStackConnector,
} from './types.js';
export { connectOpenStack, DEFAULT_OPENSTACK_TIMEOUT_MS, type OpenStackConnection } from './connection.js';
export { cachedCloudConnector } from './connection-cache.js';
export { endpointServiceOf, type CloudAuth, type CloudConfig } from './cloud-config.js';
export { cloudSearchDirs } from './clouds-yaml.js';
export { loadCloudConfig } from './clouds.js';
