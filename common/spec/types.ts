/* Compiled cluster spec: validated, defaults applied, camelCase, sizes in bytes. Built by compileClusterSpec. */
import type { ClusterNameSource } from './cluster-name.js';
import type { IRONIC_INTERFACES } from './schema-fields.js';
import type { GUEST_ARCHES } from './rules.js';

/** Firmware of a node. */
export type BootMode = 'uefi' | 'bios';
/** Guest architecture of a node. */
export type Arch = (typeof GUEST_ARCHES)[number];
/** Ironic driver, and so which emulated BMC Ironic talks to. */
export type IronicDriver = 'ipmi' | 'redfish';
/** Kind of the tenks bridge of each physnet. */
export type BridgeType = 'openvswitch' | 'linuxbridge';
/** Disk format of a volume. */
export type VolumeFormat = 'qcow2' | 'raw';
/** Scheduling strategy for new nodes. */
export type SchedulerStrategy = 'spread' | 'pack' | 'round_robin' | 'random';
/** An Ironic hardware interface that `ironic_config` may set. */
export type IronicInterface = (typeof IRONIC_INTERFACES)[number];

/** Where a volume's content comes from (the agent's VolumeSource). */
export type VolumeSource =
  | { kind: 'blank' }
  /** Copy of an image file on the hypervisor. */
  | { kind: 'image'; path: string }
  /** Copy-on-write overlay on an image file on the hypervisor. */
  | { kind: 'backing'; path: string }
  /** An existing pool volume or file/block device; `{node}` in `ref` stands for the node name. */
  | { kind: 'existing'; ref: string };

/** Source device of a physnet on a host. */
export interface PhysnetMapping {
  /** Interface, Linux bridge or OVS bridge. */
  device: string;
  /** VLAN on that device, or null for untagged. */
  vlan: number | null;
}

/** An inclusive port range. */
export interface PortRange {
  /** First port. */
  start: number;
  /** Last port, included. */
  end: number;
}

/** Settings of one hypervisor, with cluster-wide values filled in where the host sets none. */
export interface HostSettings {
  /** Physnets the spec maps on this host (the host's own mappings replace the global ones). */
  physnetMappings: Readonly<Record<string, PhysnetMapping>>;
  /** Address Ironic uses for IPMI; `0.0.0.0`/`::` mean the agent's advertised BMC address. */
  ipmiAddress: string;
  /** IPMI ports for this cluster's nodes, or null for the agent's whole range. */
  ipmiPortRange: PortRange | null;
  /** Address Ironic uses for Redfish; `0.0.0.0`/`::` mean the agent's address. */
  redfishAddress: string;
}

/** A volume of a node type. */
export interface VolumeTemplate {
  /** Explicit name, or null for `<vol_name_prefix><index>`. */
  name: string | null;
  /** Size; null only for an `existing` volume given without capacity (it stays as it is). */
  capacityBytes: number | null;
  format: VolumeFormat;
  source: VolumeSource;
}

/** A node type. */
export interface NodeType {
  name: string;
  memoryMb: number;
  vcpus: number;
  volumes: readonly VolumeTemplate[];
  /** One NIC per entry, in order. */
  physicalNetworks: readonly string[];
  consoleLog: boolean;
  vnc: boolean;
  /** Firmware the type asks for (`boot_mode` or `boot_firmware`), or null to leave it to spec and default. */
  bootMode: BootMode | null;
  /** Driver the type asks for, or null for the default. */
  ironicDriver: IronicDriver | null;
  /** QEMU machine type, or null for the boot mode's default. */
  machine: string | null;
  /** libvirt CPU mode, `none` for no <cpu> element (upstream's empty cpu_mode), or null for the default. */
  cpuMode: string | null;
  /** Guest clock (`utc`, `localtime`, `variable`, a time zone), or null for the cluster's. */
  clockOffset: string | null;
  /** Guest architecture the type asks for, or null for the cluster's (`libvirt_vm_arch`). */
  arch: Arch | null;
}

