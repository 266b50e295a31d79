/**
 * The cluster spec compiler: validates a spec as parsed from YAML against the schema, part by part
 * so every problem is reported at once, and compiles it into a ClusterSpec. The parts live beside
 * it: compile-hosts.ts (physnets, IPMI ports, hypervisors), compile-node-types.ts,
 * compile-node-sets.ts (`specs`), compile-flavors.ts and compile-settings.ts.
 */
import { invalidSpec, TenksError, type FieldError } from '../errors.js';
import { isMapping, listEntries, mapEntries, given, type Ctx, type Scalars } from './compile-context.js';
import { compileFlavors } from './compile-flavors.js';
import {
  checkIpmiPorts,
  checkPhysnets,
  compileHypervisors,
  compileMappings,
  portRange,
  validEntries,
} from './compile-hosts.js';
import { checkNodeNames, checkSharedVolumes, compileNodeSet, type SpecContext } from './compile-node-sets.js';
import { checkTypeRef, compileNodeType, compileVolume } from './compile-node-types.js';
import { clusterIdentity, compileDeployImages, compileLibvirtVm } from './compile-settings.js';
import { nodeTypeSchema, volumeSchema } from './node-type-schema.js';
import { clusterSpecSchema, nodeSetSchema, novaFlavorSchema } from './schema.js';
import type { ClusterSpec, NodeSetSpec, NodeType } from './types.js';
import { IGNORED_NODE_TYPE, IGNORED_VOLUME, checkLooseKeys, ignoredTopLevel } from './unknown-keys.js';
import { parsePart } from './zod-issues.js';
import { toSchedulerSpec } from './scheduler-spec.js';

/** What compileClusterSpec returns: the spec, and problems that do not stop it (ignored keys, advice). */
export interface CompiledClusterSpec {
  spec: ClusterSpec;
  /** Each with the path it is about; safe to show, never contains secrets. */
  warnings: FieldError[];
}

/** Keys of the top level, for the unknown-key check. */
const TOP_KEYS = Object.keys(clusterSpecSchema.shape);
const NODE_TYPE_KEYS = Object.keys(nodeTypeSchema.shape);
const VOLUME_KEYS = Object.keys(volumeSchema.shape);

function checkUnknownKeys(input: Record<string, unknown>, ctx: Ctx): void {
  checkLooseKeys(input, [], TOP_KEYS, ignoredTopLevel, ctx.errors, ctx.warnings);
  const types = input.node_types;
  if (!isMapping(types)) return;
  for (const [name, t] of Object.entries(types)) {
    checkLooseKeys(t, ['node_types', name], NODE_TYPE_KEYS, (k) => IGNORED_NODE_TYPE.get(k), ctx.errors, ctx.warnings);
    const vols = isMapping(t) ? t.volumes : undefined;
    if (Array.isArray(vols))
      vols.forEach((v, i) => {
        checkLooseKeys(
          v,
          ['node_types', name, 'volumes', i],
          VOLUME_KEYS,
          (k) => IGNORED_VOLUME.get(k),
          ctx.errors,
          ctx.warnings,
        );
      });
  }
}

