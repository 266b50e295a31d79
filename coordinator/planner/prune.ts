/**
 * The guard against losing a cluster by accident: an apply that would delete most of an existing
 * cluster's nodes is refused unless the caller says `prune`. Most often such an apply is a spec
 * meant as another cluster that got this one's name (upstream files without `name` and with the
 * same state file all become `tenks`), and an apply that takes the nodes away cannot be undone.
 *
 * Refused: the apply deletes more than half of the nodes the cluster has now, and at least one.
 * A node the spec still has (replaced: deleted and created again under its name, or a second copy
 * removed) is not deleted.
 */
import { TenksError } from '../../common/index.js';
import type { Plan } from './types.js';

/** How many deleted nodes a message names before "and N more". */
const NAMED = 20;

/** What an apply without prune may not do to a cluster. */
export interface PruneRefusal {
  cluster: string;
  /** Nodes the apply would delete (not replace), in natural order. */
  deleted: string[];
  /** Nodes the cluster has now. */
  total: number;
}

const natural = new Intl.Collator('en', { numeric: true });

/**
 * The refusal for an apply of `cluster` that deletes `deleting` while the spec keeps `desired`,
 * when the cluster has the nodes `current` now; null when the apply may go ahead.
 */
export function pruneRefusal(
  cluster: string,
  current: Iterable<string>,
  deleting: Iterable<string>,
  desired: ReadonlySet<string>,
): PruneRefusal | null {
  const have = new Set(current);
  const deleted = [...new Set(deleting)].filter((n) => have.has(n) && !desired.has(n)).sort(natural.compare);
  if (deleted.length === 0 || deleted.length * 2 <= have.size) return null;
  return { cluster, deleted, total: have.size };
}

/**
 * {@link pruneRefusal} of a plan: the cluster's nodes are those its placements and the agents
 * name; the plan's deletions of nodes `desired` does not have are what it deletes.
 */
export function planPruneRefusal(
  plan: Plan,
  placements: Iterable<string>,
  observed: Iterable<string>,
  desired: ReadonlySet<string>,
): PruneRefusal | null {
  const deleting = plan.actions.filter((a) => a.kind === 'delete').map((a) => a.name);
  return pruneRefusal(plan.cluster, [...placements, ...observed], deleting, desired);
}

/** `apply would delete 2 of the 2 nodes of cluster 'tenks': controller0, compute0`. */
export function pruneMessage(r: PruneRefusal): string {
  const named = r.deleted.slice(0, NAMED).join(', ');
  const more = r.deleted.length > NAMED ? ` and ${r.deleted.length - NAMED} more` : '';
  return `apply would delete ${r.deleted.length} of the ${r.total} nodes of cluster '${r.cluster}': ${named}${more}`;
}

/** What a plan says of an apply that would be refused (Plan.prune_required). */
export function prunePlanWarning(r: PruneRefusal): string {
  return `${pruneMessage(r)}; apply refuses this without --prune (tenksctl delete ${r.cluster} removes a whole cluster)`;
}

/** The error an apply without prune fails with: CONFLICT, nothing changed. */
export function pruneError(r: PruneRefusal): TenksError {
  return new TenksError('CONFLICT', `${pruneMessage(r)}; refused without --prune`, {
    field: 'prune',
    hint:
      `if that is what you want, run the apply again with --prune; to remove the whole cluster, tenksctl delete ${r.cluster}; ` +
      'if the spec is meant to be another cluster, give it a name of its own (or its own state_file_path)',
  });
}
