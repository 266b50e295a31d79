/**
 * Protobuf ⇄ domain mapping for the agent's gRPC server: the only place (with agent-service.ts) of
 * the agent that sees generated types. The messages the coordinator serves too are mapped in common/.
 */
import * as pb from '../../proto/gen/tenks/v1/types.pb.js';
import type { NodeEventType } from '../../proto/gen/tenks/v1/agent.pb.js';
import {
  bmcInfoToPb,
  bootModeName,
  bridgeTypeName,
  hostInfoToPb as hostToPb,
  nodeEventTypeToPb,
  nodeStatusToPb as statusToPb,
  physnetToPb,
  powerActionName,
  powerStateToPb,
} from '../../common/index.js';
import type { BmcEndpoints } from '../bmc/index.js';
import type { BridgeType, PhysnetState } from '../network/index.js';
import type {
  DomainEvent,
  HostFacts,
  NodeRef,
  NodeStatus,
  PoolInfo,
  PowerAction,
  RawNodeSpec,
} from '../compute/index.js';

/** proto BootMode → the raw string the spec compiler validates (unknown numbers stay visible in errors). */
export function bootModeFromPb(m: pb.BootMode): string {
  if (m === pb.BootMode.BOOT_MODE_UNSPECIFIED) return '';
  return bootModeName(m) ?? `enum value ${String(m)}`;
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

export { powerStateToPb, physnetToPb };

/** proto PowerAction → domain; null for UNSPECIFIED or unknown values. */
export function powerActionFromPb(a: pb.PowerAction): PowerAction | null {
  return powerActionName(a);
}

/** BMC endpoints → proto. */
export function bmcToPb(b: BmcEndpoints): pb.BmcInfo {
  return bmcInfoToPb(b);
}

export function nodeStatusToPb(n: NodeStatus, bmc?: BmcEndpoints): pb.NodeStatus {
  return statusToPb({ ...n, bmc: bmc ?? null });
}

/** proto BridgeType → domain; UNSPECIFIED is upstream's default, openvswitch; null for unknown values. */
export function bridgeTypeFromPb(t: pb.BridgeType): BridgeType | null {
  return t === pb.BridgeType.BRIDGE_TYPE_UNSPECIFIED ? 'openvswitch' : bridgeTypeName(t);
}

export function hostInfoToPb(
  f: HostFacts,
  extra: { agentId: string; agentVersion: string; pool: PoolInfo; nodeCount: number; physnets: PhysnetState[] },
): pb.HostInfo {
  return hostToPb({
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
    pool: extra.pool,
    physnets: extra.physnets,
    bmcPortRangeStart: 0,
    bmcPortRangeEnd: 0,
    nodeCount: extra.nodeCount,
    uefiAvailable: f.uefiAvailable,
    arches: f.arches,
    uefiArches: f.uefiArches,
  });
}

/** A domain event type as the wire's; `other` is UNSPECIFIED. */
export function eventTypeToPb(t: DomainEvent['type']): NodeEventType {
  return nodeEventTypeToPb(t);
}