/** Errors sorted by where their section is in the input (stable within a section), so they read top to bottom. */
function inDocumentOrder(errors: readonly FieldError[], input: Record<string, unknown>): FieldError[] {
  const rank = new Map(Object.keys(input).map((k, i) => [k, i]));
  const of = (field: string): number => rank.get(field.split(/[.[]/, 1)[0] ?? '') ?? rank.size;
  return errors
    .map((e, i) => ({ e, i, r: of(e.field) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.e);
}
/**
 * Validates a cluster spec (as parsed from YAML) and compiles it: defaults applied, camelCase, sizes
 * in bytes, per-spec defaults resolved. Throws one INVALID_SPEC TenksError listing every problem, each
 * with its path (`specs[1].type: unknown node type 'big'`); `source` (a file name) goes in the hint.
 * See unknown-keys.ts for how keys tenks does not know are treated.
 */
export function compileClusterSpec(raw: unknown, source?: string): CompiledClusterSpec {
  const ctx: Ctx = { errors: [], warnings: [] };
  const hint = `fix ${source ?? 'the cluster spec'} and try again`;
  const input = raw ?? {};
  if (!isMapping(input))
    throw invalidSpec([{ field: '(root)', message: 'a cluster spec is a mapping of settings' }], hint);
  checkUnknownKeys(input, ctx);

  const shape = clusterSpecSchema.shape;
  const scalars: Record<string, unknown> = {};
  for (const key of Object.keys(shape) as (keyof typeof shape)[]) {
    if (key === 'node_types' || key === 'specs' || key === 'nova_flavors' || key === 'hypervisors') continue;
    const r = parsePart(shape[key], input[key], [key], ctx.errors);
    if (r.ok) scalars[key] = r.data;
  }
  const s = scalars as Scalars;
  const failed = (k: keyof Scalars): boolean => !(k in scalars);
  const identity = failed('name') || failed('state_file_path') ? undefined : clusterIdentity(s, ctx);

  const typesPart = parsePart(shape.node_types, input.node_types, ['node_types'], ctx.errors);
  const rawTypes = mapEntries(typesPart, input.node_types, nodeTypeSchema);
  const specsPart = parsePart(shape.specs, input.specs, ['specs'], ctx.errors);
  const rawSpecs = listEntries(specsPart, input.specs, nodeSetSchema);
  const flavorsPart = parsePart(shape.nova_flavors, input.nova_flavors, ['nova_flavors'], ctx.errors);
  const rawFlavors = listEntries(flavorsPart, input.nova_flavors, novaFlavorSchema);
  const hypPart = parsePart(shape.hypervisors, input.hypervisors, ['hypervisors'], ctx.errors);

  // Physnet mappings (those with a bad key still get their values checked) and hypervisors.
  const mappingsInput = s.physnet_mappings ?? validEntries(input.physnet_mappings);
  const globalMappings = compileMappings(mappingsInput, ['physnet_mappings'], ctx);
  const globalRange =
    failed('ipmi_port_range_start') || failed('ipmi_port_range_end')
      ? undefined
      : portRange(s.ipmi_port_range_start, s.ipmi_port_range_end, [], ctx);
  const hypervisors = hypPart.ok ? compileHypervisors(hypPart.data, s, globalMappings, globalRange, ctx) : undefined;

  // Node types.
  const pool =
    s.libvirt_pool_type !== undefined && s.libvirt_pool_path !== undefined
      ? { type: s.libvirt_pool_type, path: s.libvirt_pool_path }
      : undefined;
  const nodeTypes = new Map<string, NodeType | null>();
  for (const [name, t] of rawTypes) nodeTypes.set(name, t ? compileNodeType(name, t, pool, ctx) : null);
  // A node type that failed validation may still have volumes with problems of their own.
  for (const [name, t] of rawTypes) {
    if (t) continue;
    const vols = isMapping(input.node_types) ? input.node_types[name] : undefined;
    const list = isMapping(vols) ? vols.volumes : undefined;
    if (!Array.isArray(list)) continue;
    list.forEach((v, i) => {
      const r = volumeSchema.safeParse(v);
      if (r.success) compileVolume(r.data, ['node_types', name, 'volumes', i], pool, ctx);
    });
  }
  const nodeTypeNames = isMapping(input.node_types) ? Object.keys(input.node_types) : [];

  // Specs.
  const sc: SpecContext = {
    nodeTypeNames,
    nodeTypes,
    nodeNamePrefix: s.node_name_prefix,
    volNamePrefix: s.vol_name_prefix,
    defaultDriver: s.default_ironic_driver,
    defaultBootMode: s.default_boot_mode,
    defaultArch: given(s.libvirt_vm_arch) ?? 'x86_64',
  };
  const specs = rawSpecs.map((r, i) => (r ? compileNodeSet(r, i, sc, ctx) : null));
  // An entry that failed validation may still name a node type that does not exist.
  const rawEntry = (key: string, i: number, field: string): unknown => {
    const list = input[key];
    const e: unknown = Array.isArray(list) ? list[i] : undefined;
    return isMapping(e) ? e[field] : undefined;
  };
  rawSpecs.forEach((r, i) => {
    if (!r) checkTypeRef(rawEntry('specs', i, 'type'), ['specs', i, 'type'], nodeTypeNames, ctx);
  });
  rawFlavors.forEach((r, i) => {
    if (!r)
      checkTypeRef(rawEntry('nova_flavors', i, 'node_type'), ['nova_flavors', i, 'node_type'], nodeTypeNames, ctx);
  });
  const goodSpecs = specs.filter((x): x is NodeSetSpec => x !== null);
  const goodTypes = Object.fromEntries([...nodeTypes].filter((e): e is [string, NodeType] => e[1] !== null));
  if (goodSpecs.length === specs.length) checkNodeNames(goodSpecs, rawSpecs, ctx);
  checkSharedVolumes(goodSpecs, goodTypes, ctx);
  if (s.physnet_mappings && hypervisors !== undefined && (hypervisors === null || Object.keys(hypervisors).length > 0))
    checkPhysnets(goodSpecs, goodTypes, globalMappings, hypervisors, ctx);

  const novaFlavors = compileFlavors(rawFlavors, nodeTypeNames, specs, ctx);

  if (hypervisors) checkIpmiPorts(hypervisors, goodSpecs, ctx);
  const { deployKernel, deployRamdisk } = compileDeployImages(s, goodSpecs, ctx);

  const libvirtVm = compileLibvirtVm(s, ctx);

  const sched = s.scheduler;
  if (sched && sched.weights.ram + sched.weights.vcpus + sched.weights.disk <= 0)
    ctx.errors.push({ field: 'scheduler.weights', message: 'at least one weight must be above 0' });

  if (ctx.errors.length > 0) throw invalidSpec(inDocumentOrder(ctx.errors, input), hint);
  // No errors means every part parsed; the checks below only narrow the types.
  if (
    identity === undefined ||
    s.bridge_type === undefined ||
    hypervisors === undefined ||
    s.default_ironic_driver === undefined ||
    s.ipmi_address === undefined ||
    globalRange === undefined ||
    s.ipmi_username === undefined ||
    s.ipmi_password === undefined ||
    s.redfish_address === undefined ||
    s.default_boot_mode === undefined ||
    s.libvirt_pool_name === undefined ||
    pool === undefined ||
    s.node_name_prefix === undefined ||
    s.vol_name_prefix === undefined ||
    sched === undefined
  )
    throw new TenksError('INTERNAL', 'a part of the cluster spec did not compile, yet no error was reported');

  return {
    spec: {
      name: identity.name,
      nameSource: identity.source,
      stateFilePath: identity.stateFilePath,
      bridgeType: s.bridge_type,
      physnetMappings: globalMappings,
      hypervisors,
      nodeTypes: goodTypes,
      specs: goodSpecs,
      novaFlavors,
      defaultIronicDriver: s.default_ironic_driver,
      ipmi: { address: s.ipmi_address, portRange: globalRange, username: s.ipmi_username, password: s.ipmi_password },
      redfish: {
        address: s.redfish_address,
        username: s.redfish_username ?? s.ipmi_username,
        password: s.redfish_password ?? s.ipmi_password,
      },
      defaultBootMode: s.default_boot_mode,
      defaultArch: given(s.libvirt_vm_arch) ?? 'x86_64',
      deployKernel,
      deployRamdisk,
      // Upstream reads `wait_for_placement | bool`: empty is false, a missing key its default true.
      waitForPlacement: s.wait_for_placement === undefined ? true : s.wait_for_placement === true,
      cloud: s.cloud ?? null,
      ironicTargetState: s.ironic_target_state ?? 'available',
      redfishVerifyCa: s.redfish_verify_ca ?? null,
      libvirtPool: { name: s.libvirt_pool_name, path: pool.path, type: pool.type },
      logDirectory: s.log_directory ?? null,
      libvirtVm,
      nodeNamePrefix: s.node_name_prefix,
      volNamePrefix: s.vol_name_prefix,
      scheduler: toSchedulerSpec(sched),
    },
    warnings: ctx.warnings,
  };
}
