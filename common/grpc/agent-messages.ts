/**
 * AgentService messages ⇄ tenks terms (common/api). Clients (the CLI, the coordinator) read the
 * agent's answers through it, and both servers write nodes and hosts with it.
 */
import type { WatchEventsResponse } from '../../proto/gen/tenks/v1/agent.pb.js';
import * as pb from '../../proto/gen/tenks/v1/types.pb.js';
import type { BmcInfo, HostInfo, NodeEvent, NodeSpec, NodeStatus, PhysnetStatus, PoolInfo } from '../api/index.js';
import {
  bootDeviceName,
  bootDeviceToPb,
  bootModeName,
  bootModeToPb,
  bridgeTypeName,
  bridgeTypeToPb,
  nodeEventTypeName,
  powerStateName,
  powerStateToPb,
} from './enums.js';

/** A node to make, as the wire NodeSpec. */
export function nodeSpecToPb(s: NodeSpec): pb.NodeSpec {
  return pb.NodeSpec.create({
    ...s,
    bootMode: bootModeToPb(s.bootMode),
    volumes: s.volumes.map((v) => pb.VolumeSpec.create(v)),
    nics: s.nics.map((n) => pb.NicSpec.create(n)),
    ...(s.bmc ? { bmc: pb.BmcSpec.create(s.bmc) } : {}),
  });
}

export function bmcInfoToPb(b: BmcInfo): pb.BmcInfo {
  return pb.BmcInfo.create({
    ...(b.ipmi ? { ipmi: pb.IpmiEndpoint.create(b.ipmi) } : {}),
    ...(b.redfish ? { redfish: pb.RedfishEndpoint.create(b.redfish) } : {}),
  });
}

export function bmcInfoFromPb(m: pb.BmcInfo): BmcInfo {
  const { ipmi, redfish } = m;
  return {
    ipmi: ipmi ? { address: ipmi.address, port: ipmi.port, username: ipmi.username, password: ipmi.password } : null,
    redfish: redfish
      ? { url: redfish.url, systemId: redfish.systemId, username: redfish.username, password: redfish.password }
      : null,
  };
}

export function nodeStatusToPb(n: NodeStatus): pb.NodeStatus {
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
    ...(n.bmc ? { bmc: bmcInfoToPb(n.bmc) } : {}),
    specHash: n.specHash,
    consoleLogPath: n.consoleLogPath,
    engine: n.engine,
    arch: n.arch,
    bootDevice: bootDeviceToPb(n.bootDevice),
    labels: n.labels,
  });
}

export function nodeStatusFromPb(m: pb.NodeStatus): NodeStatus {
  return {
    cluster: m.cluster,
    name: m.name,
    uuid: m.uuid,
    nodeType: m.nodeType,
    hypervisor: m.hypervisor,
    powerState: powerStateName(m.powerState),
    memoryMb: m.memoryMb,
    vcpus: m.vcpus,
    bootMode: bootModeName(m.bootMode) ?? 'unknown',
    machine: m.machine,
    volumes: m.volumes.map((v) => ({ ...v })),
    nics: m.nics.map((c) => ({ ...c })),
    bmc: m.bmc ? bmcInfoFromPb(m.bmc) : null,
    specHash: m.specHash,
    consoleLogPath: m.consoleLogPath,
    engine: m.engine,
    bootDevice: bootDeviceName(m.bootDevice),
    labels: { ...m.labels },
    arch: m.arch,
  };
}

export function physnetToPb(p: PhysnetStatus): pb.PhysnetStatus {
  return pb.PhysnetStatus.create({ ...p, bridgeType: bridgeTypeToPb(p.bridgeType), clusters: [...p.clusters] });
}

/** UNSPECIFIED (and any bridge type this build does not know) reads as upstream's default, openvswitch. */
export function physnetFromPb(m: pb.PhysnetStatus): PhysnetStatus {
  return { ...m, bridgeType: bridgeTypeName(m.bridgeType) ?? 'openvswitch', clusters: [...m.clusters] };
}

export function hostInfoToPb(h: HostInfo): pb.HostInfo {
  return pb.HostInfo.create({
    ...h,
    pool: h.pool ? pb.PoolInfo.create(h.pool) : undefined,
    physnets: h.physnets.map(physnetToPb),
  });
}

export function hostInfoFromPb(m: pb.HostInfo): HostInfo {
  const pool: PoolInfo | null = m.pool ? { ...m.pool } : null;
  return { ...m, pool, physnets: m.physnets.map(physnetFromPb), arches: [...m.arches], uefiArches: [...m.uefiArches] };
}

export function nodeEventFromPb(m: WatchEventsResponse): NodeEvent {
  return { ...m, type: nodeEventTypeName(m.type), powerState: powerStateName(m.powerState) };
}
