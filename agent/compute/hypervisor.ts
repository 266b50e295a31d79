import type { Arch, BootDevice, BootMode, Engine, HostFacts, NodeSpec, PowerState } from './types.js';

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

/** Firmware settings a node's BMC may change (as on a real server, they outlive re-applies of its spec). */
export interface FirmwareState {
  /** Boot mode chosen through the BMC, or null to follow the spec's `boot_mode`. */
  bootMode: BootMode | null;
  /** UEFI Secure Boot (needs UEFI firmware and a q35 machine). */
  secureBoot: boolean;
  /** BIOS attributes set through the BMC; null: the defaults. */
  bios: Record<string, string | number | boolean> | null;
  /** Chassis indicator LED as Redfish reports it. */
  indicatorLed: 'Lit' | 'Off' | 'Blinking';
  /** Verify the TLS certificate of virtual media URLs (Redfish `VerifyCertificate`). */
  verifyMediaCertificate: boolean;
  /** The NVRAM must be re-created from its template before the next start (firmware changed while on). */
  nvramReset: boolean;
}

/** Media in a node's virtual CD drive. */
export interface VirtualMediaState {
  /** The URL it was fetched from. */
  image: string;
  /** Pool volume holding the image (owned by the node). */
  volume: string;
  inserted: boolean;
  writeProtected: boolean;
}

/** Firmware state of a node that never had it changed. */
export const DEFAULT_FIRMWARE: Readonly<FirmwareState> = {
  bootMode: null,
  secureBoot: false,
  bios: null,
  indicatorLed: 'Off',
  verifyMediaCertificate: false,
  nvramReset: false,
};

/** What tenks records on every domain it creates (libvirt `<metadata>`). */
export interface NodeMetadata {
  /** Metadata format version. */
  version: 1;
  cluster: string;
  name: string;
  uuid: string;
  /**
   * The agent that manages the node (its id): several agents on one libvirt URI (a lab's, a
   * test's) each see only their own. Null on domains defined before owners were recorded, which
   * any agent treats as its own.
   */
  agent: string | null;
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
  /** Firmware settings changed through the BMC. */
  firmware: FirmwareState;
  /** Virtual media in the CD drive, or null when the tray is empty. */
  media: VirtualMediaState | null;
}

/** Everything needed to define a domain. */
export interface DomainSpec {
  name: string;
  uuid: string;
  memoryMb: number;
  vcpus: number;
  /** Guest architecture: x86-only devices (APIC, SMM, VGA) follow it. */
  arch: Arch;
  machine: string;
  cpuMode: string | null;
  bootMode: BootMode;
  /** Secure Boot on (UEFI only; adds SMM on x86_64). */
  secureBoot: boolean;
  engine: Engine;
  disks: DiskSpec[];
  /** What the CD drive holds; null: an empty drive (every node has one, for virtual media). */
  cdrom: DiskSource | null;
  nics: DomainNic[];
  /** Boot order, first device first. */
  bootOrder: BootDevice[];
  /** Serial console log file, or null. */
  consoleLogPath: string | null;
  vnc: boolean;
  /** Emulator binary, or null for libvirt's choice. */
  emulator: string | null;
  /** `utc`, `localtime`, `variable` or a time zone name. */
  clockOffset: string;
  /** trustGuestRxFilters on macvtap NICs. */
  trustGuestRxFilters: boolean;
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
  /** Puts `media` (or nothing) in the CD drive of a running domain, when its live definition has one. */
  changeLiveMedia(name: string, media: DiskSource | null, o?: CallOptions): Promise<boolean>;
  /** Re-creates a stopped domain's NVRAM from its template (after a firmware change). */
  resetNvram(name: string, o?: CallOptions): Promise<void>;
  /** Lifecycle events until `signal` aborts. */
  events(signal: AbortSignal): AsyncIterable<DomainEvent>;
  close(): Promise<void>;
}
