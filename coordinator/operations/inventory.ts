/** The scheduler's view of the agents and of what already runs on them. */
import { heartbeatArches } from '../../common/index.js';
import { hostSettings, type ClusterSpec, type DesiredNode } from '../../common/spec/index.js';
import type { AgentView } from '../agents/index.js';
import { keepers, type ObservedNode } from '../planner/index.js';
import { nodeDemand, type HostInventory, type PlacedNode } from '../scheduler/index.js';
import type { PlacementRecord } from '../state/index.js';

/**
 * Every known agent as a schedulable host. Free IPMI ports are the agent's, and no more than the
 * spec's own range for that host leaves (`usedPorts`: ports taken on each agent, all clusters).
 */
export function hostsOf(
  spec: ClusterSpec,
  agents: readonly AgentView[],
  usedPorts: ReadonlyMap<string, ReadonlySet<number>> = new Map(),
): HostInventory[] {
  return agents.map((a) => {
    const h = a.heartbeat;
    const settings = hostSettings(spec, a.id);
    const physnets = new Set([...Object.keys(settings.physnetMappings), ...h.physnets.map((p) => p.physnet)]);
    // A range starting at 0 means the OS picks ports: effectively unbounded.
    const agentPorts = h.bmc.ipmiPortStart === 0 ? 65_535 : h.bmc.ipmiPortEnd - h.bmc.ipmiPortStart + 1;
    let free = Math.max(0, agentPorts - h.bmc.ipmiPortsUsed);
    const range = settings.ipmiPortRange;
    if (range !== null) {
      let taken = 0;
      for (const p of usedPorts.get(a.id) ?? []) if (p >= range.start && p <= range.end) taken++;
      free = Math.min(free, Math.max(0, range.end - range.start + 1 - taken));
    }
    return {
      id: a.id,
      cpus: h.cpus,
      memoryBytes: h.memoryBytes,
      poolCapacityBytes: h.pool.capacityBytes,
      poolAvailableBytes: h.pool.availableBytes,
      physnets: [...physnets].sort(),
      bmcPortsFree: free,
      alive: a.alive,
      ...heartbeatArches(h),
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
  const placedAt = new Map(all.filter((p) => p.cluster === cluster).map((p) => [p.node, p.agent]));
  for (const o of keepers(observed, placedAt)) {
    const d = want.get(o.name);
    if (!d) continue;
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
