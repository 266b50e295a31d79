/** Request bodies of the Redfish service, checked and turned into what the backend does. Pure. */
import type { BootDevice, BootMode, FirmwarePatch, NodeStatus } from '../../compute/index.js';
import type { BmcPowerAction } from '../backend.js';
import { DEVICE_OF_TARGET, RESET_TYPES, type ResetType } from './documents.js';
import { MessageId, RedfishError } from './errors.js';

function object(body: unknown, what: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new RedfishError(400, `${what}: the body must be a JSON object`, MessageId.MALFORMED_JSON);
  return body as Record<string, unknown>;
}

/** What a PATCH of a System asks for. */
export interface SystemPatch {
  device?: { device: BootDevice; persistent: boolean };
  bootMode?: BootMode;
  indicatorLed?: 'Lit' | 'Off' | 'Blinking';
}

/**
 * A System PATCH: `Boot` (target, enabled, mode) and `IndicatorLED`. Unlike sushy-tools,
 * `BootSourceOverrideEnabled` is honoured: `Once` applies to the next boot only.
 */
export function parseBootPatch(body: unknown, n: NodeStatus, uefiAvailable: boolean): SystemPatch {
  const b = object(body, 'PATCH System');
  const unknown = Object.keys(b).filter((k) => k !== 'Boot' && k !== 'IndicatorLED' && !k.startsWith('@'));
  if (unknown.length > 0)
    throw new RedfishError(
      400,
      `cannot PATCH ${unknown.join(', ')} of a System (Boot, IndicatorLED)`,
      MessageId.PROPERTY_UNKNOWN,
    );
  const out: SystemPatch = {};
  if (b.IndicatorLED !== undefined) {
    if (b.IndicatorLED !== 'Lit' && b.IndicatorLED !== 'Off' && b.IndicatorLED !== 'Blinking')
      throw new RedfishError(
        400,
        `IndicatorLED ${JSON.stringify(b.IndicatorLED)} is not one of Lit, Off, Blinking`,
        MessageId.PROPERTY_VALUE,
      );
    out.indicatorLed = b.IndicatorLED;
  }
  if (b.Boot === undefined) {
    if (out.indicatorLed === undefined)
      throw new RedfishError(400, 'PATCH a System with Boot or IndicatorLED', MessageId.PROPERTY_MISSING);
    return out;
  }
  const boot = object(b.Boot, 'Boot');
  const { BootSourceOverrideTarget: target, BootSourceOverrideEnabled: enabled, BootSourceOverrideMode: mode } = boot;
  const other = Object.keys(boot).filter(
    (k) =>
      !['BootSourceOverrideTarget', 'BootSourceOverrideEnabled', 'BootSourceOverrideMode'].includes(k) &&
      !k.startsWith('@'),
  );
  if (other.length > 0)
    throw new RedfishError(400, `Boot.${other[0] ?? ''} is not supported by this BMC`, MessageId.PROPERTY_UNKNOWN);
  if (target === undefined && enabled === undefined && mode === undefined)
    throw new RedfishError(
      400,
      'Boot needs BootSourceOverrideTarget, BootSourceOverrideEnabled or BootSourceOverrideMode',
      MessageId.PROPERTY_MISSING,
    );
  if (enabled !== undefined && enabled !== 'Once' && enabled !== 'Continuous' && enabled !== 'Disabled')
    throw new RedfishError(
      400,
      `BootSourceOverrideEnabled ${JSON.stringify(enabled)} is not one of Once, Continuous, Disabled`,
      MessageId.PROPERTY_VALUE,
    );
  if (target !== undefined || enabled !== undefined) {
    let device = n.bootDevice;
    if (target !== undefined && target !== 'None') {
      const d = typeof target === 'string' ? DEVICE_OF_TARGET[target] : undefined;
      if (!d)
        throw new RedfishError(
          400,
          `BootSourceOverrideTarget ${JSON.stringify(target)} is not one of ${Object.keys(DEVICE_OF_TARGET).join(', ')}`,
          MessageId.PROPERTY_VALUE,
        );
      device = d;
    }
    // No override (Disabled / None) means the node's normal order, which starts with the network.
    if (enabled === 'Disabled' || target === 'None') device = 'network';
    const persistent = enabled === undefined ? n.bootPersistent : enabled !== 'Once';
    out.device = { device, persistent };
  }
  if (mode !== undefined) {
    if (mode !== 'UEFI' && mode !== 'Legacy')
      throw new RedfishError(
        400,
        `BootSourceOverrideMode ${JSON.stringify(mode)} is not one of UEFI, Legacy`,
        MessageId.PROPERTY_VALUE,
      );
    if (mode === 'UEFI' && !uefiAvailable)
      throw new RedfishError(
        400,
        'BootSourceOverrideMode UEFI: this host has no UEFI firmware',
        MessageId.PROPERTY_VALUE,
      );
    if (mode === 'Legacy' && n.arch !== 'x86_64')
      throw new RedfishError(
        400,
        `BootSourceOverrideMode Legacy: an ${n.arch} system has no BIOS, only UEFI`,
        MessageId.PROPERTY_VALUE,
      );
    out.bootMode = mode === 'UEFI' ? 'uefi' : 'bios';
  }
  return out;
}

/**
 * The power action of a Reset, given the node's power state; null when the node is already where
 * the reset type leads (sushy-tools answers those with 204 and does nothing, as does tenks).
 */
