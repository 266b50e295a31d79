/** Asks the agents what exists of a cluster: the observed half of every plan. */
import { toTenksError, type Logger } from '../../common/index.js';
import type { AgentPort, AgentRegistry, HostPhysnet } from '../agents/index.js';
import type { ObservedNode } from '../planner/index.js';
import type { PlacementRecord } from '../state/index.js';

/** What the agents said. */
export interface Observation {
  /** Nodes of the cluster on every agent that answered. */
  nodes: ObservedNode[];
  /** Agents holding placements of the cluster that did not answer (dead, or the call failed). */
  unreachable: Set<string>;
  /** Why each unreachable agent is. */
  reasons: Map<string, string>;
  /** Physnets each answering agent has set up now. */
  physnets: Map<string, HostPhysnet[]>;
}

/**
 * Lists the cluster's nodes and the host's physnets on every alive agent (a node may exist where no placement says, e.g.
 * after the state was lost), with BMC secrets so credential changes show.
 */
export async function observeCluster(
  cluster: string,
  placements: ReadonlyMap<string, PlacementRecord>,
  registry: AgentRegistry,
  port: AgentPort,
  log: Logger,
  signal?: AbortSignal,
): Promise<Observation> {
  const nodes: ObservedNode[] = [];
  const unreachable = new Set<string>();
  const reasons = new Map<string, string>();
  const physnets = new Map<string, HostPhysnet[]>();
  const holders = new Set([...placements.values()].map((p) => p.agent));
  const asked = registry.list().filter((a) => a.alive);
  for (const h of holders)
    if (!asked.some((a) => a.id === h)) {
      unreachable.add(h);
      reasons.set(h, registry.get(h) ? 'no recent heartbeat' : 'never seen');
    }
  await Promise.all(
    asked.map(async (a) => {
      try {
        const [listed, nets] = await Promise.all([
          port.listNodes(a.id, cluster, true, signal),
          port.hostPhysnets(a.id, signal),
        ]);
        nodes.push(...listed);
        physnets.set(a.id, nets);
      } catch (e) {
        const err = toTenksError(e);
        log.warn('agent did not answer ListNodes', { agent: a.id, code: err.code, error: err.message });
        if (holders.has(a.id)) unreachable.add(a.id);
        reasons.set(a.id, err.message);
      }
    }),
  );
  nodes.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  return { nodes, unreachable, reasons, physnets };
}
