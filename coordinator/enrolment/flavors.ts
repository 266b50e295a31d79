/**
 * Nova flavors of a cluster (`nova_flavors`): extra specs as upstream Tenks makes them, the disk from
 * the node type's root volume, and a `tenks:cluster` extra spec marking the flavors tenks owns (it
 * never touches another flavor, even one of the same name).
 */
import { TenksError } from '../../common/index.js';
import { rootGb } from '../../common/ironic/index.js';
import { expandNodes, type ClusterSpec } from '../../common/spec/index.js';
import type { NovaApi, NovaFlavor } from '../openstack/index.js';

/** Extra spec marking a tenks flavor, with its cluster. */
export const FLAVOR_MARK = 'tenks:cluster';

/** A flavor as the spec asks for it. */
export interface DesiredFlavor {
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
  extraSpecs: Record<string, string>;
}

/** Nova's custom resource class for an Ironic resource class: `CUSTOM_` + upper-cased, non-alphanumerics as `_`. */
export function customResourceClass(rc: string): string {
  return `CUSTOM_${rc.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** The flavors of a spec. */
export function desiredFlavors(spec: ClusterSpec): DesiredFlavor[] {
  const nodes = expandNodes(spec);
  return spec.novaFlavors.map((f) => {
    const t = spec.nodeTypes[f.nodeType];
    const sample = nodes.find((n) => n.nodeType === f.nodeType);
    const extraSpecs: Record<string, string> = {
      [`resources:${customResourceClass(f.resourceClass)}`]: '1',
      'resources:VCPU': '0',
      'resources:MEMORY_MB': '0',
      'resources:DISK_GB': '0',
      ...Object.fromEntries(f.requiredTraits.map((x) => [`trait:${x}`, 'required'])),
      ...Object.fromEntries(f.forbiddenTraits.map((x) => [`trait:${x}`, 'forbidden'])),
      ...f.customSpecs,
      [FLAVOR_MARK]: spec.name,
    };
    return {
      name: f.name,
      ram: t?.memoryMb ?? 0,
      vcpus: t?.vcpus ?? 0,
      disk: sample ? rootGb(sample) : 0,
      extraSpecs,
    };
  });
}

/** One flavor change. */
export type FlavorChange =
  | { kind: 'create'; want: DesiredFlavor }
  /** Nova flavors cannot change size: a new one replaces the old. */
  | { kind: 'replace'; want: DesiredFlavor; old: NovaFlavor; why: string }
  | { kind: 'specs'; want: DesiredFlavor; old: NovaFlavor; set: Record<string, string>; unset: string[] }
  | { kind: 'delete'; old: NovaFlavor };

/** What to change so the cluster's flavors are as the spec says. CONFLICT for a name held by a flavor tenks does not own. */
export function diffFlavors(spec: ClusterSpec, have: readonly NovaFlavor[]): FlavorChange[] {
  const out: FlavorChange[] = [];
  const wanted = desiredFlavors(spec);
  for (const w of wanted) {
    const cur = have.find((f) => f.name === w.name);
    if (!cur) {
      out.push({ kind: 'create', want: w });
      continue;
    }
    if (cur.extraSpecs[FLAVOR_MARK] !== spec.name)
      throw new TenksError(
        'CONFLICT',
        `Nova already has a flavor named ${w.name} that tenks did not make for cluster ${spec.name}`,
        {
          field: 'nova_flavors',
          hint: 'give the flavor another name in nova_flavors',
        },
      );
    if (cur.ram !== w.ram || cur.vcpus !== w.vcpus || cur.disk !== w.disk) {
      out.push({
        kind: 'replace',
        want: w,
        old: cur,
        why: `ram/vcpus/disk ${cur.ram}/${cur.vcpus}/${cur.disk} -> ${w.ram}/${w.vcpus}/${w.disk}`,
      });
      continue;
    }
    const set: Record<string, string> = {};
    for (const [k, v] of Object.entries(w.extraSpecs)) if (cur.extraSpecs[k] !== v) set[k] = v;
    const unset = Object.keys(cur.extraSpecs).filter((k) => !(k in w.extraSpecs));
    if (Object.keys(set).length > 0 || unset.length > 0) out.push({ kind: 'specs', want: w, old: cur, set, unset });
  }
  for (const f of have)
    if (f.extraSpecs[FLAVOR_MARK] === spec.name && !wanted.some((w) => w.name === f.name))
      out.push({ kind: 'delete', old: f });
  return out;
}

/** The flavors tenks made for `cluster`. */
export function ownedFlavors(cluster: string, have: readonly NovaFlavor[]): NovaFlavor[] {
  return have.filter((f) => f.extraSpecs[FLAVOR_MARK] === cluster);
}

/** A line describing a change. */
export function describeFlavorChange(c: FlavorChange): string {
  switch (c.kind) {
    case 'create':
      return `flavor ${c.want.name}: created`;
    case 'replace':
      return `flavor ${c.want.name}: replaced (${c.why})`;
    case 'specs':
      return `flavor ${c.want.name}: extra specs ${[...Object.keys(c.set), ...c.unset.map((k) => `-${k}`)].join(', ')}`;
    case 'delete':
      return `flavor ${c.old.name}: deleted`;
  }
}

/** Makes one change. */
export async function applyFlavorChange(nova: NovaApi, c: FlavorChange, signal?: AbortSignal): Promise<void> {
  if (c.kind === 'delete' || c.kind === 'replace')
    await nova.deleteFlavor(c.old.id, signal).catch((e: unknown) => {
      if (!(e instanceof TenksError && e.code === 'NOT_FOUND')) throw e;
    });
  if (c.kind === 'create' || c.kind === 'replace') {
    const f = await nova.createFlavor(
      { name: c.want.name, ram: c.want.ram, vcpus: c.want.vcpus, disk: c.want.disk, isPublic: true },
      signal,
    );
    await nova.setExtraSpecs(f.id, c.want.extraSpecs, signal);
  }
  if (c.kind === 'specs') {
    if (Object.keys(c.set).length > 0) await nova.setExtraSpecs(c.old.id, c.set, signal);
    for (const k of c.unset) await nova.deleteExtraSpec(c.old.id, k, signal);
  }
}
