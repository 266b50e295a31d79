/**
 * What apply, delete and teardown do: observe, schedule, plan, execute, record placements. Each
 * flow is idempotent, so running it again (after a crash, on another coordinator) converges.
 */
import { randomUUID } from 'node:crypto';
import { TenksError, toTenksError, type Logger } from '../../common/index.js';
import { expandNodes, parseClusterSpec, type ClusterSpec, type DesiredNode } from '../../common/spec/index.js';
import type { AgentPort } from '../agents/port.js';
import type { AgentRegistry } from '../agents/registry.js';
import {
  checkCloudAccess,
  deleteFlavors,
  describeFlavorChange,
  diffFlavors,
  enrolCluster,
  isNoop,
  planEnrolment,
  enrolledNodes,
  unenrolNodes,
  wantsOpenStack,
  type StageProgress,
} from '../enrolment/index.js';
import { execute, type ExecuteHooks, type RetryPolicy } from '../executor/index.js';
import { DEFAULT_OPENSTACK_TIMEOUT_MS } from '../openstack/index.js';
import type { IronicNode, OpenStackClients, OpenStackConnector } from '../openstack/types.js';
import {
  actionTarget,
  plan,
  planPruneRefusal,
  pruneError,
  type Action,
  type ObservedNode,
  type Plan,
} from '../planner/index.js';
import { nodeDemand, schedule } from '../scheduler/index.js';
import { unsealSpec, type SecretBox } from '../secrets/index.js';
import type { PlacementRecord, ResultRecord } from '../state/records.js';
import type { StateStore } from '../state/store.js';
import {
  cloudLeftovers,
  cloudRefusal,
  leftoverWarnings,
  nothingLeft,
  stuckInIronicWarning,
  type CloudProblem,
} from './cloud-leftovers.js';
import { currentOf, hostsOf } from './inventory.js';
import { observeCluster, type Observation } from './observe.js';

/** What the flows use. */
export interface FlowDeps {
  store: StateStore;
  registry: AgentRegistry;
  port: AgentPort;
  policy: RetryPolicy;
  /** Opens the secrets of stored specs. */
  secrets: SecretBox;
  log: Logger;
  /** How clouds are reached for enrolment (absent: enrolment is not configured). */
  openstack?: OpenStackConnector;
  /** How long a check of a cloud may take in all (openstack.timeout_s); default 30 s. */
  cloudCheckTimeoutMs?: number;
  newUuid?: () => string;
}

/** How a flow reports progress (the runner records and publishes it). */
export interface ProgressSink {
  planned: (total: number, warnings: string[]) => void;
  hooks: Pick<ExecuteHooks, 'started' | 'failed'>;
  done: (r: ResultRecord) => void;
}

/** The enrolment stage's view of a progress sink: each enrolment step counts as an action. */
function stageOf(progress: ProgressSink): StageProgress {
  return {
    started: (a) => {
      progress.planned(1, []);
      progress.hooks.started(a);
    },
    failed: progress.hooks.failed,
    done: (r) => {
      progress.done(r);
    },
    warn: (w) => {
      progress.planned(0, [w]);
    },
  };
}

/**
 * The checked cloud of a spec that enrols anything (see checkCloudAccess for what fails how), or
 * null for a spec that enrols nothing.
 */
export async function cloudOf(
  deps: FlowDeps,
  spec: ClusterSpec,
  signal?: AbortSignal,
): Promise<OpenStackClients | null> {
  if (!wantsOpenStack(spec)) return null;
  return checkCloudAccess(deps.openstack, spec, deps.cloudCheckTimeoutMs ?? DEFAULT_OPENSTACK_TIMEOUT_MS, signal);
}

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

function placementOf(
  cluster: string,
  n: DesiredNode,
  agent: string,
  node: ObservedNode | null,
  uuid: string,
): PlacementRecord {
  const d = nodeDemand(n);
  return {
    version: 1,
    cluster,
    node: n.name,
    agent,
    uuid: node?.uuid ?? uuid,
    macs: node ? node.nics.map((x) => x.mac) : [],
    ipmiPort: node?.bmc.ipmi?.port ?? 0,
    nodeType: n.nodeType,
    memoryMb: n.memoryMb,
    vcpus: n.vcpus,
    diskBytes: d.diskBytes,
    createdMs: Date.now(),
  };
}

