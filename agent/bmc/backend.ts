/** What an emulated BMC needs from the host: power and boot device of one node. */
import type { Arch, BootDevice, FirmwarePatch, NodeStatus } from '../compute/index.js';

/** Power actions a BMC can ask for. */
export type BmcPowerAction = 'on' | 'off' | 'soft_off' | 'reset' | 'nmi' | 'cycle';

/** Boot device override as a BMC reports it. */
export interface BmcBootDevice {
  device: BootDevice;
  /** Applies to every boot (true) or only the next one (false). */
  persistent: boolean;
  /** UEFI (true) or legacy BIOS (false) firmware. */
  uefi: boolean;
}

/** What a BMC reports about the hardware of its node (IPMI FRU, Redfish inventory). */
export interface BmcInventory {
  name: string;
  arch: Arch;
}

/** Firmware the host has for nodes of one architecture. */
export interface FirmwareSupport {
  /** UEFI firmware is installed. */
  uefi: boolean;
  /** Some of it has Secure Boot. */
  secureBoot: boolean;
}

/** The port every BMC protocol server (IPMI, Redfish) talks to. */
export interface BmcBackend {
  /** `on` or `off` (paused/crashed count as on, as a BMC would see a powered chassis). */
  powerState(uuid: string): Promise<'on' | 'off'>;
  power(uuid: string, action: BmcPowerAction): Promise<void>;
  bootDevice(uuid: string): Promise<BmcBootDevice>;
  /** Sets the boot device of the next power-on (and later ones when persistent). */
  setBootDevice(uuid: string, device: BootDevice, persistent: boolean): Promise<void>;
  /** The node's name and architecture. */
  inventory(uuid: string): Promise<BmcInventory>;
}

/** Virtual media to put in a node's CD drive: the image as fetched into a local file. */
export interface MediaInsert {
  /** The URL the image came from (reported back as `Image`). */
  image: string;
  /** Local file holding the image; the backend copies it and the caller deletes it. */
  file: string;
  writeProtected: boolean;
}

/** What the Redfish service needs beyond power and boot device. */
export interface RedfishBackend extends BmcBackend {
  /** UUIDs of the Redfish nodes these credentials open (empty: none). */
  redfishLogin(username: string, password: string): Set<string>;
  /** UUID of the Redfish node named `name`, or null. */
  redfishUuidOf(name: string): string | null;
  /** A node as observed (recently cached; throws NOT_FOUND when gone). */
  node(uuid: string): Promise<NodeStatus>;
  /** The firmware this host has for nodes of `arch`. */
  firmwareFor(arch: Arch): FirmwareSupport;
  setFirmware(uuid: string, patch: FirmwarePatch): Promise<void>;
  insertMedia(uuid: string, media: MediaInsert): Promise<void>;
  /** False when the drive was already empty. */
  ejectMedia(uuid: string): Promise<boolean>;
}
