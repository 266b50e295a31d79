/** Planning a cluster: its spec compiled, its nodes observed and scheduled, the actions to take. */
import { randomUUID } from 'node:crypto';
import { TenksError } from '../../common/index.js';
import { expandNodes, parseClusterSpec, type ClusterSpec, type DesiredNode } from '../../common/spec/index.js';
import { plan, planPruneRefusal, type ObservedNode, type Plan } from '../planner/index.js';
import { nodeDemand, schedule } from '../scheduler/index.js';
import type { FlowDeps } from './flow-deps.js';
import { currentOf, hostsOf } from './inventory.js';
import { observeCluster } from './observe.js';

/** A compiled spec with its plan and what it was planned from. */
export interface PlannedCluster {
  spec: ClusterSpec;
  desired: DesiredNode[];
  plan: Plan;
  /** The cluster's nodes as the agents reported them for this plan. */
  observed: ObservedNode[];
}

/** Parses and compiles a stored or submitted spec. */
export function compileSpec(specYaml: string, source: string): { spec: ClusterSpec; warnings: string[] } {
  const { spec, warnings } = parseClusterSpec(specYaml, source);
  return { spec, warnings: warnings.map((w) => `${w.field}: ${w.message}`) };
}

/** Observes the cluster, schedules its nodes and plans. Throws CAPACITY before anything changes. */
export async function planCluster(
  deps: FlowDeps,
  spec: ClusterSpec,
  specWarnings: string[],
  signal?: AbortSignal,
  o: { waitForAgents: boolean } = { waitForAgents: false },
): Promise<PlannedCluster> {
  const desired = expandNodes(spec);
  const placements = deps.store.placementsOf(spec.name);
  // An agent holding nodes of the cluster that is restarting right now is waited for, so its nodes
  // are observed rather than planned blind; so is every allowed agent when none is alive.
  const allowed = spec.hypervisors ? Object.keys(spec.hypervisors) : null;
  if (o.waitForAgents) {
    await deps.registry.awaitKnown(
      [...placements.values()].map((p) => p.agent),
      signal,
    );
    const candidates = deps.registry.list().filter((a) => allowed === null || allowed.includes(a.id));
    if (desired.length > 0 && !candidates.some((a) => a.alive))
      await deps.registry.awaitAny(
        candidates.map((a) => a.id),
        signal,
      );
  }
  const obs = await observeCluster(spec.name, placements, deps.registry, deps.port, deps.log, signal);
  const agents = deps.registry.list();
  const warnings = [...specWarnings];
  if (allowed)
    for (const id of allowed)
      if (!agents.some((a) => a.id === id)) warnings.push(`hypervisors.${id}: no agent with this id has been seen`);
  for (const [agent, why] of obs.reasons) warnings.push(`agent ${agent} not asked: ${why}`);
  if (desired.length > 0 && !agents.some((a) => a.alive && (allowed === null || allowed.includes(a.id))))
    throw new TenksError('UNAVAILABLE', `no live agent to place the nodes of cluster '${spec.name}' on`, {
      hint: 'start tenks-agent on the hypervisors (with nats configured) and check `tenksctl get agents`',
    });
  const usedPorts = new Map<string, Set<number>>();
  for (const p of deps.store.allPlacements())
    if (p.ipmiPort > 0) {
      let s = usedPorts.get(p.agent);
      if (!s) usedPorts.set(p.agent, (s = new Set()));
      s.add(p.ipmiPort);
    }
  for (const o of obs.nodes)
    if (o.bmc.ipmi) {
      let s = usedPorts.get(o.agent);
      if (!s) usedPorts.set(o.agent, (s = new Set()));
      s.add(o.bmc.ipmi.port);
    }
  const result = schedule({
    cluster: spec.name,
    nodes: desired.map(nodeDemand),
    hosts: hostsOf(spec, agents, usedPorts),
    current: currentOf(spec.name, desired, deps.store.allPlacements(), obs.nodes),
    allowedHosts: allowed,
    options: spec.scheduler,
  });
  warnings.push(...result.warnings);
  const p = plan({
    spec,
    desired,
    assignment: new Map(result.assignments.map((a) => [a.node, a.hostId])),
    placements,
    observed: obs.nodes,
    unreachable: obs.unreachable,
    // As the agents answered just now (heartbeats lag a moment behind a setup).
    hostPhysnets: new Map(agents.map((a) => [a.id, obs.physnets.get(a.id) ?? a.heartbeat.physnets])),
    usedPorts,
    newUuid: deps.newUuid ?? randomUUID,
  });
  p.warnings.unshift(...warnings);
  return { spec, desired, plan: p, observed: obs.nodes };
}

/** The prune refusal (planner/prune.ts) of a planned apply, or null. */
export function pruneRefusalOf(deps: FlowDeps, planned: PlannedCluster): ReturnType<typeof planPruneRefusal> {
  return planPruneRefusal(
    planned.plan,
    deps.store.placementsOf(planned.spec.name).keys(),
    planned.observed.map((n) => n.name),
    new Set(planned.desired.map((n) => n.name)),
  );
}
