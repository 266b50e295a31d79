/** `nova_flavors`: one Nova flavor per entry, matching the nodes of a node type. */
import type { z } from 'zod';
import { at, type Ctx } from './compile-context.js';
import { checkTypeRef } from './compile-node-types.js';
import type { novaFlavorSchema } from './schema.js';
import type { NodeSetSpec, NovaFlavor } from './types.js';

/** One `nova_flavors` entry as parsed. */
export type RawFlavor = z.output<typeof novaFlavorSchema>;

/** The flavors of the entries that parsed; names unique, traits not both required and forbidden. */
export function compileFlavors(
  raw: readonly (RawFlavor | null)[],
  nodeTypeNames: readonly string[],
  specs: readonly (NodeSetSpec | null)[],
  ctx: Ctx,
): NovaFlavor[] {
  const out: NovaFlavor[] = [];
  const names = new Map<string, number>();
  const classes = new Set(specs.flatMap((s) => (s?.ironicConfig ? [s.ironicConfig.resourceClass] : [])));
  raw.forEach((f, i) => {
    if (!f) return;
    const base = ['nova_flavors', i];
    const before = ctx.errors.length;
    checkTypeRef(f.node_type, [...base, 'node_type'], nodeTypeNames, ctx);
    const name = f.name ?? f.resource_class;
    const required = f.required_traits ?? [];
    const forbidden = f.forbidden_traits ?? [];
    const other = names.get(name);
    if (other !== undefined)
      ctx.errors.push({
        field: at([...base, f.name === undefined || f.name === null ? 'resource_class' : 'name']),
        message: `flavor name '${name}' is also used by nova_flavors[${other}]`,
      });
    else names.set(name, i);
    const both = required.filter((t) => forbidden.includes(t));
    if (both.length > 0)
      ctx.errors.push({
        field: at([...base, 'forbidden_traits']),
        message: `${both.join(', ')} both required and forbidden`,
      });
    if (!classes.has(f.resource_class))
      ctx.warnings.push({
        field: at([...base, 'resource_class']),
        message: `no spec enrols nodes with resource class '${f.resource_class}'; the flavor will match no node`,
      });
    if (ctx.errors.length > before) return;
    out.push({
      name,
      resourceClass: f.resource_class,
      nodeType: f.node_type,
      requiredTraits: required,
      forbiddenTraits: forbidden,
      customSpecs: Object.fromEntries(Object.entries(f.custom_specs ?? {}).map(([k, v]) => [k, String(v)])),
    });
  });
  return out;
}
