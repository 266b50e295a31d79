/** The scheduler's view of the agents and of what already runs on them. */
import { hostSettings, type ClusterSpec, type DesiredNode } from '../../common/spec/index.js';
import type { AgentView } from '../agents/registry.js';
import type { ObservedNode } from '../planner/index.js';
import { nodeDemand, type HostInventory, type PlacedNode } from '../scheduler/index.js';
import type { PlacementRecord } from '../state/records.js';

/** Every known agent as a schedulable host. */
export function hostsOf(spec: ClusterSpec, agents: readonly AgentView[]): HostInventory[] {
  return agents.map((a) => {
    const h = a.heartbeat;
    const physnets = new Set([
      ...Object.keys(hostSettings(spec, a.id).physnetMappings),
      ...h.physnets.map((p) => p.physnet),
    ]);
    // A range starting at 0 means the OS picks ports: effectively unbounded.
    const ports = h.bmc.ipmiPortStart === 0 ? 65_535 : h.bmc.ipmiPortEnd - h.bmc.ipmiPortStart + 1;
    return {
      id: a.id,
      cpus: h.cpus,
      memoryBytes: h.memoryBytes,
      poolCapacityBytes: h.pool.capacityBytes,
      poolAvailableBytes: h.pool.availableBytes,
      physnets: [...physnets].sort(),
      bmcPortsFree: Math.max(0, ports - h.bmc.ipmiPortsUsed),
      alive: a.alive,
    };
  });
}

/**
 * What already runs: other clusters' nodes from their placements, this cluster's nodes where the
 * agents report them (or, for unreachable agents and nodes gone missing, where placements say).
 * Nodes of this cluster the spec no longer has are left out: they are deleted before any create.
 */
export function currentOf(
  cluster: string,
  desired: readonly DesiredNode[],
  all: readonly PlacementRecord[],
  observed: readonly ObservedNode[],
): PlacedNode[] {
  const want = new Map(desired.map((n) => [n.name, nodeDemand(n)]));
  const out: PlacedNode[] = [];
  for (const p of all)
    if (p.cluster !== cluster)
      out.push({
        cluster: p.cluster,
        name: p.node,
        hostId: p.agent,
        memoryMb: p.memoryMb,
        vcpus: p.vcpus,
        diskBytes: p.diskBytes,
      });
  const seen = new Set<string>();
  for (const o of observed) {
    const d = want.get(o.name);
    if (!d || seen.has(o.name)) continue;
    seen.add(o.name);
    out.push({ cluster, name: o.name, hostId: o.agent, memoryMb: d.memoryMb, vcpus: d.vcpus, diskBytes: d.diskBytes });
  }
  for (const p of all) {
    const d = want.get(p.node);
    if (p.cluster !== cluster || !d || seen.has(p.node)) continue;
    out.push({ cluster, name: p.node, hostId: p.agent, memoryMb: d.memoryMb, vcpus: d.vcpus, diskBytes: d.diskBytes });
  }
  return out;
}
