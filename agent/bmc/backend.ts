/** What an emulated BMC needs from the host: power and boot device of one node. */
import type { BootDevice } from '../compute/index.js';

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

/** The port every BMC protocol server (IPMI, Redfish) talks to. */
export interface BmcBackend {
  /** `on` or `off` (paused/crashed count as on, as a BMC would see a powered chassis). */
  powerState(uuid: string): Promise<'on' | 'off'>;
  power(uuid: string, action: BmcPowerAction): Promise<void>;
  bootDevice(uuid: string): Promise<BmcBootDevice>;
  /** Sets the boot device of the next power-on (and later ones when persistent). */
  setBootDevice(uuid: string, device: BootDevice, persistent: boolean): Promise<void>;
}
