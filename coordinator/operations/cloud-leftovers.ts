/**
 * What a cluster may have left in its cloud when delete or teardown cannot use that cloud: the
 * nodes tenks placed for it (Ironic nodes have the VM's name and UUID) and the flavors its spec
 * declares. Without --force the operation refuses, naming them; with --force it removes everything
 * else and names them in its warnings.
 */
import { TenksError } from '../../common/index.js';
import { EXTRA } from '../../common/ironic/index.js';
import { expandNodes, type ClusterSpec } from '../../common/spec/index.js';
import { cloudNeeds, desiredFlavors, FLAVOR_MARK } from '../enrolment/index.js';
import type { ObservedNode } from '../planner/index.js';
import type { PlacementRecord } from '../state/index.js';

/** Names beyond these are counted, not listed: an operation record must stay small. */
const MAX_LISTED = 100;

/** What may be left of one cluster in its cloud. */
export interface CloudLeftovers {
  cluster: string;
  /** The spec's cloud, or null for the default one. */
  cloud: string | null;
  /** Nodes that may be enrolled in Ironic, by name. */
  ironicNodes: { name: string; uuid: string }[];
  /** Flavor names the spec declares. */
  flavors: string[];
}

/** A cluster whose cloud could not be used, and why. */
export interface CloudProblem {
  leftovers: CloudLeftovers;
  cause: TenksError;
}

/**
 * The nodes tenks placed for the cluster or an agent reports (those the spec keeps out of Ironic
 * aside), when the spec enrols nodes; the flavors it declares.
 */
export function cloudLeftovers(
  spec: ClusterSpec,
  placements: ReadonlyMap<string, PlacementRecord>,
  observed: readonly ObservedNode[],
): CloudLeftovers {
  const needs = cloudNeeds(spec);
  const byName = new Map<string, string>();
  if (needs.ironic) {
    const notEnrolled = new Set(
      expandNodes(spec)
        .filter((n) => n.ironicConfig === null)
        .map((n) => n.name),
    );
    for (const [name, p] of placements) if (!notEnrolled.has(name)) byName.set(name, p.uuid);
    for (const o of observed) if (!notEnrolled.has(o.name)) byName.set(o.name, o.uuid);
  }
  return {
    cluster: spec.name,
    cloud: spec.cloud,
    ironicNodes: [...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, uuid]) => ({ name, uuid })),
    flavors: needs.nova ? desiredFlavors(spec).map((f) => f.name) : [],
  };
}

/** True when nothing of the cluster can be in its cloud. */
export function nothingLeft(l: CloudLeftovers): boolean {
  return l.ironicNodes.length === 0 && l.flavors.length === 0;
}

function listed(items: readonly string[], more: string): string {
  const shown = items.slice(0, MAX_LISTED).join(', ');
  return items.length > MAX_LISTED ? `${shown} and ${items.length - MAX_LISTED} more (${more})` : shown;
}

function ironicPart(l: CloudLeftovers): string {
  const nodes = listed(
    l.ironicNodes.map((n) => `${n.name} (${n.uuid})`),
    `Ironic nodes with extra.${EXTRA.cluster} = ${l.cluster}`,
  );
  return `node${l.ironicNodes.length === 1 ? '' : 's'} ${nodes}`;
}

function novaPart(l: CloudLeftovers): string {
  return `flavor${l.flavors.length === 1 ? '' : 's'} ${listed(l.flavors, `flavors with extra spec ${FLAVOR_MARK} = ${l.cluster}`)}`;
}

function cloudName(l: CloudLeftovers): string {
  return l.cloud === null ? 'its cloud' : `cloud ${l.cloud}`;
}

/**
 * The warning of a forced delete whose cloud answered but kept these nodes (it refused to delete
 * them, or stopped answering): their VMs go anyway, and they stay in Ironic.
 */
export function stuckInIronicWarning(cluster: string, nodes: readonly { name: string; uuid: string }[]): string {
  const l: CloudLeftovers = { cluster, cloud: null, ironicNodes: [...nodes], flavors: [] };
  return `cluster ${cluster}: left in Ironic, not deleted there (see the failed unenrol steps), their VMs deleted anyway (--force): ${ironicPart(l)}`;
}

/** The warnings of a forced delete: what stays in the cloud, one line per service. */
export function leftoverWarnings(p: CloudProblem): string[] {
  const l = p.leftovers;
  const why = `${cloudName(l)} could not be used (${p.cause.code}: ${p.cause.message})`;
  const out: string[] = [];
  if (l.ironicNodes.length > 0)
    out.push(`cluster ${l.cluster}: ${why}; left in Ironic, not deleted there: ${ironicPart(l)}`);
  if (l.flavors.length > 0) out.push(`cluster ${l.cluster}: ${why}; left in Nova, not deleted there: ${novaPart(l)}`);
  return out;
}

/**
 * The error of a delete or teardown that will not go on without its clusters' clouds (code and field
 * of the first cause): each cluster's cause and what may be left there, and the way out.
 */
export function cloudRefusal(problems: readonly CloudProblem[], command: 'delete' | 'teardown'): TenksError {
  const first = problems[0];
  if (first === undefined) throw new TenksError('INTERNAL', 'a refusal without a cause');
  const each = problems.map(({ leftovers: l, cause }) => {
    const where = [
      l.ironicNodes.length > 0 ? `in Ironic: ${ironicPart(l)}` : null,
      l.flavors.length > 0 ? `in Nova: ${novaPart(l)}` : null,
    ].filter((x) => x !== null);
    return `cluster ${l.cluster}: ${cloudName(l)} cannot be used (${cause.code}: ${cause.message}); may be left ${where.join('; ')}.`;
  });
  const again = command === 'delete' ? 'delete again' : 'tear down again';
  return new TenksError(
    first.cause.code,
    `${each.join(' ')} Nothing was deleted, so Ironic points at no removed VM. Make the cloud usable and ${again}, ` +
      `or ${command} with --force to remove the VMs, volumes, bridges and placements and leave those in the cloud.`,
    {
      cause: first.cause,
      ...(first.cause.field !== undefined ? { field: first.cause.field } : {}),
      hint: first.cause.hint ?? `${command} with --force removes the rest and names what stays in the cloud`,
    },
  );
}
