/** Agent answers (nodes, hosts, physnets) → plain snake_case objects for `-o json|yaml`, and table columns. */
import type { HostInfo, NodeStatus, PhysnetStatus } from '../common/index.js';
import type { Column } from './output.js';

/** The boot device as shown: an unknown one shows as network, the agents' default. */
export function bootDeviceLabel(n: NodeStatus): string {
  return n.bootDevice === 'unknown' ? 'network' : n.bootDevice;
}

/** A node as JSON/YAML output. */
export function nodeJson(n: NodeStatus): Record<string, unknown> {
  return {
    name: n.name,
    uuid: n.uuid,
    cluster: n.cluster,
    hypervisor: n.hypervisor,
    node_type: n.nodeType,
    power_state: n.powerState,
    memory_mb: n.memoryMb,
    vcpus: n.vcpus,
    boot_mode: n.bootMode,
    boot_device: bootDeviceLabel(n),
    machine: n.machine,
    engine: n.engine,
    volumes: n.volumes.map((v) => ({
      name: v.name,
      pool: v.pool,
      path: v.path,
      capacity_bytes: v.capacityBytes,
      allocation_bytes: v.allocationBytes,
      format: v.format,
    })),
    nics: n.nics.map((c) => ({
      mac: c.mac,
      physnet: c.physnet,
      switch_port: c.switchPort,
      bridge: c.bridge,
      bridge_mac: c.bridgeMac,
    })),
    bmc: bmcJson(n),
    console_log_path: n.consoleLogPath,
    spec_hash: n.specHash,
    labels: n.labels,
  };
}

/** A node's BMC endpoints; passwords only when the agent sent them (`--show-secrets`). */
export function bmcJson(n: NodeStatus): Record<string, unknown> {
  const i = n.bmc?.ipmi;
  const r = n.bmc?.redfish;
  return {
    ipmi: i
      ? {
          address: i.address,
          port: i.port,
          username: i.username,
          ...(i.password !== '' ? { password: i.password } : {}),
        }
      : null,
    redfish: r
      ? {
          url: r.url,
          system_id: r.systemId,
          username: r.username,
          ...(r.password !== '' ? { password: r.password } : {}),
        }
      : null,
  };
}

/** The BMC endpoints of a node in one table cell. */
export function bmcCell(n: NodeStatus): string {
  const out: string[] = [];
  if (n.bmc?.ipmi) out.push(`ipmi://${n.bmc.ipmi.address}:${n.bmc.ipmi.port}`);
  if (n.bmc?.redfish) out.push(`${n.bmc.redfish.url}${n.bmc.redfish.systemId}`);
  return out.join(' ') || '-';
}

export const nodeColumns: Column<NodeStatus>[] = [
  { header: 'NAME', cell: (n) => n.name },
  { header: 'CLUSTER', cell: (n) => n.cluster },
  { header: 'POWER', cell: (n) => n.powerState },
  { header: 'MEMORY', cell: (n) => `${n.memoryMb}MiB` },
  { header: 'VCPUS', cell: (n) => n.vcpus },
  { header: 'BOOT', cell: (n) => n.bootMode },
  { header: 'DISKS', cell: (n) => n.volumes.length },
  { header: 'NICS', cell: (n) => n.nics.map((c) => `${c.physnet}=${c.mac}`).join(',') || '-' },
  { header: 'BMC', cell: bmcCell },
  { header: 'UUID', cell: (n) => n.uuid },
];

/** Host info as JSON/YAML output. */
export function hostJson(h: HostInfo): Record<string, unknown> {
  return {
    hostname: h.hostname,
    agent_id: h.agentId,
    agent_version: h.agentVersion,
    libvirt_uri: h.libvirtUri,
    libvirt_version: h.libvirtVersion,
    hypervisor_version: h.hypervisorVersion,
    engine: h.engine,
    cpus: h.cpus,
    memory_bytes: h.memoryBytes,
    free_memory_bytes: h.freeMemoryBytes,
    uefi_available: h.uefiAvailable,
    arches: h.arches,
    uefi_arches: h.uefiArches,
    node_count: h.nodeCount,
    pool: h.pool
      ? {
          name: h.pool.name,
          type: h.pool.type,
          path: h.pool.path,
          capacity_bytes: h.pool.capacityBytes,
          available_bytes: h.pool.availableBytes,
        }
      : null,
  };
}

/** A physnet as JSON/YAML output. */
export function physnetJson(p: PhysnetStatus): Record<string, unknown> {
  return {
    physnet: p.physnet,
    device: p.device,
    vlan: p.vlan,
    bridge: p.bridge,
    bridge_mac: p.bridgeMac,
    bridge_type: p.bridgeType,
  };
}

export const physnetColumns: Column<PhysnetStatus>[] = [
  { header: 'PHYSNET', cell: (p) => p.physnet },
  { header: 'DEVICE', cell: (p) => (p.vlan ? `${p.device} (VLAN ${p.vlan})` : p.device) },
  { header: 'BRIDGE', cell: (p) => p.bridge },
  { header: 'TYPE', cell: (p) => p.bridgeType },
  { header: 'BRIDGE MAC', cell: (p) => p.bridgeMac },
];
