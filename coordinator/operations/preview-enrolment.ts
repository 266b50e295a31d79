/** What enrolment an apply would do, for `plan`. */
import { toTenksError } from '../../common/index.js';
import { describeFlavorChange, diffFlavors, enrolledNodes, isNoop, planEnrolment } from '../enrolment/index.js';
import type { OpenStackClients } from '../openstack/types.js';
import type { Action } from '../planner/index.js';
import type { PlannedCluster } from './plan-cluster.js';

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
