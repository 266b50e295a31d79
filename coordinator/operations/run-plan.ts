/** Running a plan across the agents with the cluster's placements kept in step. */
import type { DesiredNode } from '../../common/spec/index.js';
import { execute, type ExecuteHooks } from '../executor/index.js';
import type { Action, ObservedNode, Plan } from '../planner/index.js';
import { nodeDemand } from '../scheduler/index.js';
import type { PlacementRecord } from '../state/records.js';
import type { FlowDeps, ProgressSink } from './flow-deps.js';

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
export async function runPlan(
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
