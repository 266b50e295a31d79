/** The libvirt binding, as the agent's libvirt adapters (agent/compute) and the tests see it. */
export {
  Connection,
  DomainEventCode,
  DomainStateCode,
  DomainXmlFlags,
  LibvirtError,
  ModifyFlags,
  UndefineFlags,
  VirErr,
  type Domain,
  type LifecycleEvent,
  type StoragePool,
  type Volume,
} from './libvirt.js';
