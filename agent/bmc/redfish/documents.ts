/**
 * Redfish documents of one node, built from what the agent observes. Pure functions: the server
 * decides who may see them, these only say what they contain.
 */
import { secureBootMachine, type Arch, type BootDevice, type NodeStatus } from '../../compute/index.js';

/** Everything a node's documents are built from. */
export interface NodeView {
  node: NodeStatus;
  power: 'on' | 'off';
  /** UEFI firmware for the node's architecture is installed on the host. */
  uefiAvailable: boolean;
  /** Some of that firmware has Secure Boot. */
  secureBootAvailable: boolean;
}

/** A JSON document. */
export type Doc = Record<string, unknown>;

const OK = { State: 'Enabled', Health: 'OK' } as const;

/** Reset types the service accepts (what Ironic's redfish power interface sends, and more). */
export const RESET_TYPES = [
  'On',
  'ForceOn',
  'ForceOff',
  'GracefulShutdown',
  'GracefulRestart',
  'ForceRestart',
  'Nmi',
  'PowerCycle',
  'PushPowerButton',
] as const;
/** One of {@link RESET_TYPES}. */
export type ResetType = (typeof RESET_TYPES)[number];

/** Boot targets tenks nodes have, as Redfish names them. */
export const TARGET_OF_DEVICE: Record<BootDevice, string> = { network: 'Pxe', disk: 'Hdd', cdrom: 'Cd' };
/** The reverse of {@link TARGET_OF_DEVICE}. */
export const DEVICE_OF_TARGET: Readonly<Record<string, BootDevice>> = { Pxe: 'network', Hdd: 'disk', Cd: 'cdrom' };

/** The BIOS attributes a node starts with (as sushy-tools' defaults, so clients see familiar names). */
export const DEFAULT_BIOS: Readonly<Record<string, string | number | boolean>> = {
  BootMode: 'Uefi',
  EmbeddedSata: 'Raid',
  L2Cache: '10x256 KB',
  NicBoot1: 'NetworkBoot',
  NumCores: 10,
  ProcTurboMode: 'Enabled',
  QuietBoot: true,
  SecureBootStatus: 'Disabled',
  SerialNumber: 'QPX12345',
  SysPassword: '',
};

/** The System URI of a node. */
export function systemUri(uuid: string): string {
  return `/redfish/v1/Systems/${uuid}`;
}

/** A collection document. */
export function collection(uri: string, type: string, name: string, members: string[]): Doc {
  return {
    '@odata.id': uri,
    '@odata.type': `#${type}.${type}`,
    Name: name,
    Members: members.map((m) => ({ '@odata.id': m })),
    'Members@odata.count': members.length,
  };
}

/** The service root: open to all, links to everything else. */
export function serviceRoot(uuid: string): Doc {
  return {
    '@odata.id': '/redfish/v1/',
    '@odata.type': '#ServiceRoot.v1_5_0.ServiceRoot',
    Id: 'RootService',
    Name: 'tenks Redfish service',
    RedfishVersion: '1.8.0',
    UUID: uuid,
    Systems: { '@odata.id': '/redfish/v1/Systems' },
    Managers: { '@odata.id': '/redfish/v1/Managers' },
    Chassis: { '@odata.id': '/redfish/v1/Chassis' },
    SessionService: { '@odata.id': '/redfish/v1/SessionService' },
    Links: { Sessions: { '@odata.id': '/redfish/v1/SessionService/Sessions' } },
  };
}

/**
 * Secure Boot is offered where the firmware has it: UEFI nodes on q35 (x86_64) or virt (aarch64)
 * machines, on a host with Secure Boot firmware for their architecture (or already using it).
 */
export function secureBootSupported(v: NodeView): boolean {
  const n = v.node;
  return (
    n.firmware.bootMode === 'uefi' &&
    secureBootMachine(n.arch, n.machine) &&
    (v.secureBootAvailable || n.firmware.secureBoot)
  );
}

/** Redfish's `ProcessorArchitecture` and `InstructionSet` of a node's CPUs. */
const PROCESSOR: Record<Arch, { architecture: string; instructionSet: string }> = {
  x86_64: { architecture: 'x86', instructionSet: 'x86-64' },
  aarch64: { architecture: 'ARM', instructionSet: 'ARM-A64' },
};

/** The CPU model reported for a node: what runs it. */
function cpuModel(n: NodeStatus): string {
  return n.engine === 'kvm' ? 'host CPU (KVM)' : 'QEMU TCG CPU';
}

/** The boot modes a node can be given: UEFI where the host has its firmware; Legacy (BIOS) on x86_64 only. */
export function bootModesOf(v: NodeView): string[] {
  const modes = v.uefiAvailable ? ['UEFI'] : [];
  if (v.node.arch === 'x86_64') modes.push('Legacy');
  return modes;
}

/** The ComputerSystem document. */
export function systemDoc(v: NodeView): Doc {
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
      Chassis: [{ '@odata.id': `/redfish/v1/Chassis/${n.uuid}` }],
      ManagedBy: [{ '@odata.id': `/redfish/v1/Managers/${n.uuid}` }],
    },
    Actions: {
      '#ComputerSystem.Reset': {
        target: `${base}/Actions/ComputerSystem.Reset`,
        'ResetType@Redfish.AllowableValues': [...RESET_TYPES],
      },
    },
  };
}

