/**
 * A node's firmware settings and boot device, changed as a BMC changes them: the definition changes
 * now, a running node sees the change at its next cold start. Callers hold the node's lock.
 */
import { TenksError } from '../../common/errors.js';
import { secureBootMachine } from './domain-xml.js';
import { redefine } from './domain-spec.js';
import type { CallOptions, DomainSummary, FirmwareState, NodeMetadata } from './hypervisor.js';
import type { NodeHost } from './node-host.js';
import { archOf, machineOf } from './node-spec.js';
import type { BootDevice, BootMode } from './types.js';

/** What a BMC may change in a node's firmware settings (absent fields stay as they are). */
export interface FirmwarePatch {
  bootMode?: BootMode;
  secureBoot?: boolean;
  /** Merged into the current attributes; null restores the defaults. */
  bios?: Record<string, string | number | boolean> | null;
  indicatorLed?: 'Lit' | 'Off' | 'Blinking';
  /** Fetch the firmware's TLS verification choice for virtual media. */
  verifyMediaCertificate?: boolean;
  /** Re-create the UEFI variable store (default keys) now, or at the next start when running. */
  resetNvram?: boolean;
}

/** Sets the boot device of node `d`'s next power-on (and of every later one when `persistent`). */
export async function setBootDevice(
  host: NodeHost,
  d: DomainSummary,
  device: BootDevice,
  persistent: boolean,
  o: CallOptions,
): Promise<void> {
  const m = d.metadata as NodeMetadata;
  const next: NodeMetadata = {
    ...m,
    bootDevice: device,
    bootPersistent: persistent,
    persistentBootDevice: persistent ? device : m.bootPersistent ? m.bootDevice : m.persistentBootDevice,
  };
  if (
    next.bootDevice === m.bootDevice &&
    next.bootPersistent === m.bootPersistent &&
    next.persistentBootDevice === m.persistentBootDevice
  )
    return;
  await redefine(host, m.spec, next, o);
  host.log.info('boot device set', { node: d.name, device, persistent });
}

/**
 * After node `name` started with a one-time boot device, puts its definition back to the
 * persistent one; false when there was none (or the node is not this agent's).
 */
export async function completeOneTimeBoot(host: NodeHost, name: string, o: CallOptions): Promise<boolean> {
  const d = await host.hypervisor.getDomain(name, o);
  const m = d?.metadata;
  if (!m || !host.ours(m) || m.bootPersistent) return false;
  await redefine(host, m.spec, { ...m, bootDevice: m.persistentBootDevice, bootPersistent: true }, o);
  host.log.info('one-time boot device used', { node: name, next: m.persistentBootDevice });
  return true;
}

/** Changes node `d`'s firmware settings. A boot mode or Secure Boot change re-creates the NVRAM. */
export async function setFirmware(
  host: NodeHost,
  d: DomainSummary,
  patch: FirmwarePatch,
  o: CallOptions,
): Promise<void> {
  const hv = host.hypervisor;
  const m = d.metadata as NodeMetadata;
  const cur = m.firmware;
  const bootMode = patch.bootMode ?? cur.bootMode ?? m.spec.bootMode;
  const secureBoot = patch.secureBoot ?? cur.secureBoot;
  checkFirmware(host, d.name, m, bootMode, secureBoot);
  const effectiveOld = cur.bootMode ?? m.spec.bootMode;
  const firmwareChanged = bootMode !== effectiveOld || (bootMode === 'uefi' && secureBoot !== cur.secureBoot);
  const next: FirmwareState = {
    bootMode: bootMode === m.spec.bootMode ? null : bootMode,
    secureBoot,
    bios: patch.bios === undefined ? cur.bios : patch.bios === null ? null : { ...(cur.bios ?? {}), ...patch.bios },
    indicatorLed: patch.indicatorLed ?? cur.indicatorLed,
    verifyMediaCertificate: patch.verifyMediaCertificate ?? cur.verifyMediaCertificate,
    // A stopped UEFI node gets its NVRAM re-created at the redefinition; a running one at its next start.
    nvramReset:
      cur.nvramReset ||
      ((firmwareChanged || patch.resetNvram === true) && bootMode === 'uefi' && d.powerState !== 'off'),
  };
  const resetNow = patch.resetNvram === true && bootMode === 'uefi' && d.powerState === 'off';
  if (JSON.stringify(next) === JSON.stringify(cur) && !resetNow) return;
  const meta = { ...m, firmware: next };
  if (resetNow && !firmwareChanged) {
    await hv.setMetadata(d.name, meta, o);
    await hv.resetNvram(d.name, o);
  } else if (firmwareChanged && bootMode === 'uefi' && d.powerState === 'off') {
    await redefine(host, m.spec, meta, o);
    await hv.resetNvram(d.name, o);
  } else if (firmwareChanged) {
    await redefine(host, m.spec, meta, o);
  } else {
    await hv.setMetadata(d.name, meta, o);
  }
  host.log.info('firmware settings changed', { node: d.name, bootMode, secureBoot });
}

/** Refuses firmware node `name` cannot have: BIOS off x86_64, UEFI or Secure Boot the host or machine lacks. */
function checkFirmware(host: NodeHost, name: string, m: NodeMetadata, bootMode: BootMode, secureBoot: boolean): void {
  const arch = archOf(m.spec);
  const machine = machineOf(m.spec);
  if (bootMode === 'bios' && arch !== 'x86_64')
    throw new TenksError('UNSUPPORTED', `node '${name}' is ${arch}: its firmware is UEFI only, it has no BIOS`, {
      field: 'BootSourceOverrideMode',
    });
  if (bootMode === 'uefi' && !host.facts.uefiArches.includes(arch))
    throw new TenksError(
      'UNSUPPORTED',
      arch === 'x86_64'
        ? 'UEFI firmware (OVMF) is not available on this host'
        : `UEFI firmware (AAVMF) for ${arch} is not available on this host`,
      { field: 'BootSourceOverrideMode' },
    );
  if (secureBoot && bootMode !== 'uefi')
    throw new TenksError('CONFLICT', `node '${name}' boots in legacy BIOS mode: Secure Boot needs UEFI`, {
      field: 'SecureBootEnable',
    });
  if (secureBoot && !secureBootMachine(arch, machine))
    throw new TenksError(
      'UNSUPPORTED',
      `Secure Boot needs a ${arch === 'x86_64' ? 'q35' : 'virt'} machine; node '${name}' is '${machine}'`,
      { field: 'SecureBootEnable' },
    );
  if (secureBoot && !m.firmware.secureBoot && !host.facts.secureBootArches.includes(arch))
    throw new TenksError('UNSUPPORTED', `this host has no ${arch} UEFI firmware with Secure Boot`, {
      field: 'SecureBootEnable',
    });
}