/** Enrolment of a spec's nodes in Ironic. */
export interface IronicConfig {
  resourceClass: string;
  traits: readonly string[];
  /** User properties; they override the defaults (cpus, memory_mb, local_gb, capabilities). */
  properties: Readonly<Record<string, string | number | boolean>>;
  /** `<name>_interface` values that were given. */
  interfaces: Readonly<Partial<Record<IronicInterface, string>>>;
  conductorGroup: string | null;
  shard: string | null;
}

/** One entry of `specs`, with every default resolved. */
export interface NodeSetSpec {
  /** Position in `specs`. */
  index: number;
  /** Node type name (a key of nodeTypes). */
  type: string;
  count: number;
  nodeNamePrefix: string;
  volNamePrefix: string;
  ironicConfig: IronicConfig | null;
  /** spec `ironic_driver`, else the type's, else `default_ironic_driver`. */
  ironicDriver: IronicDriver;
  /** `boot_mode` capability in ironic_config.properties, else the type's, else `default_boot_mode`. */
  bootMode: BootMode;
}

/** A Nova flavor. */
export interface NovaFlavor {
  name: string;
  resourceClass: string;
  nodeType: string;
  requiredTraits: readonly string[];
  forbiddenTraits: readonly string[];
  /** Extra specs, values as strings (Nova stores strings). */
  customSpecs: Readonly<Record<string, string>>;
}

/** Weights of the free-capacity fractions that spread and pack combine. */
export interface SchedulerWeights {
  ram: number;
  vcpus: number;
  disk: number;
}

/** Scheduler settings (`scheduler` in the spec). */
export interface SchedulerSpec {
  strategy: SchedulerStrategy;
  /** Seed of the random strategy. */
  seed: number;
  weights: SchedulerWeights;
  /** Schedulable vCPUs per host CPU. */
  cpuAllocationRatio: number;
  /** Schedulable RAM per byte of host RAM (before the reserve is taken off). */
  ramAllocationRatio: number;
  /** Schedulable volume capacity per byte of pool capacity (thin qcow2 lets this exceed 1). */
  diskAllocationRatio: number;
  /** RAM kept for the host, in MiB. */
  reservedHostMemoryMb: number;
}

/** A compiled cluster spec. */
export interface ClusterSpec {
  /** Cluster name (DNS-label-like); marks every object tenks creates for it. */
  name: string;
  /** Where the name came from: `name`, `state_file_path` (see cluster-name.ts) or the default. */
  nameSource: ClusterNameSource;
  /** `state_file_path` as written (Jinja unrendered), or null when the spec has none. */
  stateFilePath: string | null;
  /** Kind of the tenks bridge of each physnet on every host. */
  bridgeType: BridgeType;
  /** Global physnet mappings: every host without its own. */
  physnetMappings: Readonly<Record<string, PhysnetMapping>>;
  /** Hypervisors the cluster may use (agent id -> settings), or null for every live agent. */
  hypervisors: Readonly<Record<string, HostSettings>> | null;
  /** Node types by name. */
  nodeTypes: Readonly<Record<string, NodeType>>;
  /** `specs`, in order, each with its defaults resolved. */
  specs: readonly NodeSetSpec[];
  novaFlavors: readonly NovaFlavor[];
  /** Driver of nodes whose spec and type set none (already resolved into each NodeSetSpec). */
  defaultIronicDriver: IronicDriver;
  /** IPMI BMC settings of every node (per-host overrides in `hypervisors`). */
  ipmi: {
    /** Address Ironic uses; `0.0.0.0`/`::` mean the agent's advertised BMC address. */
    address: string;
    /** IPMI ports for this cluster's nodes, or null for the agent's range. */
    portRange: PortRange | null;
    username: string;
    password: string;
  };
  /** Redfish service settings; credentials default to the IPMI ones. */
  redfish: { address: string; username: string; password: string };
  /** Firmware of nodes whose spec and type set none (already resolved into each NodeSetSpec). */
  defaultBootMode: BootMode;
  /** Architecture of nodes whose type sets none (`libvirt_vm_arch`). */
  defaultArch: Arch;
  /** Glance name/UUID or URL, or null to leave it to Ironic's configuration. */
  deployKernel: string | null;
  deployRamdisk: string | null;
  /** Wait for Placement to show the resource class inventory after enrolment. */
  waitForPlacement: boolean;
  /** clouds.yaml cloud to enrol in, or null for the coordinator's choice. */
  cloud: string | null;
  /** Provision state enrolled nodes end in. */
  ironicTargetState: 'enroll' | 'manageable' | 'available';
  /** Ironic's redfish_verify_ca for Redfish nodes, or null to leave it to Ironic. */
  redfishVerifyCa: boolean | string | null;
  /** The libvirt pool the agents are expected to use (upstream `libvirt_pool_*`). */
  libvirtPool: { name: string; path: string; type: 'dir' | 'logical' };
  /** Console logs go to `<logDirectory>/libvirt/<node>-console.log`; null: the agent's log directory. */
  logDirectory: string | null;
  /** Upstream libvirt-vm role settings of every node of the cluster. */
  libvirtVm: LibvirtVmSettings;
  /** Default node name prefix (already resolved into each NodeSetSpec). */
  nodeNamePrefix: string;
  /** Default volume name prefix (already resolved into each NodeSetSpec). */
  volNamePrefix: string;
  /** How new nodes are placed. */
  scheduler: SchedulerSpec;
}

