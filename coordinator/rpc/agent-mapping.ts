/** The planner's terms ⇄ what agents are asked and answer (common/api; common/grpc maps that to the wire). */
import type { NodeSpec, NodeStatus } from '../../common/index.js';
import type { NodeRequest, ObservedNode } from '../planner/index.js';

/** What the coordinator asks an agent to make. */
export function toAgentNodeSpec(r: NodeRequest): NodeSpec {
  const n = r.node;
  const { ipmi, redfish, ...credentials } = r.bmc;
  return {
    cluster: n.cluster,
    name: n.name,
    uuid: r.uuid,
    nodeType: n.nodeType,
    memoryMb: n.memoryMb,
    vcpus: n.vcpus,
    machine: n.machine ?? '',
    cpuMode: n.cpuMode ?? '',
    bootMode: n.bootMode,
    volumes: n.volumes.map((v) => ({
      name: v.name,
      capacity: v.capacityBytes === null ? '' : String(v.capacityBytes),
      image: v.source.kind === 'image' ? v.source.path : '',
      backingImage: v.source.kind === 'backing' ? v.source.path : '',
      existing: v.source.kind === 'existing' ? v.source.ref : '',
      format: v.format,
    })),
    nics: n.physnets.map((p, i) => ({ physnet: p, mac: r.macs[i] ?? '' })),
    consoleLogEnabled: n.consoleLog,
    vncEnabled: n.vnc,
    bmc: { ipmiEnabled: ipmi, redfishEnabled: redfish, ...credentials },
    labels: r.labels,
    engine: n.libvirt.engine ?? '',
    emulator: n.libvirt.emulator ?? '',
    consoleLogDir: n.libvirt.consoleLogDir ?? '',
    consoleLogOwner: n.libvirt.logOwner ?? '',
    trustGuestRxFilters: n.libvirt.trustGuestRxFilters,
    clockOffset: n.libvirt.clockOffset ?? '',
    // Empty for x86_64, as agents older than architectures expect.
    arch: n.arch === 'x86_64' ? '' : n.arch,
  };
}

/** An agent's node as the planner sees it. */
export function toObservedNode(agent: string, s: NodeStatus): ObservedNode {
  return {
    agent,
    cluster: s.cluster,
    name: s.name,
    uuid: s.uuid,
    nodeType: s.nodeType,
    powerState: s.powerState,
    memoryMb: s.memoryMb,
    vcpus: s.vcpus,
    bootMode: s.bootMode === 'uefi' ? 'uefi' : 'bios',
    machine: s.machine,
    consoleLog: s.consoleLogPath !== '',
    volumes: s.volumes.map((v) => ({ name: v.name, capacityBytes: v.capacityBytes })),
    nics: s.nics.map((x) => ({ ...x })),
    labels: { ...s.labels },
    bmc: {
      ipmi: s.bmc?.ipmi ? { ...s.bmc.ipmi } : null,
      redfish: s.bmc?.redfish ? { ...s.bmc.redfish } : null,
    },
  };
}