/** Processors: one single-core, single-thread processor per vCPU. */
export function processorIds(n: NodeStatus): string[] {
  return Array.from({ length: n.vcpus }, (_v, i) => `CPU${i}`);
}

export function processorDoc(n: NodeStatus, id: string): Doc {
  return {
    '@odata.id': `${systemUri(n.uuid)}/Processors/${id}`,
    '@odata.type': '#Processor.v1_0_0.Processor',
    Id: id,
    Name: 'Processor',
    Socket: id,
    ProcessorType: 'CPU',
    ProcessorArchitecture: PROCESSOR[n.arch].architecture,
    InstructionSet: PROCESSOR[n.arch].instructionSet,
    Manufacturer: 'QEMU',
    Model: cpuModel(n),
    TotalCores: 1,
    TotalThreads: 1,
    Status: OK,
  };
}

/** Ethernet interfaces by MAC (member id = MAC, as sushy-tools). */
export function nicIds(n: NodeStatus): string[] {
  return n.nics.map((x, i) => (x.mac !== '' ? x.mac : `nic${i}`));
}

export function nicDoc(n: NodeStatus, index: number): Doc {
  const nic = n.nics[index];
  const id = nicIds(n)[index] ?? `nic${index}`;
  return {
    '@odata.id': `${systemUri(n.uuid)}/EthernetInterfaces/${id}`,
    '@odata.type': '#EthernetInterface.v1_4_0.EthernetInterface',
    Id: id,
    Name: `NIC ${index} (${nic?.physnet ?? ''})`,
    MACAddress: nic?.mac ?? '',
    PermanentMACAddress: nic?.mac ?? '',
    InterfaceEnabled: true,
    Status: OK,
  };
}

/** SimpleStorage: the node's virtio disks in one controller. */
export function simpleStorageDoc(n: NodeStatus): Doc {
  return {
    '@odata.id': `${systemUri(n.uuid)}/SimpleStorage/virtio`,
    '@odata.type': '#SimpleStorage.v1_2_0.SimpleStorage',
    Id: 'virtio',
    Name: 'virtio controller',
    Devices: n.volumes.map((v) => ({ Name: v.name, CapacityBytes: v.capacityBytes, Status: OK })),
    Status: OK,
  };
}

/** Storage: one controller, one drive and one raw volume per disk of the node. */
export function storageDoc(n: NodeStatus): Doc {
  const base = `${systemUri(n.uuid)}/Storage/1`;
  return {
    '@odata.id': base,
    '@odata.type': '#Storage.v1_7_0.Storage',
    Id: '1',
    Name: 'Local storage',
    Status: OK,
    Drives: n.volumes.map((v) => ({ '@odata.id': `${base}/Drives/${encodeURIComponent(v.name)}` })),
    'Drives@odata.count': n.volumes.length,
    Volumes: { '@odata.id': `${base}/Volumes` },
    StorageControllers: [
      {
        '@odata.id': `${base}#/StorageControllers/0`,
        MemberId: '0',
        Name: 'virtio-blk',
        SupportedControllerProtocols: ['PCIe'],
        SupportedDeviceProtocols: ['PCIe'],
        Status: OK,
      },
    ],
  };
}

export function driveDoc(n: NodeStatus, volume: NodeStatus['volumes'][number]): Doc {
  return {
    '@odata.id': `${systemUri(n.uuid)}/Storage/1/Drives/${encodeURIComponent(volume.name)}`,
    '@odata.type': '#Drive.v1_4_0.Drive',
    Id: volume.name,
    Name: volume.name,
    CapacityBytes: volume.capacityBytes,
    MediaType: 'HDD',
    Protocol: 'PCIe',
    Status: OK,
  };
}

export function volumeDoc(n: NodeStatus, volume: NodeStatus['volumes'][number]): Doc {
  return {
    '@odata.id': `${systemUri(n.uuid)}/Storage/1/Volumes/${encodeURIComponent(volume.name)}`,
    '@odata.type': '#Volume.v1_0_3.Volume',
    Id: volume.name,
    Name: volume.name,
    CapacityBytes: volume.capacityBytes,
    VolumeType: 'RawDevice',
    Status: OK,
  };
}

/** BIOS attributes in effect (defaults overlaid with what was set). */
export function biosAttributes(n: NodeStatus): Record<string, string | number | boolean> {
  return {
    ...DEFAULT_BIOS,
    BootMode: n.firmware.bootMode === 'uefi' ? 'Uefi' : 'Bios',
    SecureBootStatus: n.firmware.secureBoot ? 'Enabled' : 'Disabled',
    ...n.firmware.bios,
  };
}

