/** Protobuf ⇄ domain mapping for the agent. The only place (with agent-service.ts) that sees generated types. */
import * as pb from '../../proto/gen/tenks/v1/types.pb.js';
import { NodeEventType } from '../../proto/gen/tenks/v1/agent.pb.js';
import type { BmcEndpoints } from '../bmc/index.js';
import type { BridgeType, PhysnetState } from '../network/index.js';
import type {
  BootDevice,
  BootMode,
  DomainEvent,
  HostFacts,
  NodeRef,
  NodeStatus,
  PoolInfo,
  PowerAction,
  PowerState,
  RawNodeSpec,
} from '../compute/index.js';

/** proto BootMode → the raw string the spec compiler validates (unknown numbers stay visible in errors). */
export function bootModeFromPb(m: pb.BootMode): string {
  switch (m) {
    case pb.BootMode.BOOT_MODE_UNSPECIFIED:
      return '';
    case pb.BootMode.BOOT_MODE_UEFI:
      return 'uefi';
    case pb.BootMode.BOOT_MODE_BIOS:
      return 'bios';
    default:
      return `enum value ${String(m)}`;
  }
}

export function bootModeToPb(m: BootMode): pb.BootMode {
  return m === 'uefi' ? pb.BootMode.BOOT_MODE_UEFI : pb.BootMode.BOOT_MODE_BIOS;
}

/** A wire NodeSpec as the raw spec the compiler validates. */
export function toRawNodeSpec(msg: pb.NodeSpec | undefined): RawNodeSpec {
  const m = msg ?? pb.NodeSpec.create();
  return {
    cluster: m.cluster,
    name: m.name,
    uuid: m.uuid,
    nodeType: m.nodeType,
    memoryMb: m.memoryMb,
    vcpus: m.vcpus,
    machine: m.machine,
    cpuMode: m.cpuMode,
    bootMode: bootModeFromPb(m.bootMode),
    volumes: m.volumes.map((v) => ({
      name: v.name,
      capacity: v.capacity,
      image: v.image,
      backingImage: v.backingImage,
      existing: v.existing,
      format: v.format,
    })),
    nics: m.nics.map((n) => ({ physnet: n.physnet, mac: n.mac })),
    consoleLogEnabled: m.consoleLogEnabled,
    vncEnabled: m.vncEnabled,
    labels: { ...m.labels },
    engine: m.engine,
    emulator: m.emulator,
    consoleLogDir: m.consoleLogDir,
    consoleLogOwner: m.consoleLogOwner,
    trustGuestRxFilters: m.trustGuestRxFilters,
    clockOffset: m.clockOffset,
    arch: m.arch,
  };
}

export function toNodeRef(msg: pb.NodeRef | undefined): NodeRef {
  return { cluster: msg?.cluster ?? '', name: msg?.name ?? '', uuid: msg?.uuid ?? '' };
}

const POWER_STATE_PB: Record<PowerState, pb.PowerState> = {
  on: pb.PowerState.POWER_STATE_ON,
  off: pb.PowerState.POWER_STATE_OFF,
  paused: pb.PowerState.POWER_STATE_PAUSED,
  shutting_down: pb.PowerState.POWER_STATE_SHUTTING_DOWN,
  crashed: pb.PowerState.POWER_STATE_CRASHED,
  suspended: pb.PowerState.POWER_STATE_SUSPENDED,
  unknown: pb.PowerState.POWER_STATE_UNSPECIFIED,
};

export function powerStateToPb(s: PowerState): pb.PowerState {
  return POWER_STATE_PB[s];
}

/** proto PowerAction → domain; null for UNSPECIFIED or unknown values. */
export function powerActionFromPb(a: pb.PowerAction): PowerAction | null {
  switch (a) {
    case pb.PowerAction.POWER_ACTION_ON:
      return 'on';
    case pb.PowerAction.POWER_ACTION_OFF:
      return 'off';
    case pb.PowerAction.POWER_ACTION_SOFT_OFF:
      return 'soft_off';
    case pb.PowerAction.POWER_ACTION_RESET:
      return 'reset';
    case pb.PowerAction.POWER_ACTION_NMI:
      return 'nmi';
    case pb.PowerAction.POWER_ACTION_CYCLE:
      return 'cycle';
    default:
      return null;
  }
}

const BOOT_DEVICE_PB: Record<BootDevice, pb.BootDevice> = {
  network: pb.BootDevice.BOOT_DEVICE_NETWORK,
  disk: pb.BootDevice.BOOT_DEVICE_DISK,
  cdrom: pb.BootDevice.BOOT_DEVICE_CDROM,
};

