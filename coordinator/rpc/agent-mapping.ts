/** Protobuf ⇄ domain mapping for the coordinator's calls to agents. */
import * as pb from '../../proto/gen/tenks/v1/types.pb.js';
import { heartbeatArches, type AgentHeartbeat } from '../../common/index.js';
import type { BridgeType } from '../../common/spec/index.js';
import type { NodeRequest, ObservedNode } from '../planner/index.js';

const POWER_NAME: Record<number, string> = {
  [pb.PowerState.POWER_STATE_ON]: 'on',
  [pb.PowerState.POWER_STATE_OFF]: 'off',
  [pb.PowerState.POWER_STATE_PAUSED]: 'paused',
  [pb.PowerState.POWER_STATE_SHUTTING_DOWN]: 'shutting_down',
  [pb.PowerState.POWER_STATE_CRASHED]: 'crashed',
  [pb.PowerState.POWER_STATE_SUSPENDED]: 'suspended',
};

/** What the coordinator asks an agent to make, as the wire NodeSpec. */
export function toAgentNodeSpec(r: NodeRequest): pb.NodeSpec {
  const n = r.node;
  return pb.NodeSpec.create({
    cluster: n.cluster,
    name: n.name,
    uuid: r.uuid,
    nodeType: n.nodeType,
    memoryMb: n.memoryMb,
    vcpus: n.vcpus,
    machine: n.machine ?? '',
    cpuMode: n.cpuMode ?? '',
    bootMode: n.bootMode === 'uefi' ? pb.BootMode.BOOT_MODE_UEFI : pb.BootMode.BOOT_MODE_BIOS,
    volumes: n.volumes.map((v) =>
      pb.VolumeSpec.create({
        name: v.name,
        capacity: v.capacityBytes === null ? '' : String(v.capacityBytes),
        image: v.source.kind === 'image' ? v.source.path : '',
        backingImage: v.source.kind === 'backing' ? v.source.path : '',
        existing: v.source.kind === 'existing' ? v.source.ref : '',
        format: v.format,
      }),
    ),
    nics: n.physnets.map((p, i) => pb.NicSpec.create({ physnet: p, mac: r.macs[i] ?? '' })),
    consoleLogEnabled: n.consoleLog,
    vncEnabled: n.vnc,
    bmc: pb.BmcSpec.create({
      ipmiEnabled: r.bmc.ipmi,
      redfishEnabled: r.bmc.redfish,
      username: r.bmc.username,
      password: r.bmc.password,
      ipmiPort: r.bmc.ipmiPort,
    }),
    labels: r.labels,
    engine: n.libvirt.engine ?? '',
    emulator: n.libvirt.emulator ?? '',
    consoleLogDir: n.libvirt.consoleLogDir ?? '',
    consoleLogOwner: n.libvirt.logOwner ?? '',
    trustGuestRxFilters: n.libvirt.trustGuestRxFilters,
    clockOffset: n.libvirt.clockOffset ?? '',
    // Empty for x86_64, as agents older than architectures expect.
    arch: n.arch === 'x86_64' ? '' : n.arch,
  });
}

/** An agent's NodeStatus as the planner sees it. */
export function toObservedNode(agent: string, s: pb.NodeStatus): ObservedNode {
  const i = s.bmc?.ipmi;
  const rf = s.bmc?.redfish;
  return {
    agent,
    cluster: s.cluster,
    name: s.name,
    uuid: s.uuid,
    nodeType: s.nodeType,
    powerState: POWER_NAME[s.powerState] ?? 'unknown',
    memoryMb: s.memoryMb,
    vcpus: s.vcpus,
    bootMode: s.bootMode === pb.BootMode.BOOT_MODE_UEFI ? 'uefi' : 'bios',
    machine: s.machine,
    consoleLog: s.consoleLogPath !== '',
    volumes: s.volumes.map((v) => ({ name: v.name, capacityBytes: v.capacityBytes })),
    nics: s.nics.map((x) => ({
      physnet: x.physnet,
      mac: x.mac,
      bridge: x.bridge,
      bridgeMac: x.bridgeMac,
      switchPort: x.switchPort,
    })),
    labels: { ...s.labels },
    bmc: {
      ipmi: i ? { address: i.address, port: i.port, username: i.username, password: i.password } : null,
      redfish: rf ? { url: rf.url, systemId: rf.systemId, username: rf.username, password: rf.password } : null,
    },
  };
}

/** Bridge type for SetupHost. */
export function bridgeTypeToPb(t: BridgeType): pb.BridgeType {
  return t === 'linuxbridge' ? pb.BridgeType.BRIDGE_TYPE_LINUXBRIDGE : pb.BridgeType.BRIDGE_TYPE_OPENVSWITCH;
}

/** A heartbeat as the HostInfo of an Agent message. */
export function heartbeatToHostInfo(h: AgentHeartbeat): pb.HostInfo {
  return pb.HostInfo.create({
    hostname: h.hostname,
    agentId: h.id,
    agentVersion: h.agentVersion,
    libvirtUri: h.libvirtUri,
    engine: h.engine,
    cpus: h.cpus,
    memoryBytes: h.memoryBytes,
    freeMemoryBytes: h.freeMemoryBytes,
    pool: pb.PoolInfo.create({
      name: h.pool.name,
      type: h.pool.type,
      capacityBytes: h.pool.capacityBytes,
      availableBytes: h.pool.availableBytes,
    }),
    physnets: h.physnets.map((p) =>
      pb.PhysnetStatus.create({
        physnet: p.physnet,
        device: p.device,
        vlan: p.vlan,
        bridge: p.bridge,
        bridgeMac: p.bridgeMac,
      }),
    ),
    bmcPortRangeStart: h.bmc.ipmiPortStart,
    bmcPortRangeEnd: h.bmc.ipmiPortEnd,
    nodeCount: h.nodeCount,
    uefiAvailable: h.uefiAvailable,
    ...heartbeatArches(h),
  });
}