/** The upstream `libvirt_vm_*` variables tenks honours, per cluster. */
export interface LibvirtVmSettings {
  /** Forced engine, or null for the agent's choice (KVM where it runs, else TCG). */
  engine: 'kvm' | 'qemu' | null;
  /** Emulator path, or a template each agent renders with its host's facts; null: libvirt's. */
  emulator: string | null;
  /** Console log directory, or null for `<log_directory>/libvirt`. */
  consoleLogDir: string | null;
  /** Owner (user and group) of the console log directory, or null to leave it. */
  logOwner: string | null;
  /** trustGuestRxFilters on the nodes' macvtap NICs. */
  trustGuestRxFilters: boolean;
  /** Guest clock, or null for utc. */
  clockOffset: string | null;
}

/** A volume of a desired node. */
export interface DesiredVolume {
  /** Name within the node (`vol0`); the pool volume is `<node>-<name>`. */
  name: string;
  /** Size; null only for an `existing` volume without capacity. */
  capacityBytes: number | null;
  format: VolumeFormat;
  /** With `{node}` already replaced. */
  source: VolumeSource;
}

/** One node the spec asks for. */
export interface DesiredNode {
  cluster: string;
  /** `<node_name_prefix><index>`: the libvirt domain name. */
  name: string;
  /** Index in the prefix's sequence (shared by specs with the same prefix). */
  index: number;
  /** Position of its entry in `specs`. */
  specIndex: number;
  nodeType: string;
  memoryMb: number;
  vcpus: number;
  volumes: readonly DesiredVolume[];
  /** One NIC per entry, in order. */
  physnets: readonly string[];
  bootMode: BootMode;
  /** The type's architecture, else the cluster's. */
  arch: Arch;
  consoleLog: boolean;
  vnc: boolean;
  machine: string | null;
  cpuMode: string | null;
  /** The cluster's libvirt-vm settings, with the node type's clock offset applied. */
  libvirt: LibvirtVmSettings;
  driver: IronicDriver;
  ironicConfig: IronicConfig | null;
  /**
   * Hash of what defines the VM (memory, vCPUs, volumes, physnets, boot mode, console, VNC, machine,
   * CPU mode, architecture); equal for nodes that need the same VM. Not the name, driver or Ironic config.
   */
  fingerprint: string;
}