export function biosDoc(n: NodeStatus): Doc {
  const base = `${systemUri(n.uuid)}/BIOS`;
  return {
    '@odata.id': base,
    '@odata.type': '#Bios.v1_0_0.Bios',
    Id: 'BIOS',
    Name: 'BIOS Configuration Current Settings',
    AttributeRegistry: 'BiosAttributeRegistry.v1_0_0',
    Attributes: biosAttributes(n),
    '@Redfish.Settings': {
      '@odata.type': '#Settings.v1_0_0.Settings',
      SettingsObject: { '@odata.id': `${base}/Settings` },
    },
    Actions: {
      '#Bios.ResetBios': { target: `${base}/Actions/Bios.ResetBios` },
      '#Bios.ChangePassword': { target: `${base}/Actions/Bios.ChangePassword` },
    },
  };
}

/** The pending BIOS settings: tenks applies a PATCH at once, so they equal the current ones. */
export function biosSettingsDoc(n: NodeStatus): Doc {
  return {
    '@odata.id': `${systemUri(n.uuid)}/BIOS/Settings`,
    '@odata.type': '#Bios.v1_0_0.Bios',
    Id: 'Settings',
    Name: 'BIOS Configuration Pending Settings',
    AttributeRegistry: 'BiosAttributeRegistry.v1_0_0',
    Attributes: biosAttributes(n),
  };
}

export function secureBootDoc(v: NodeView): Doc {
  const n = v.node;
  const base = `${systemUri(n.uuid)}/SecureBoot`;
  const enabled = n.firmware.secureBoot;
  return {
    '@odata.id': base,
    '@odata.type': '#SecureBoot.v1_1_0.SecureBoot',
    Id: 'SecureBoot',
    Name: 'UEFI Secure Boot',
    SecureBootEnable: enabled,
    // What the running firmware booted with is the definition it was started from; tenks applies
    // changes at the next power-on, so a running node with a pending change still reports the old state.
    SecureBootCurrentBoot: v.power === 'on' && enabled ? 'Enabled' : 'Disabled',
    SecureBootMode: enabled ? 'DeployedMode' : 'SetupMode',
    Actions: {
      '#SecureBoot.ResetKeys': {
        target: `${base}/Actions/SecureBoot.ResetKeys`,
        'ResetKeysType@Redfish.AllowableValues': ['ResetAllKeysToDefault'],
      },
    },
  };
}

/** The virtual CD drive. */
export function virtualMediaDoc(n: NodeStatus): Doc {
  const base = `${systemUri(n.uuid)}/VirtualMedia/Cd`;
  const m = n.media;
  const inserted = m?.inserted ?? false;
  const image = m?.image ?? '';
  return {
    '@odata.id': base,
    '@odata.type': '#VirtualMedia.v1_4_0.VirtualMedia',
    Id: 'Cd',
    Name: 'Virtual CD',
    MediaTypes: ['CD', 'DVD'],
    Image: inserted ? image : null,
    ImageName: inserted ? (image.split('/').pop() ?? '') : '',
    ConnectedVia: inserted ? 'URI' : 'NotConnected',
    Inserted: inserted,
    WriteProtected: m?.writeProtected ?? true,
    TransferProtocolType: inserted ? (image.startsWith('https:') ? 'HTTPS' : 'HTTP') : null,
    VerifyCertificate: n.firmware.verifyMediaCertificate,
    Actions: {
      '#VirtualMedia.InsertMedia': { target: `${base}/Actions/VirtualMedia.InsertMedia` },
      '#VirtualMedia.EjectMedia': { target: `${base}/Actions/VirtualMedia.EjectMedia` },
    },
  };
}

/** The node's BMC. Its virtual media is the System's (one collection, linked from both). */
export function managerDoc(n: NodeStatus): Doc {
  return {
    '@odata.id': `/redfish/v1/Managers/${n.uuid}`,
    '@odata.type': '#Manager.v1_5_0.Manager',
    Id: n.uuid,
    Name: `${n.name}-Manager`,
    UUID: n.uuid,
    ManagerType: 'BMC',
    Model: 'tenks emulated BMC',
    FirmwareVersion: '1.00',
    PowerState: 'On',
    Status: OK,
    DateTime: new Date().toISOString().replace(/\.\d+Z$/, '+00:00'),
    DateTimeLocalOffset: '+00:00',
    VirtualMedia: { '@odata.id': `${systemUri(n.uuid)}/VirtualMedia` },
    Links: {
      ManagerForServers: [{ '@odata.id': systemUri(n.uuid) }],
      ManagerForChassis: [{ '@odata.id': `/redfish/v1/Chassis/${n.uuid}` }],
    },
  };
}

export function chassisDoc(n: NodeStatus): Doc {
  return {
    '@odata.id': `/redfish/v1/Chassis/${n.uuid}`,
    '@odata.type': '#Chassis.v1_5_0.Chassis',
    Id: n.uuid,
    Name: `${n.name} chassis`,
    ChassisType: 'RackMount',
    IndicatorLED: n.firmware.indicatorLed,
    Status: OK,
    Links: {
      ComputerSystems: [{ '@odata.id': systemUri(n.uuid) }],
      ManagedBy: [{ '@odata.id': `/redfish/v1/Managers/${n.uuid}` }],
    },
  };
}
