/** Apply: bring a cluster to its spec, enrol it, and check the agents report what was declared. */
import type { ClusterSpec } from '../../common/spec/index.js';
import { enrolCluster, unenrolNodes } from '../enrolment/index.js';
import { actionTarget, pruneError, type Action } from '../planner/index.js';
import { unsealSpec } from '../secrets/index.js';
import { cloudOf, stageOf, type FlowDeps, type ProgressSink } from './flow-deps.js';
import { observeCluster } from './observe.js';
import { compileSpec, planCluster, pruneRefusalOf } from './plan-cluster.js';
import { runPlan } from './run-plan.js';

/**
 * Apply: bring the cluster to its spec (`sealedSpecYaml` as stored, its secrets sealed). Without
 * `prune`, a plan that deletes most of the cluster's nodes fails the apply before any host changes
 * (Coordinator.apply refuses most such applies before they start; this is the check against what
 * the agents report, which a lost placement or a resumed operation could make differ). The cluster
 * record already holds the new spec then: the runner stored it when it took the cluster.
 */
export async function applyFlow(
  deps: FlowDeps,
  sealedSpecYaml: string,
  source: string,
  outer: ProgressSink,
  signal: AbortSignal,
  o: { prune: boolean } = { prune: false },
): Promise<void> {
  let failures = 0;
  const progress: ProgressSink = {
    ...outer,
    done: (r) => {
      if (!r.ok) failures++;
      outer.done(r);
    },
  };
  const { spec, warnings } = compileSpec(unsealSpec(deps.secrets, sealedSpecYaml, source), source);
  // A cloud that cannot be used fails the apply here, before any host is touched.
  const os = await cloudOf(deps, spec, signal);
  const planned = await planCluster(deps, spec, warnings, signal, { waitForAgents: true });
  const refusal = o.prune ? null : pruneRefusalOf(deps, planned);
  if (refusal) throw pruneError(refusal);
  let plan = planned.plan;
  const stage = stageOf(progress);
  // Nodes leaving the cluster leave Ironic first; one Ironic keeps (active, say) keeps its VM too.
  const deletes = plan.actions.filter((a): a is Extract<Action, { kind: 'delete' }> => a.kind === 'delete');
  if (os && deletes.length > 0) {
    const out = await unenrolNodes(spec.name, deletes, os, false, stage, signal);
    const kept = deletes.filter((d) => !out.has(d.name));
    for (const k of kept)
      progress.done({
        node: k.name,
        action: 'delete',
        hypervisor: k.agent,
        ok: false,
        code: 'CONFLICT',
        message: `not attempted: ${k.name} is still in Ironic`,
        changes: [],
      });
    plan = { ...plan, actions: plan.actions.filter((a) => !(a.kind === 'delete' && !out.has(a.name))) };
  }
  progress.planned(plan.actions.length, plan.warnings);
  await runPlan(deps, spec.name, plan, progress, signal);
  if (os) {
    // Facts for enrolment (MACs, switch ports, BMC endpoints) as the agents report them now.
    const after = await observeCluster(
      spec.name,
      deps.store.placementsOf(spec.name),
      deps.registry,
      deps.port,
      deps.log,
      signal,
    );
    const observed = new Map(after.nodes.map((o) => [o.name, o]));
    await enrolCluster(spec, planned.desired, observed, os, stage, deps.log, signal);
  }
  // Placements of nodes that are gone from the spec and from every agent.
  const desired = new Set(planned.desired.map((n) => n.name));
  for (const [name, p] of deps.store.placementsOf(spec.name))
    if (
      !desired.has(name) &&
      deps.registry.alive(p.agent) &&
      !planned.plan.actions.some((a) => actionTarget(a) === name && a.kind === 'delete')
    )
      await deps.store.deletePlacement(spec.name, name, signal);
  if (failures === 0) await verifyConverged(deps, spec, progress, signal);
}

/**
 * An apply that found nothing failing still only succeeds when the agents now report the declared
 * cluster: planned again from what they say, nothing is left to do. (Something else may have
 * changed the nodes meanwhile; an agent may have lost them.)
 */
async function verifyConverged(
  deps: FlowDeps,
  spec: ClusterSpec,
  progress: ProgressSink,
  signal: AbortSignal,
): Promise<void> {
  const left = (await planCluster(deps, spec, [], signal)).plan.actions;
  if (left.length === 0) return;
  const shown = left.slice(0, 5).map((a) => `${a.kind} ${actionTarget(a)} (${a.changes.join('; ')})`);
  progress.planned(1, []);
  progress.done({
    node: spec.name,
    action: 'verify',
    hypervisor: '',
    ok: false,
    code: 'CONFLICT',
    message: `after the apply the agents do not report the declared cluster; still to do: ${shown.join(', ')}${left.length > 5 ? ` and ${String(left.length - 5)} more` : ''}`,
    changes: [],
  });
}
