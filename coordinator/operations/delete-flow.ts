/** Delete and teardown: a cluster's cloud objects first, then its nodes, bridges and placements. */
import { toTenksError } from '../../common/index.js';
import { deleteFlavors, enrolledNodes, unenrolNodes } from '../enrolment/index.js';
import { execute } from '../executor/index.js';
import type { IronicNode, OpenStackClients } from '../openstack/types.js';
import type { Action, Plan } from '../planner/index.js';
import { unsealSpec } from '../secrets/index.js';
import type { PlacementRecord } from '../state/records.js';
import {
  cloudLeftovers,
  cloudRefusal,
  leftoverWarnings,
  nothingLeft,
  stuckInIronicWarning,
  type CloudProblem,
} from './cloud-leftovers.js';
import { cloudOf, stageOf, type FlowDeps, type ProgressSink } from './flow-deps.js';
import { observeCluster, type Observation } from './observe.js';
import { compileSpec } from './plan-cluster.js';
import { runPlan } from './run-plan.js';

/** A cluster about to be deleted: what the agents report of it, and what its cloud allows. */
interface Doomed {
  cluster: string;
  placements: Map<string, PlacementRecord>;
  obs: Observation;
  /** The cloud to take the cluster's flavors and Ironic nodes out of first; null when there is none to use. */
  os: OpenStackClients | null;
  /** What stays in the cloud when it cannot be used (with --force), or why it was not needed. */
  warnings: string[];
  /** The cloud cannot be used and something may be left there: without --force, nothing is deleted. */
  problem: CloudProblem | null;
}

/**
 * Observes the cluster and checks its cloud when its spec enrols. A cloud that cannot be used
 * (not configured, unreachable, refusing the credentials, too old) is a `problem` when something of
 * the cluster may be there, or with `force` becomes warnings naming it; the cluster's VMs must not
 * go while Ironic still points at them, unless the user says so.
 */
async function prepareDelete(deps: FlowDeps, cluster: string, force: boolean, signal: AbortSignal): Promise<Doomed> {
  const placements = deps.store.placementsOf(cluster);
  const obs = await observeCluster(cluster, placements, deps.registry, deps.port, deps.log, signal);
  const doomed: Doomed = { cluster, placements, obs, os: null, warnings: [], problem: null };
  const stored = unsealSpec(deps.secrets, deps.store.cluster(cluster)?.value.specYaml ?? '', `cluster ${cluster}`);
  const spec = stored !== '' ? compileSpec(stored, `cluster ${cluster}`).spec : null;
  if (!spec) return doomed;
  try {
    doomed.os = await cloudOf(deps, spec, signal);
  } catch (e) {
    const cause = toTenksError(e);
    if (signal.aborted || cause.code === 'CANCELLED') throw cause;
    const leftovers = cloudLeftovers(spec, placements, obs.nodes);
    if (nothingLeft(leftovers))
      doomed.warnings.push(
        `cluster ${cluster}: cloud not used (${cause.message}); nothing of the cluster was placed and it declares no flavors, so nothing of it can be there`,
      );
    else if (force) doomed.warnings.push(...leftoverWarnings({ leftovers, cause }));
    else doomed.problem = { leftovers, cause };
  }
  return doomed;
}

