/**
 * What an agent is asked and answers (proto AgentService), in tenks terms: enums are lower-case
 * names, messages that may be absent are null. common/grpc maps them to and from the wire, so
 * nothing else needs the generated types.
 */
import type { BootMode, BridgeType } from '../spec/types.js';

/** Power states an agent reports, by name. */
export const POWER_STATES = ['on', 'off', 'paused', 'shutting_down', 'crashed', 'suspended'] as const;
/** A node's power state; `unknown` when nobody could say (its agent did not answer, or sent no state). */
export type PowerState = (typeof POWER_STATES)[number] | 'unknown';

/** Power actions, by name. */
export const POWER_ACTIONS = ['on', 'off', 'soft_off', 'reset', 'nmi', 'cycle'] as const;
/** One of {@link POWER_ACTIONS}. */
export type PowerAction = (typeof POWER_ACTIONS)[number];

/** Devices a node boots from first, by name. */
export const BOOT_DEVICES = ['network', 'disk', 'cdrom'] as const;
/** A node's first boot device; `unknown` when nobody could say. */
export type BootDevice = (typeof BOOT_DEVICES)[number] | 'unknown';

/** Kinds of node event an agent streams, by name. */
export const NODE_EVENT_TYPES = [
  'defined',
  'undefined',
  'started',
  'stopped',
  'suspended',
  'resumed',
  'shutdown',
  'crashed',
] as const;
/** One of {@link NODE_EVENT_TYPES}; `unspecified` for an event the agent could not classify. */
export type NodeEventType = (typeof NODE_EVENT_TYPES)[number] | 'unspecified';

/** Identifies a node on an agent: by name in a cluster, or by UUID. */
export interface NodeRef {
  cluster: string;
  name: string;
  uuid: string;
}

/** A disk of a node to make. At most one of image, backingImage and existing; none: blank. */
export interface VolumeSpec {
  /** Suffix of the volume's name (`<node>-<name>`); empty: `vol<index>`. */
  name?: string;
  /** Size in Tenks syntax (`10GiB`, bytes); empty with image or existing. */
  capacity?: string;
  /** Image (a path on the hypervisor) to copy into the volume. */
  image?: string;
  /** Image (a path on the hypervisor) to back a copy-on-write volume. */
  backingImage?: string;
  /** An existing pool volume (by name) or file or block device (absolute path). */
  existing?: string;
  /** `qcow2` or `raw`; empty: qcow2. */
  format?: string;
}

/** A NIC of a node to make; an empty MAC lets the agent choose one. */
export interface NicSpec {
  physnet: string;
  mac?: string;
}

/** What a node's emulated BMC should be. Empty credentials and port 0 let the agent choose. */
export interface BmcSpec {
  ipmiEnabled: boolean;
  redfishEnabled: boolean;
  username: string;
  /** Never logged. */
  password: string;
  ipmiPort: number;
}

/** A node as an agent is asked to make it (EnsureNode). Empty or left-out fields are the agent's choice. */
export interface NodeSpec {
  cluster: string;
  name: string;
  uuid?: string;
  /** The spec's node type (informational). */
  nodeType?: string;
  memoryMb: number;
  vcpus: number;
  /** QEMU machine type. */
  machine?: string;
  /** libvirt CPU mode; `none`: no `<cpu>` element. */
  cpuMode?: string;
  bootMode: BootMode;
  volumes: VolumeSpec[];
  nics: NicSpec[];
  consoleLogEnabled?: boolean;
  vncEnabled?: boolean;
  bmc?: BmcSpec;
  labels?: Record<string, string>;
  /** Guest architecture; empty: x86_64. */
  arch?: string;
  /** `kvm` or `qemu`. */
  engine?: string;
  emulator?: string;
  consoleLogDir?: string;
  consoleLogOwner?: string;
  trustGuestRxFilters?: boolean;
  clockOffset?: string;
}

/** A volume as it exists on the host. */
export interface VolumeStatus {
  name: string;
  pool: string;
  path: string;
  capacityBytes: number;
  allocationBytes: number;
  format: string;
}

/** A NIC as it exists on the host: what Ironic's port needs. */
export interface NicStatus {
  physnet: string;
  mac: string;
  /** The tenks bridge of the physnet (Ironic local_link_connection.switch_info). */
  bridge: string;
  /** The bridge's MAC (Ironic local_link_connection.switch_id). */
  bridgeMac: string;
  /** Switch-side port name (Ironic local_link_connection.port_id). */
  switchPort: string;
}