export function resetActionOf(body: unknown, power: 'on' | 'off'): BmcPowerAction | null {
  const t = body === null ? undefined : object(body, 'Reset').ResetType;
  if (t === undefined) throw new RedfishError(400, 'Reset needs a ResetType', MessageId.ACTION_PARAMETER_MISSING);
  if (typeof t !== 'string' || !(RESET_TYPES as readonly string[]).includes(t))
    throw new RedfishError(
      400,
      `ResetType ${JSON.stringify(t)} is not one of ${RESET_TYPES.join(', ')}`,
      MessageId.ACTION_PARAMETER,
    );
  const on = power === 'on';
  switch (t as ResetType) {
    case 'On':
    case 'ForceOn':
      return on ? null : 'on';
    case 'ForceOff':
      return on ? 'off' : null;
    case 'GracefulShutdown':
      return on ? 'soft_off' : null;
    case 'GracefulRestart':
      // libvirt's ACPI reboot needs a guest that listens; a reset reaches every guest.
      return on ? 'reset' : null;
    case 'ForceRestart':
      // Off then on, so the new definition (boot device, firmware) applies, as sushy-tools does.
      return on ? 'cycle' : null;
    case 'PowerCycle':
      return on ? 'cycle' : 'on';
    case 'Nmi':
      return on ? 'nmi' : null;
    case 'PushPowerButton':
      return on ? 'soft_off' : 'on';
  }
}

/** A BIOS Settings PATCH `{"Attributes": {...}}`: merged at once. `BootMode` switches the firmware. */
export function parseBiosPatch(body: unknown, n: NodeStatus, uefiAvailable: boolean): FirmwarePatch {
  const b = object(body, 'PATCH BIOS Settings');
  const attrs = b.Attributes;
  if (typeof attrs !== 'object' || attrs === null || Array.isArray(attrs))
    throw new RedfishError(400, 'PATCH BIOS Settings with {"Attributes": {...}}', MessageId.PROPERTY_MISSING);
  const bios: Record<string, string | number | boolean> = {};
  const out: FirmwarePatch = {};
  for (const [k, v] of Object.entries(attrs as Record<string, unknown>)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
      throw new RedfishError(400, `BIOS attribute ${k} must be a string, number or boolean`, MessageId.PROPERTY_TYPE);
    if (k === 'SecureBootStatus')
      throw new RedfishError(400, 'SecureBootStatus is read-only (PATCH SecureBoot instead)', MessageId.PROPERTY_VALUE);
    if (k === 'BootMode') {
      if (v !== 'Uefi' && v !== 'Bios')
        throw new RedfishError(400, `BootMode ${JSON.stringify(v)} is not one of Uefi, Bios`, MessageId.PROPERTY_VALUE);
      if (v === 'Uefi' && !uefiAvailable)
        throw new RedfishError(400, 'BootMode Uefi: this host has no UEFI firmware', MessageId.PROPERTY_VALUE);
      if (v === 'Bios' && n.arch !== 'x86_64')
        throw new RedfishError(400, `BootMode Bios: an ${n.arch} system has no BIOS`, MessageId.PROPERTY_VALUE);
      if ((v === 'Uefi') !== (n.firmware.bootMode === 'uefi')) out.bootMode = v === 'Uefi' ? 'uefi' : 'bios';
      continue;
    }
    bios[k] = v;
  }
  if (Object.keys(bios).length > 0) out.bios = bios;
  return out;
}

/** An InsertMedia request. */
export interface InsertMedia {
  image: string;
  writeProtected: boolean;
  auth: { username: string; password: string } | null;
}

export function parseInsertMedia(body: unknown): InsertMedia {
  const b = object(body ?? {}, 'InsertMedia');
  if (typeof b.Image !== 'string' || b.Image === '')
    throw new RedfishError(400, 'InsertMedia needs Image (the URL of the image)', MessageId.ACTION_PARAMETER_MISSING);
  if (b.Inserted !== undefined && b.Inserted !== true)
    throw new RedfishError(
      400,
      'Inserted must be true: this BMC inserts the media it attaches',
      MessageId.ACTION_PARAMETER,
    );
  if (b.WriteProtected !== undefined && typeof b.WriteProtected !== 'boolean')
    throw new RedfishError(400, 'WriteProtected must be a boolean', MessageId.PROPERTY_TYPE);
  const hasUser = b.UserName !== undefined && b.UserName !== '';
  const hasPass = b.Password !== undefined && b.Password !== '';
  if (hasUser !== hasPass)
    throw new RedfishError(400, 'UserName and Password must be given together', MessageId.ACTION_PARAMETER);
  if (hasUser && (typeof b.UserName !== 'string' || typeof b.Password !== 'string'))
    throw new RedfishError(400, 'UserName and Password must be strings', MessageId.PROPERTY_TYPE);
  const proto = b.TransferProtocolType;
  const scheme = b.Image.split(':')[0]?.toUpperCase();
  if (proto !== undefined && proto !== null && proto !== scheme)
    throw new RedfishError(
      400,
      `TransferProtocolType ${JSON.stringify(proto)} does not match the Image URL (${scheme ?? ''})`,
      MessageId.ACTION_PARAMETER,
    );
  return {
    image: b.Image,
    writeProtected: b.WriteProtected !== false,
    auth: hasUser ? { username: b.UserName as string, password: b.Password as string } : null,
  };
}