/** BMC endpoints → proto. */
export function bmcToPb(b: BmcEndpoints): pb.BmcInfo {
  return pb.BmcInfo.create({
    ...(b.ipmi ? { ipmi: pb.IpmiEndpoint.create(b.ipmi) } : {}),
    ...(b.redfish ? { redfish: pb.RedfishEndpoint.create(b.redfish) } : {}),
  });
}

export function nodeStatusToPb(n: NodeStatus, bmc?: BmcEndpoints): pb.NodeStatus {
  return pb.NodeStatus.create({
    cluster: n.cluster,
    name: n.name,
    uuid: n.uuid,
    nodeType: n.nodeType,
    hypervisor: n.hypervisor,
    powerState: powerStateToPb(n.powerState),
    memoryMb: n.memoryMb,
    vcpus: n.vcpus,
    bootMode: bootModeToPb(n.bootMode),
    machine: n.machine,
    volumes: n.volumes.map((v) => pb.VolumeStatus.create(v)),
    nics: n.nics.map((c) => pb.NicStatus.create(c)),
    specHash: n.specHash,
    consoleLogPath: n.consoleLogPath,
    engine: n.engine,
    arch: n.arch,
    bootDevice: BOOT_DEVICE_PB[n.bootDevice],
    labels: n.labels,
    ...(bmc ? { bmc: bmcToPb(bmc) } : {}),
  });
}

export function poolToPb(p: PoolInfo): pb.PoolInfo {
  return pb.PoolInfo.create(p);
}

/** proto BridgeType → domain; UNSPECIFIED is upstream's default, openvswitch. */
export function bridgeTypeFromPb(t: pb.BridgeType): BridgeType | null {
  switch (t) {
    case pb.BridgeType.BRIDGE_TYPE_UNSPECIFIED:
    case pb.BridgeType.BRIDGE_TYPE_OPENVSWITCH:
      return 'openvswitch';
    case pb.BridgeType.BRIDGE_TYPE_LINUXBRIDGE:
      return 'linuxbridge';
    default:
      return null;
  }
}

export function physnetToPb(p: PhysnetState): pb.PhysnetStatus {
  return pb.PhysnetStatus.create({
    physnet: p.physnet,
    device: p.device,
    vlan: p.vlan,
    bridge: p.bridge,
    bridgeMac: p.bridgeMac,
    bridgeType:
      p.bridgeType === 'openvswitch' ? pb.BridgeType.BRIDGE_TYPE_OPENVSWITCH : pb.BridgeType.BRIDGE_TYPE_LINUXBRIDGE,
    clusters: [...p.clusters],
  });
}

export function hostInfoToPb(
  f: HostFacts,
  extra: { agentId: string; agentVersion: string; pool: PoolInfo; nodeCount: number; physnets: PhysnetState[] },
): pb.HostInfo {
  return pb.HostInfo.create({
    hostname: f.hostname,
    agentId: extra.agentId,
    agentVersion: extra.agentVersion,
    libvirtUri: f.libvirtUri,
    libvirtVersion: f.libvirtVersion,
    hypervisorVersion: f.hypervisorVersion,
    engine: f.engine,
    cpus: f.cpus,
    memoryBytes: f.memoryBytes,
    freeMemoryBytes: f.freeMemoryBytes,
    pool: poolToPb(extra.pool),
    nodeCount: extra.nodeCount,
    uefiAvailable: f.uefiAvailable,
    arches: f.arches,
    uefiArches: f.uefiArches,
    physnets: extra.physnets.map(physnetToPb),
  });
}

const EVENT_PB: Record<DomainEvent['type'], NodeEventType> = {
  defined: NodeEventType.NODE_EVENT_TYPE_DEFINED,
  undefined: NodeEventType.NODE_EVENT_TYPE_UNDEFINED,
  started: NodeEventType.NODE_EVENT_TYPE_STARTED,
  stopped: NodeEventType.NODE_EVENT_TYPE_STOPPED,
  suspended: NodeEventType.NODE_EVENT_TYPE_SUSPENDED,
  resumed: NodeEventType.NODE_EVENT_TYPE_RESUMED,
  shutdown: NodeEventType.NODE_EVENT_TYPE_SHUTDOWN,
  crashed: NodeEventType.NODE_EVENT_TYPE_CRASHED,
  other: NodeEventType.NODE_EVENT_TYPE_UNSPECIFIED,
};

export function eventTypeToPb(t: DomainEvent['type']): NodeEventType {
  return EVENT_PB[t];
}
