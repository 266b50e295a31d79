import type { BootDevice, BootMode, Engine, HostFacts, NodeSpec, PowerState } from './types.js';

/** Where a domain disk's data lives. */
export type DiskSource =
  { type: 'volume'; pool: string; volume: string } | { type: 'file'; path: string } | { type: 'block'; path: string };

/** One disk of a domain. */
export interface DiskSpec {
  source: DiskSource;
  format: string;
}

/** One NIC of a domain, attached to an existing host device. */
export interface DomainNic {
  mac: string;
  /** How the NIC attaches: a Linux bridge, an OVS bridge (virtualport), or an existing tap/veth end. */
  attach: { type: 'bridge'; bridge: string; openvswitch: boolean } | { type: 'direct'; device: string };
  /** Interface alias (libvirt `ua-` prefixed alias) naming the NIC. */
  alias: string;
}

/** What tenks records on every domain it creates (libvirt `<metadata>`). */
export interface NodeMetadata {
  /** Metadata format version. */
  version: 1;
  cluster: string;
  name: string;
  uuid: string;
  specHash: string;
  /** The spec last applied, with the generated UUID and MACs filled in. */
  spec: NodeSpec;
  /** Pool volumes tenks created for this node and must delete with it. */
  ownedVolumes: string[];
  /** Boot device of the next power-on, and whether it persists. */
  bootDevice: BootDevice;
  bootPersistent: boolean;
  /** The device to go back to after a one-time boot device has been used. */
  persistentBootDevice: BootDevice;
}

/** Everything needed to define a domain. */
export interface DomainSpec {
  name: string;
  uuid: string;
  memoryMb: number;
  vcpus: number;
  machine: string;
  cpuMode: string | null;
  bootMode: BootMode;
  engine: Engine;
  disks: DiskSpec[];
  nics: DomainNic[];
  /** Boot order, first device first. */
  bootOrder: BootDevice[];
  /** Serial console log file, or null. */
  consoleLogPath: string | null;
  vnc: boolean;
  metadata: NodeMetadata;
}

/** A domain as the hypervisor reports it. */
export interface DomainSummary {
  name: string;
  uuid: string;
  powerState: PowerState;
  /** Our metadata, or null for a domain tenks did not create. */
  metadata: NodeMetadata | null;
}

/** Low-level power operations of a domain. */
export type DomainPowerOp = 'start' | 'destroy' | 'shutdown' | 'reset' | 'nmi';

/** A domain lifecycle event. */
export interface DomainEvent {
  type: 'defined' | 'undefined' | 'started' | 'stopped' | 'suspended' | 'resumed' | 'shutdown' | 'crashed' | 'other';
  name: string;
  uuid: string;
  timeMs: number;
}

/** Call options of long or remote operations. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** The compute side of a hypervisor host. The libvirt adapter and an in-memory fake implement it. */
export interface Hypervisor {
  /** Connection URI, for reports. */
  readonly uri: string;
  /** Host facts; the engine is detected once, at connect. */
  facts(o?: CallOptions): Promise<HostFacts>;
  /** Every domain (tenks' and others'; callers filter on `metadata`). */
  listDomains(o?: CallOptions): Promise<DomainSummary[]>;
  /** One domain by name, or null. */
  getDomain(name: string, o?: CallOptions): Promise<DomainSummary | null>;
  /** One domain by UUID, or null. */
  getDomainByUuid(uuid: string, o?: CallOptions): Promise<DomainSummary | null>;
  /** Defines or redefines (same name and UUID) a persistent domain. */
  defineDomain(spec: DomainSpec, o?: CallOptions): Promise<DomainSummary>;
  /** Replaces only the tenks metadata of a domain. */
  setMetadata(name: string, metadata: NodeMetadata, o?: CallOptions): Promise<void>;
  /** Removes a domain's definition with its NVRAM and managed save; it must be off. */
  undefineDomain(name: string, o?: CallOptions): Promise<void>;
  power(name: string, op: DomainPowerOp, o?: CallOptions): Promise<void>;
  powerState(name: string, o?: CallOptions): Promise<PowerState>;
  /** Lifecycle events until `signal` aborts. */
  events(signal: AbortSignal): AsyncIterable<DomainEvent>;
  close(): Promise<void>;
}
