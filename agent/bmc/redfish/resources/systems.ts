/**
 * Systems: one ComputerSystem per node, its boot override (target, once or continuous, UEFI or
 * Legacy) and indicator LED set by PATCH. The resources below a System register themselves.
 */
import type { BootDevice, BootMode, NodeStatus } from '../../../compute/index.js';
import type { RedfishBackend } from '../../backend.js';
import { chassisUri, managerUri, OK, systemUri, type Doc, type NodeView } from '../documents.js';
import { MessageId, RedfishError } from '../errors.js';
import { allow, checkIfMatch, noContent, ok } from '../reply.js';
import { jsonObject } from '../request-body.js';
import type { RedfishRouter } from '../router.js';
import { cpuModel } from './processors.js';
import { secureBootSupported } from './secure-boot.js';
import { RESET_TYPES } from './system-reset.js';

/** Boot targets tenks nodes have, as Redfish names them. */
const TARGET_OF_DEVICE: Record<BootDevice, string> = { network: 'Pxe', disk: 'Hdd', cdrom: 'Cd' };
/** The reverse of {@link TARGET_OF_DEVICE}. */
const DEVICE_OF_TARGET: Readonly<Record<string, BootDevice>> = { Pxe: 'network', Hdd: 'disk', Cd: 'cdrom' };

/** The boot modes a node can be given: UEFI where the host has its firmware; Legacy (BIOS) on x86_64 only. */
function bootModesOf(v: NodeView): string[] {
  const modes = v.uefiAvailable ? ['UEFI'] : [];
  if (v.node.arch === 'x86_64') modes.push('Legacy');
  return modes;
}

/** The ComputerSystem document. */
function systemDoc(v: NodeView): Doc {
  const n = v.node;
  const base = systemUri(n.uuid);
  const uefi = n.firmware.bootMode === 'uefi';
  const memGiB = n.memoryMb / 1024;
  return {
    '@odata.id': base,
    '@odata.type': '#ComputerSystem.v1_13_0.ComputerSystem',
    Id: n.uuid,
    Name: n.name,
    UUID: n.uuid,
    Manufacturer: 'tenks',
    Model: 'virtual bare metal (libvirt/QEMU)',
    SerialNumber: n.uuid,
    HostName: n.name,
    SystemType: 'Physical',
    Status: OK,
    PowerState: v.power === 'on' ? 'On' : 'Off',
    IndicatorLED: n.firmware.indicatorLed,
    Boot: {
      BootSourceOverrideEnabled: n.bootPersistent ? 'Continuous' : 'Once',
      'BootSourceOverrideEnabled@Redfish.AllowableValues': ['Once', 'Continuous', 'Disabled'],
      BootSourceOverrideTarget: TARGET_OF_DEVICE[n.bootDevice],
      'BootSourceOverrideTarget@Redfish.AllowableValues': Object.keys(DEVICE_OF_TARGET),
      BootSourceOverrideMode: uefi ? 'UEFI' : 'Legacy',
      'BootSourceOverrideMode@Redfish.AllowableValues': bootModesOf(v),
    },
    ProcessorSummary: {
      Count: n.vcpus,
      LogicalProcessorCount: n.vcpus,
      Model: `${cpuModel(n)} (${n.arch})`,
      Status: OK,
    },
    // Fractions of a GiB are allowed by the schema; Ironic's inspection needs the figure for small VMs.
    MemorySummary: { TotalSystemMemoryGiB: Math.round(memGiB * 1000) / 1000, Status: OK },
    BiosVersion: '1.0.0',
    Bios: { '@odata.id': `${base}/BIOS` },
    Processors: { '@odata.id': `${base}/Processors` },
    EthernetInterfaces: { '@odata.id': `${base}/EthernetInterfaces` },
    SimpleStorage: { '@odata.id': `${base}/SimpleStorage` },
    Storage: { '@odata.id': `${base}/Storage` },
    VirtualMedia: { '@odata.id': `${base}/VirtualMedia` },
    ...(secureBootSupported(v) ? { SecureBoot: { '@odata.id': `${base}/SecureBoot` } } : {}),
    Links: {
      Chassis: [{ '@odata.id': chassisUri(n.uuid) }],
      ManagedBy: [{ '@odata.id': managerUri(n.uuid) }],
    },
    Actions: {
      '#ComputerSystem.Reset': {
        target: `${base}/Actions/ComputerSystem.Reset`,
        'ResetType@Redfish.AllowableValues': [...RESET_TYPES],
      },
    },
  };
}

/** What a PATCH of a System asks for. */
interface SystemPatch {
  device?: { device: BootDevice; persistent: boolean };
  bootMode?: BootMode;
  indicatorLed?: 'Lit' | 'Off' | 'Blinking';
}

/**
 * A System PATCH: `Boot` (target, enabled, mode) and `IndicatorLED`. Unlike sushy-tools,
 * `BootSourceOverrideEnabled` is honoured: `Once` applies to the next boot only.
 */
function parseBootPatch(body: unknown, n: NodeStatus, uefiAvailable: boolean): SystemPatch {
  const b = jsonObject(body, 'PATCH System');
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
  const boot = jsonObject(b.Boot, 'Boot');
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

/** Declares the Systems collection and serves each System (GET, PATCH). */
export function registerSystems(
  router: RedfishRouter,
  backend: Pick<RedfishBackend, 'setBootDevice' | 'setFirmware'>,
): void {
  router.nodeCollection('Systems', {
    type: 'ComputerSystemCollection',
    unknown: (view, rest) => `resource ${systemUri(view.node.uuid)}/${rest.join('/')}`,
  });
  router.nodeResource('Systems', '', async (req, view) => {
    const n = view.node;
    allow('GET,HEAD,PATCH', req.method);
    const doc = systemDoc(view);
    if (req.method !== 'PATCH') return ok(doc);
    checkIfMatch(req.headers, doc);
    const patch = parseBootPatch(await req.body(), n, view.uefiAvailable);
    if (patch.device) await backend.setBootDevice(n.uuid, patch.device.device, patch.device.persistent);
    if (patch.bootMode !== undefined || patch.indicatorLed !== undefined)
      await backend.setFirmware(n.uuid, {
        ...(patch.bootMode !== undefined ? { bootMode: patch.bootMode } : {}),
        ...(patch.indicatorLed !== undefined ? { indicatorLed: patch.indicatorLed } : {}),
      });
    return noContent;
  });
}