/** Deletes a prepared cluster: flavors, then Ironic nodes, then VMs (as upstream), then bridges and placements. */
async function removeCluster(
  deps: FlowDeps,
  d: Doomed,
  progress: ProgressSink,
  signal: AbortSignal,
  force: boolean,
): Promise<void> {
  const { cluster, placements, obs, os } = d;
  const warnings = [...[...obs.reasons].map(([a, w]) => `agent ${a}: ${w}`), ...d.warnings];
  let inIronic = new Set<string>();
  if (os) {
    const stage = stageOf(progress);
    await deleteFlavors(cluster, os, stage, signal);
    let enrolled: IronicNode[] = [];
    try {
      enrolled = await enrolledNodes(cluster, os, signal);
    } catch (e) {
      // With --force the VMs go even so; unenrolNodes records why each node stays in Ironic.
      if (!force || signal.aborted) throw e;
    }
    const observedUuids = new Set(obs.nodes.map((o) => o.uuid));
    const targets = [
      ...obs.nodes.map((o) => ({ name: o.name, uuid: o.uuid, agent: o.agent })),
      ...enrolled
        .filter((n) => !observedUuids.has(n.uuid))
        .map((n) => ({ name: n.name ?? n.uuid, uuid: n.uuid, agent: '' })),
    ];
    const out = await unenrolNodes(cluster, targets, os, force, stage, signal);
    const stuck = targets.filter((t) => !out.has(t.name));
    // Ironic answered the check but kept these (a reader-only role, say): --force still deletes their VMs.
    if (force && stuck.length > 0) warnings.push(stuckInIronicWarning(cluster, stuck));
    else inIronic = new Set(stuck.map((t) => t.name));
  }
  const actions: Action[] = [];
  const reported = new Set(obs.nodes.map((o) => o.name));
  for (const o of obs.nodes)
    if (inIronic.has(o.name))
      progress.done({
        node: o.name,
        action: 'delete',
        hypervisor: o.agent,
        ok: false,
        code: 'CONFLICT',
        message: `not attempted: ${o.name} is still in Ironic`,
        changes: [],
      });
    else actions.push({ kind: 'delete', agent: o.agent, name: o.name, uuid: o.uuid, changes: ['node deleted'] });
  for (const [name, p] of placements)
    if (!reported.has(name) && obs.unreachable.has(p.agent))
      actions.push({
        kind: 'delete',
        agent: p.agent,
        name,
        uuid: p.uuid,
        changes: [`agent ${p.agent} is unreachable`],
      });
  // Bridges: every alive agent is asked (setup may have happened where no node ended up), except
  // where nodes of the cluster stay.
  const staying = new Set(obs.nodes.filter((o) => inIronic.has(o.name)).map((o) => o.agent));
  for (const a of deps.registry.list())
    if (a.alive && !staying.has(a.id))
      actions.push({ kind: 'teardown_host', agent: a.id, changes: ['bridges removed'] });
  for (const agent of obs.unreachable) actions.push({ kind: 'teardown_host', agent, changes: ['bridges removed'] });
  const p: Plan = { cluster, actions, unchanged: 0, warnings };
  progress.planned(actions.length, p.warnings);
  await runPlan(deps, cluster, p, progress, signal);
  // Placements of nodes no agent reported (and none unreachable) are stale.
  for (const [name, pl] of deps.store.placementsOf(cluster))
    if (!obs.unreachable.has(pl.agent) && !inIronic.has(name)) await deps.store.deletePlacement(cluster, name, signal);
}

/**
 * Delete one cluster: its flavors and Ironic nodes (when its spec enrols), its nodes, then its
 * bridges on every agent that has them, then its placements. When its cloud cannot be used and
 * something of it may be there, fails naming it, having deleted nothing, unless `force`: then the
 * rest goes and the warnings name what stays in the cloud. A node Ironic keeps keeps its VM,
 * unless `force` (then a warning names it).
 */
export async function deleteFlow(
  deps: FlowDeps,
  cluster: string,
  progress: ProgressSink,
  signal: AbortSignal,
  force = false,
): Promise<void> {
  const d = await prepareDelete(deps, cluster, force, signal);
  if (d.problem) throw cloudRefusal([d.problem], 'delete');
  await removeCluster(deps, d, progress, signal, force);
}

/**
 * Teardown: every cluster tenks knows and every tenks node any agent reports, then every bridge
 * tenks made on every agent, so the hosts are as they were before tenks. Every cluster's cloud is
 * checked first: without `force`, one that cannot be used (with something of its cluster in it)
 * fails the teardown before anything is deleted.
 */
export async function teardownFlow(
  deps: FlowDeps,
  progress: ProgressSink,
  signal: AbortSignal,
  force = false,
): Promise<void> {
  const clusters = new Set(deps.store.clusters.values().map((c) => c.name));
  for (const p of deps.store.allPlacements()) clusters.add(p.cluster);
  const alive = deps.registry.list().filter((a) => a.alive);
  const everything = await Promise.all(alive.map((a) => deps.port.listNodes(a.id, '', false, signal).catch(() => [])));
  for (const n of everything.flat()) if (n.cluster !== '') clusters.add(n.cluster);
  const doomed: Doomed[] = [];
  for (const c of [...clusters].sort()) doomed.push(await prepareDelete(deps, c, force, signal));
  const problems = doomed.map((d) => d.problem).filter((x) => x !== null);
  if (problems.length > 0) throw cloudRefusal(problems, 'teardown');
  let total = 0;
  const warnings: string[] = [];
  const counting: ProgressSink = {
    planned: (n, w) => {
      total += n;
      warnings.push(...w);
    },
    hooks: progress.hooks,
    done: progress.done,
  };
  for (const d of doomed) await removeCluster(deps, d, counting, signal, force);
  progress.planned(total + alive.length, warnings);
  const p: Plan = {
    cluster: '',
    actions: alive.map((a) => ({ kind: 'teardown_host', agent: a.id, changes: ['every tenks bridge removed'] })),
    unchanged: 0,
    warnings: [],
  };
  await execute(p, {
    port: deps.port,
    cluster: '',
    policy: deps.policy,
    signal,
    hooks: { ...progress.hooks, done: progress.done, finished: () => Promise.resolve() },
  });
}