/** Runs `actions` with placements kept in step: written before a create, updated after, dropped after a delete. */
async function runPlan(
  deps: FlowDeps,
  cluster: string,
  p: Plan,
  progress: ProgressSink,
  signal: AbortSignal,
): Promise<void> {
  const store = deps.store;
  // A new node's identity is recorded before it exists, so a crash mid-create keeps its UUID.
  const creates = p.actions.filter((a): a is Extract<Action, { request: unknown }> => a.kind === 'create');
  const existing = store.placementsOf(cluster);
  for (let i = 0; i < creates.length; i += 256)
    await Promise.all(
      creates.slice(i, i + 256).map(async (a) => {
        const prev = existing.get(a.request.node.name);
        if (prev?.uuid === a.request.uuid && prev.agent === a.agent) return;
        await store.putPlacement(placementOf(cluster, a.request.node, a.agent, null, a.request.uuid), signal);
      }),
    );
  const hooks: ExecuteHooks = {
    started: progress.hooks.started,
    failed: progress.hooks.failed,
    done: progress.done,
    finished: async (a, out) => {
      if (a.kind === 'delete') await store.deletePlacement(cluster, a.name, signal);
      else if ('request' in a && out.node) {
        const next = placementOf(cluster, a.request.node, a.agent, out.node, a.request.uuid);
        const prev = store.placement(cluster, next.node);
        const same =
          prev?.agent === next.agent &&
          prev.uuid === next.uuid &&
          prev.ipmiPort === next.ipmiPort &&
          prev.macs.join() === next.macs.join() &&
          prev.memoryMb === next.memoryMb &&
          prev.vcpus === next.vcpus &&
          prev.diskBytes === next.diskBytes;
        if (!same) await store.putPlacement({ ...next, createdMs: prev?.createdMs ?? next.createdMs }, signal);
      }
    },
  };
  await execute(p, { port: deps.port, cluster, policy: deps.policy, signal, hooks });
}

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

/**
 * The Ironic and Nova steps an apply would take, for `plan` (nodes that do not exist yet are
 * enrolled once they do), in the cloud {@link cloudOf} checked. What goes wrong after that check
 * (a Glance name not found, a list failing) becomes a warning.
 */
export async function previewEnrolment(
  planned: PlannedCluster,
  os: OpenStackClients,
  signal?: AbortSignal,
): Promise<Action[]> {
  const { spec, plan } = planned;
  const out: Action[] = [];
  try {
    const observed = new Map(planned.observed.map((o) => [o.name, o]));
    const enrolled = os.ironic ? await enrolledNodes(spec.name, os, signal) : [];
    for (const a of plan.actions)
      if (a.kind === 'delete' && enrolled.some((n) => n.uuid === a.uuid || n.name === a.name))
        out.push({ kind: 'unenrol', agent: a.agent, name: a.name, changes: ['deleted from Ironic (before its VM)'] });
    for (const a of plan.actions)
      if (a.kind === 'create' && a.request.node.ironicConfig !== null)
        out.push({
          kind: 'enrol',
          agent: a.agent,
          name: a.request.node.name,
          changes: ['created in Ironic (once the node exists)'],
        });
    if (os.ironic)
      for (const e of await planEnrolment(spec, planned.desired, observed, os, signal))
        if (!isNoop(e.change))
          out.push({ kind: 'enrol', agent: e.agent, name: e.node.name, changes: e.change.changes });
    if (os.nova)
      for (const c of diffFlavors(spec, await os.nova.listFlavors(signal)))
        out.push({
          kind: 'flavor',
          agent: '',
          name: c.kind === 'delete' ? c.old.name : c.want.name,
          changes: [describeFlavorChange(c)],
        });
  } catch (e) {
    plan.warnings.push(`enrolment not planned: ${toTenksError(e).message}`);
  }
  return out;
}
