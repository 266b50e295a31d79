/** The agent's compute plane, as the rest of the agent sees it. */
export type {
  Arch,
  BootDevice,
  BootMode,
  HostFacts,
  NodeSpec,
  NodeStatus,
  PoolInfo,
  PowerAction,
  PowerState,
} from './types.js';
export type { CallOptions, DomainEvent, DomainNic, Hypervisor } from './hypervisor.js';
export type { Storage } from './storage.js';
export type { NicWiring } from './nic-wiring.js';
export { compileNodeSpec, type RawNodeSpec } from './node-spec.js';
// The agent's node, physnet and cluster names follow the cluster spec's rule.
export { NAME_PATTERN } from '../../common/spec/rules.js';
export { NodeManager, type NodeLock } from './node-manager.js';
export type { DeleteResult, EnsureResult, NodeRef } from './node-lifecycle.js';
export type { FirmwarePatch } from './node-firmware.js';
export { LibvirtHypervisor } from './hypervisor-libvirt.js';
export { LibvirtStorage } from './storage-libvirt.js';
export { HostPathPolicy } from './host-paths.js';
export { secureBootMachine } from './domain-xml.js';
export { POWER_AFTER_EVENT } from './power-after-event.js';
