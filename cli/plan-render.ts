/** A coordinator Plan as diff-like text (`tenksctl plan`) and as snake_case data (`-o json|yaml`). */
import type { Plan, PlanAction } from '../common/index.js';
import { painter, type Colour } from './style.js';

/** Options of {@link renderPlan}. */
export interface PlanRenderOptions {
  /** ANSI colours (only on a terminal; see useColor). */
  color: boolean;
}

/** How many actions of each kind a plan has. */
export interface PlanSummary {
  create: number;
  update: number;
  replace: number;
  delete: number;
  unchanged: number;
  /** Host, BMC, enrolment and flavor actions. */
  other: number;
}

/** Counts a plan's actions by kind. */
export function summarizePlan(plan: Plan): PlanSummary {
  const s: PlanSummary = { create: 0, update: 0, replace: 0, delete: 0, unchanged: plan.unchanged, other: 0 };
  for (const a of plan.actions) {
    if (a.kind === 'create' || a.kind === 'update' || a.kind === 'replace' || a.kind === 'delete') s[a.kind]++;
    else s.other++;
  }
  return s;
}

/** `3 to create, 1 to update, 0 to replace, 1 to delete, 5 unchanged` (+ `, 2 other actions`). */
export function planSummaryLine(s: PlanSummary): string {
  const other = s.other > 0 ? `, ${s.other} other action${s.other === 1 ? '' : 's'}` : '';
  return `${s.create} to create, ${s.update} to update, ${s.replace} to replace, ${s.delete} to delete, ${s.unchanged} unchanged${other}`;
}

const MARK: Record<string, [string, Colour | null]> = {
  create: ['+', 'green'],
  update: ['~', 'yellow'],
  replace: ['-/+', 'red'],
  delete: ['-', 'red'],
};

function target(a: PlanAction): string {
  if (a.node !== '' && a.hypervisor !== '') return `${a.node} on ${a.hypervisor}`;
  return a.node !== '' ? a.node : a.hypervisor;
}

/** One action as its lines: the head line, then one indented line per change when there are several. */
function actionLines(a: PlanAction, paint: ReturnType<typeof painter>): string[] {
  const [mark, colour] = MARK[a.kind] ?? [' ', null];
  const type = a.nodeType !== '' && (a.kind === 'create' || a.kind === 'replace') ? ` (${a.nodeType})` : '';
  const what = [a.kind, target(a)].filter((x) => x !== '').join(' ');
  let head = `${mark} ${what}${type}`;
  const changes = a.changes;
  if (changes.length === 1) head += `: ${changes[0] ?? ''}`;
  const lines = [head, ...(changes.length > 1 ? changes.map((c) => `${' '.repeat(mark.length + 3)}${c}`) : [])];
  return colour === null ? lines.map((l) => paint('dim', l)) : lines.map((l) => paint(colour, l));
}

/**
 * `cluster compute (from state_file_path 'state-compute.yml')`: the cluster and how it got its name
 * (Plan.name_source: `name`, `state_file_path '...'`, `default`; '' when not known).
 */
export function clusterLine(cluster: string, nameSource: string): string {
  if (nameSource === '') return `cluster ${cluster}`;
  if (nameSource === 'default') return `cluster ${cluster} (the default name: the spec has no name or state_file_path)`;
  return `cluster ${cluster} (from ${nameSource})`;
}

/**
 * The plan as lines for stdout, in the coordinator's order, then a summary line:
 * `+ create tk2 on hv1 (type0)`, `~ update tk0 on hv1: memory_mb: 1024 -> 2048`, `-/+ replace ...`,
 * `- delete tk3 on hv2`, `  setup_host hv1`; first the cluster and how it was named, when the
 * coordinator says. Warnings (and why an apply would need --prune) are not included: they go to stderr.
 */
export function renderPlan(plan: Plan, o: PlanRenderOptions): string[] {
  const paint = painter(o.color);
  const s = summarizePlan(plan);
  const head = plan.nameSource !== '' ? [clusterLine(plan.cluster, plan.nameSource)] : [];
  if (plan.actions.length === 0)
    return [...head, `no changes: cluster ${plan.cluster} matches its spec (${s.unchanged} unchanged)`];
  return [...head, ...plan.actions.flatMap((a) => actionLines(a, paint)), '', paint('bold', planSummaryLine(s))];
}

/** The plan as `-o json|yaml` data. */
export function planJson(plan: Plan): Record<string, unknown> {
  const s = summarizePlan(plan);
  return {
    cluster: plan.cluster,
    name_source: plan.nameSource,
    prune_required: plan.pruneRequired,
    actions: plan.actions.map((a) => ({
      kind: a.kind,
      node: a.node,
      hypervisor: a.hypervisor,
      node_type: a.nodeType,
      changes: a.changes,
    })),
    warnings: plan.warnings,
    unchanged: plan.unchanged,
    summary: {
      create: s.create,
      update: s.update,
      replace: s.replace,
      delete: s.delete,
      unchanged: s.unchanged,
      other: s.other,
    },
  };
}
