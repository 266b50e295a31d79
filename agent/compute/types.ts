/** Domain types of the agent's compute plane. No protobuf types here: `agent/rpc/` maps to and from them. */

import type { NodeStatus as ReportedNode, PowerAction, PowerState, VolumeStatus } from '../../common/api/index.js';
import type { Arch, BootMode, VolumeFormat, VolumeSource } from '../../common/spec/types.js';

/**
 * The node vocabulary the agent shares with the cluster spec: firmware, guest architecture, volume
 * format and volume source (whose `existing` references arrive with the node name filled in).
 */
export type { Arch, BootMode, VolumeFormat, VolumeSource };

/** Accelerator QEMU runs with. */
export type Engine = 'kvm' | 'qemu';
/** Power states and actions, as the agent's API names them. */
export type { PowerAction, PowerState };
/** First boot device. */
export type BootDevice = 'network' | 'disk' | 'cdrom';

/** A compiled volume of a node. */
export interface VolumeSpec {
  /** Suffix, unique within the node (`vol0`). */
  name: string;
  capacityBytes: number;
  format: VolumeFormat;
  source: VolumeSource;
}

/** A compiled NIC of a node. */
export interface NicSpec {
  physnet: string;
  /** Lower-case MAC, or null to let the agent choose once. */
  mac: string | null;
}

/** A node as the agent is asked to make it, validated and with defaults applied. */
export interface NodeSpec {
  cluster: string;
  name: string;
  /** Lower-case canonical UUID, or null to let the agent generate one. */
  uuid: string | null;
  nodeType: string;
  memoryMb: number;
  vcpus: number;
  /** QEMU machine type, null for the default of the boot mode. */
  machine: string | null;
  /** libvirt CPU mode, null for the engine's default. */
  cpuMode: string | null;
  bootMode: BootMode;
  volumes: VolumeSpec[];
  nics: NicSpec[];
  consoleLog: boolean;
  vnc: boolean;
  labels: Record<string, string>;
  /*
   * Upstream libvirt-vm settings. Optional: metadata of nodes made before they existed lacks them,
   * and they are left out of a spec (so out of its hash) at their defaults.
   */
  /** Forced engine; absent: the host's. */
  engine?: Engine;
  /** Emulator path, or a template rendered with the host's facts; absent: libvirt's. */
  emulator?: string;
  /** Console log directory; absent: <log_directory>/libvirt. */
  consoleLogDir?: string;
  /** Owner (user and group) given to the console log directory; absent: left as it is. */
  consoleLogOwner?: string;
  /** trustGuestRxFilters on the macvtap NICs; absent: off. */
  trustGuestRxFilters?: true;
  /** Guest clock; absent: utc. */
  clockOffset?: string;
  /** Guest architecture; absent: x86_64 (so nodes made before it existed keep their hash). */
  arch?: Exclude<Arch, 'x86_64'>;
}

/** A volume as it exists (the agent reports it as is). */
export type VolumeInfo = VolumeStatus;

/** A pool as it exists. */
export interface PoolInfo {
  name: string;
  type: 'dir' | 'logical';
  path: string;
  capacityBytes: number;
  availableBytes: number;
}

/** Firmware settings a BMC changed (see FirmwareState in hypervisor.ts). */
export interface NodeFirmware {
  /** Boot mode in effect: the BMC's choice, else the spec's. */
  bootMode: BootMode;
  secureBoot: boolean;
  bios: Record<string, string | number | boolean> | null;
  indicatorLed: 'Lit' | 'Off' | 'Blinking';
  verifyMediaCertificate: boolean;
}

/**
 * A node as observed on the host: what the agent reports of it (common/api's NodeStatus, whose BMC
 * endpoints come from bmc/), in the agent's narrower types, and what its BMC needs besides.
 */
export interface NodeStatus extends Omit<ReportedNode, 'bootMode' | 'arch' | 'engine' | 'bootDevice' | 'bmc'> {
  bootMode: BootMode;
  arch: Arch;
  engine: Engine;
  bootDevice: BootDevice;
  /** Whether the boot device applies to every boot (false: the next one only). */
  bootPersistent: boolean;
  /** Firmware as the BMC sees it. */
  firmware: NodeFirmware;
  /** The virtual CD, or null when empty. */
  media: { image: string; inserted: boolean; writeProtected: boolean } | null;
}

/** What this host has. */
export interface HostFacts {
  hostname: string;
  libvirtUri: string;
  libvirtVersion: number;
  hypervisorVersion: number;
  engine: Engine;
  cpus: number;
  memoryBytes: number;
  freeMemoryBytes: number;
  /** UEFI firmware for x86_64 guests (OVMF); {@link uefiArches} has every architecture's. */
  uefiAvailable: boolean;
  /**
   * Guest architectures libvirt runs here (each has its emulator installed), as libvirt names
   * them: `x86_64`, `aarch64`, `i686`, `armv7l`, ... The test driver's `i686` counts as x86_64.
   */
  arches: string[];
  /** Those of {@link arches} with UEFI firmware libvirt can select (OVMF, AAVMF). */
  uefiArches: string[];
  /** Those of {@link uefiArches} with firmware that has Secure Boot. */
  secureBootArches: string[];
  /** Those of {@link arches} that run under KVM here (none under TCG). */
  kvmArches: string[];
}