/** IPMI endpoint of a node's BMC; the password is '' unless secrets were asked for. */
export interface IpmiEndpoint {
  address: string;
  port: number;
  username: string;
  password: string;
}

/** Redfish endpoint of a node's BMC; the password is '' unless secrets were asked for. */
export interface RedfishEndpoint {
  /** Base URL, e.g. `http://192.0.2.1:8000`. */
  url: string;
  /** `/redfish/v1/Systems/<uuid>`. */
  systemId: string;
  username: string;
  password: string;
}

/** A node's emulated BMC endpoints (null: that protocol is off). */
export interface BmcInfo {
  ipmi: IpmiEndpoint | null;
  redfish: RedfishEndpoint | null;
}

/** A node as observed on its host. */
export interface NodeStatus {
  cluster: string;
  name: string;
  uuid: string;
  nodeType: string;
  /** The agent (hypervisor) the node lives on. */
  hypervisor: string;
  powerState: PowerState;
  memoryMb: number;
  vcpus: number;
  bootMode: BootMode | 'unknown';
  machine: string;
  volumes: VolumeStatus[];
  nics: NicStatus[];
  /** Null when the agent did not say (the node's agent did not answer). */
  bmc: BmcInfo | null;
  /** Hash of the NodeSpec last applied. */
  specHash: string;
  /** Serial console log path, '' when disabled. */
  consoleLogPath: string;
  /** `kvm` or `qemu`. */
  engine: string;
  /** Boot device of the next power-on. */
  bootDevice: BootDevice;
  labels: Record<string, string>;
  /** Guest architecture; '' when not known. */
  arch: string;
}

/** A storage pool on a host. */
export interface PoolInfo {
  name: string;
  /** `dir` or `logical`. */
  type: string;
  /** Directory path or volume group name. */
  path: string;
  capacityBytes: number;
  availableBytes: number;
}

/** A physnet to set up on a host: where it is plugged in (VLAN 0: none). */
export interface PhysnetSetup {
  physnet: string;
  device: string;
  vlan: number;
}

/** A physnet as set up on a host. */
export interface PhysnetStatus extends PhysnetSetup {
  bridge: string;
  bridgeMac: string;
  bridgeType: BridgeType;
  /** Clusters using the bridge (it stays while any does). */
  clusters: string[];
}

/** What a hypervisor host has. */
export interface HostInfo {
  hostname: string;
  agentId: string;
  agentVersion: string;
  libvirtUri: string;
  libvirtVersion: number;
  hypervisorVersion: number;
  /** `kvm` when usable, else `qemu`. */
  engine: string;
  cpus: number;
  memoryBytes: number;
  freeMemoryBytes: number;
  pool: PoolInfo | null;
  physnets: PhysnetStatus[];
  bmcPortRangeStart: number;
  bmcPortRangeEnd: number;
  nodeCount: number;
  uefiAvailable: boolean;
  /** Guest architectures the host runs. */
  arches: string[];
  /** Those of arches with UEFI firmware. */
  uefiArches: string[];
}

/** A change of a node an agent saw (WatchEvents). */
export interface NodeEvent {
  type: NodeEventType;
  cluster: string;
  name: string;
  uuid: string;
  powerState: PowerState;
  timeUnixMs: number;
}

/** What EnsureNode did. */
export interface EnsureNodeResult {
  /** The node as it is now (null only from a broken agent). */
  node: NodeStatus | null;
  changed: boolean;
  changes: string[];
  /** Some changes take effect at the next power-on. */
  pendingRestart: boolean;
}

/** What DeleteNode did. */
export interface DeleteNodeResult {
  existed: boolean;
  removed: string[];
}

/** What a power action did. */
export interface PowerResult {
  powerState: PowerState;
  changed: boolean;
}

/** The physnets of a cluster to set up on a host. */
export interface SetupHostRequest {
  cluster: string;
  bridgeType: BridgeType;
  physnets: PhysnetSetup[];
}

/** What SetupHost did, and every physnet of the host now. */
export interface SetupHostResult {
  physnets: PhysnetStatus[];
  changed: boolean;
  changes: string[];
}

/** What TeardownHost did. */
export interface TeardownHostResult {
  changed: boolean;
  removed: string[];
}
