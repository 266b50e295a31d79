/** The agent's compute plane, as the rest of the agent sees it. */
export type * from './types.js';
export type * from './hypervisor.js';
export type * from './storage.js';
export {
  compileNodeSpec,
  specHash,
  rawNodeSpec,
  rawVolume,
  type RawNodeSpec,
  type RawVolumeSpec,
} from './node-spec.js';
// The agent's node, physnet and cluster names follow the cluster spec's rule.
export { NAME_PATTERN } from '../../common/spec/rules.js';
export {
  NodeManager,
  volumeName,
  mediaVolumeName,
  type FirmwarePatch,
  generateMac,
  diffSpecs,
  type NodeRef,
  type EnsureResult,
  type DeleteResult,
  type NodeLock,
  type NicWiring,
  type NodeManagerOptions,
} from './node-manager.js';
export { LibvirtHypervisor, powerStateOf, type LibvirtHypervisorOptions } from './hypervisor-libvirt.js';
export { parseCapabilities, type Capabilities } from './libvirt-capabilities.js';
export { LibvirtStorage, type LibvirtStorageOptions } from './storage-libvirt.js';
export { HostPathPolicy, resolveHostPath, type HostPathPolicyOptions } from './host-paths.js';
export { FakeHypervisor } from './hypervisor-fake.js';
export { FakeStorage } from './storage-fake.js';
export { DEFAULT_FIRMWARE } from './hypervisor.js';
export { domainXml, metadataXml, parseMetadata, secureBootMachine, METADATA_NS, METADATA_KEY } from './domain-xml.js';
