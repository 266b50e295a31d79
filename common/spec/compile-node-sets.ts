/**
 * The entries of `specs` (how many nodes of which type, named how, enrolled how) and the checks
 * across them: node names that fit and do not collide, and disks not shared between nodes.
 */
import type { z } from 'zod';
import { at, type Ctx } from './compile-context.js';
import { checkTypeRef } from './compile-node-types.js';
import { MAX_CLUSTER_NODES, MAX_NAME_LENGTH, NODE_PLACEHOLDER, VOLUME_NAME_PATTERN } from './rules.js';
import type { nodeSetSchema } from './schema.js';
import { IRONIC_INTERFACES } from './schema-fields.js';
import type { Arch, BootMode, IronicConfig, IronicDriver, IronicInterface, NodeSetSpec, NodeType } from './types.js';
import type { SpecPath } from './zod-issues.js';

/** One `specs` entry as parsed. */
export type RawNodeSet = z.output<typeof nodeSetSchema>;
/** Its `ironic_config`. */
export type RawIronicConfig = NonNullable<RawNodeSet['ironic_config']>;

/** The boot_mode in an Ironic capabilities string (`boot_mode:bios,secure_boot:true`), if any. */
function capabilityBootMode(
  props: Readonly<Record<string, string | number | boolean>>,
  path: SpecPath,
  ctx: Ctx,
): BootMode | null | undefined {
  const caps = props.capabilities;
  if (caps === undefined) return null;
  if (typeof caps !== 'string') {
    ctx.errors.push({ field: at(path), message: 'capabilities is a string of key:value pairs, e.g. "boot_mode:bios"' });
    return undefined;
  }
  for (const pair of caps.split(',')) {
    const [k, v] = pair.split(':').map((s) => s.trim());
    if (k !== 'boot_mode') continue;
    if (v === 'uefi' || v === 'bios') return v;
    ctx.errors.push({ field: at(path), message: `boot_mode '${v ?? ''}' in capabilities is not uefi or bios` });
    return undefined;
  }
  return null;
}

function compileIronicConfig(c: RawIronicConfig): IronicConfig {
  const interfaces: Partial<Record<IronicInterface, string>> = {};
  for (const i of IRONIC_INTERFACES) {
    const v = c[`${i}_interface`];
    if (v !== undefined && v !== null) interfaces[i] = v;
  }
  return {
    resourceClass: c.resource_class,
    traits: c.traits ?? [],
    properties: c.properties ?? {},
    interfaces,
    conductorGroup: c.conductor_group ?? null,
    shard: c.shard ?? null,
  };
}

/** What a `specs` entry takes from the rest of the spec. */
export interface SpecContext {
  nodeTypeNames: readonly string[];
  nodeTypes: ReadonlyMap<string, NodeType | null>;
  nodeNamePrefix: string | undefined;
  volNamePrefix: string | undefined;
  defaultDriver: IronicDriver | undefined;
  defaultBootMode: BootMode | undefined;
  defaultArch: Arch;
}

/** One `specs` entry with its defaults resolved (prefixes, driver, boot mode); null when it has errors. */
export function compileNodeSet(s: RawNodeSet, index: number, sc: SpecContext, ctx: Ctx): NodeSetSpec | null {
  const base = ['specs', index];
  const before = ctx.errors.length;
  checkTypeRef(s.type, [...base, 'type'], sc.nodeTypeNames, ctx);
  const type = sc.nodeTypes.get(s.type) ?? null;

  const volNamePrefix = s.vol_name_prefix ?? sc.volNamePrefix;
  if (type && volNamePrefix !== undefined) {
    const names = new Map<string, number>();
    const reported = new Set<string>();
    const report = (where: SpecPath, message: string): void => {
      // One error per field: a long prefix makes every volume name too long.
      const field = at(where);
      if (reported.has(field)) return;
      reported.add(field);
      ctx.errors.push({ field, message });
    };
    type.volumes.forEach((v, i) => {
      const name = v.name ?? `${volNamePrefix}${i}`;
      const where = v.name === null ? [...base, 'vol_name_prefix'] : ['node_types', s.type, 'volumes', i, 'name'];
      if (!VOLUME_NAME_PATTERN.test(name))
        report(where, `volume name '${name}' is not usable: use 1-32 letters, digits, '_', '-'`);
      const other = names.get(name);
      if (other !== undefined)
        report(where, `volume ${i} of node type '${s.type}' would be named '${name}', like volume ${other}`);
      else names.set(name, i);
    });
  }

  let bootMode: BootMode | undefined;
  const cfg = s.ironic_config ?? null;
  const caps = cfg
    ? capabilityBootMode(cfg.properties ?? {}, [...base, 'ironic_config', 'properties', 'capabilities'], ctx)
    : null;
  if (caps !== undefined) {
    if (caps !== null && type?.bootMode && type.bootMode !== caps)
      ctx.errors.push({
        field: at([...base, 'ironic_config', 'properties', 'capabilities']),
        message: `boot_mode:${caps} contradicts node type '${s.type}', which asks for ${type.bootMode}`,
      });
    bootMode = caps ?? type?.bootMode ?? sc.defaultBootMode;
    // There is no BIOS for aarch64: the cluster's default_boot_mode does not apply to it, a BIOS asked for is an error.
    const nodeArch = type ? (type.arch ?? sc.defaultArch) : undefined;
    if (nodeArch !== undefined && nodeArch !== 'x86_64') {
      if (caps === 'bios' || type?.bootMode === 'bios')
        ctx.errors.push({
          field: at(
            caps === 'bios'
              ? [...base, 'ironic_config', 'properties', 'capabilities']
              : ['node_types', s.type, 'boot_mode'],
          ),
          message: `node type '${s.type}' is ${nodeArch}, which boots UEFI firmware only (there is no BIOS for ${nodeArch})`,
        });
      bootMode = 'uefi';
    }
  }
  const driver = s.ironic_driver ?? type?.ironicDriver ?? sc.defaultDriver;
  const nodeNamePrefix = s.node_name_prefix ?? sc.nodeNamePrefix;

  if (
    ctx.errors.length > before ||
    !type ||
    nodeNamePrefix === undefined ||
    volNamePrefix === undefined ||
    driver === undefined ||
    bootMode === undefined
  )
    return null;
  return {
    index,
    type: s.type,
    count: s.count,
    nodeNamePrefix,
    volNamePrefix,
    ironicConfig: cfg ? compileIronicConfig(cfg) : null,
    ironicDriver: driver,
    bootMode,
  };
}

/** Name length, clashes between prefixes, shared volumes; every spec must have compiled. */
export function checkNodeNames(specs: readonly NodeSetSpec[], raw: readonly (RawNodeSet | null)[], ctx: Ctx): void {
  const total = specs.reduce((n, s) => n + s.count, 0);
  if (total > MAX_CLUSTER_NODES) {
    ctx.errors.push({
      field: 'specs',
      message: `asks for ${total.toLocaleString('en-US')} nodes; one cluster has at most ${MAX_CLUSTER_NODES.toLocaleString('en-US')}`,
    });
    return;
  }
  const next = new Map<string, number>();
  const users = new Map<string, number[]>();
  for (const s of specs) {
    const first = next.get(s.nodeNamePrefix) ?? 0;
    next.set(s.nodeNamePrefix, first + s.count);
    users.set(s.nodeNamePrefix, [...(users.get(s.nodeNamePrefix) ?? []), s.index]);
    if (s.count === 0) continue;
    const longest = `${s.nodeNamePrefix}${first + s.count - 1}`;
    if (longest.length > MAX_NAME_LENGTH) {
      const own = raw[s.index]?.node_name_prefix !== undefined;
      ctx.errors.push({
        field: own ? `specs[${s.index}].node_name_prefix` : `specs[${s.index}].count`,
        message: `node names would reach '${longest}' (${longest.length} characters; libvirt domain names here are at most ${MAX_NAME_LENGTH})`,
      });
    }
  }
  // Different prefixes can still make the same name ('tk1' + '0' and 'tk' + '10').
  if (users.size < 2) return;
  const owner = new Map<string, number>();
  const reported = new Set<string>();
  const seq = new Map<string, number>();
  for (const s of specs) {
    let i = seq.get(s.nodeNamePrefix) ?? 0;
    for (let k = 0; k < s.count; k++, i++) {
      const name = `${s.nodeNamePrefix}${i}`;
      const other = owner.get(name);
      if (other === undefined) owner.set(name, s.index);
      else if (other !== s.index && !reported.has(`${other}/${s.index}`)) {
        reported.add(`${other}/${s.index}`);
        ctx.errors.push({
          field: `specs[${s.index}].node_name_prefix`,
          message: `node name '${name}' is also made by specs[${other}] (prefix '${specs.find((x) => x.index === other)?.nodeNamePrefix ?? ''}'); use prefixes that do not run into each other`,
        });
      }
    }
    seq.set(s.nodeNamePrefix, i);
  }
}

/** An `existing` volume without `{node}` would be the same disk in every node of its type. */
export function checkSharedVolumes(
  specs: readonly NodeSetSpec[],
  types: Readonly<Record<string, NodeType>>,
  ctx: Ctx,
): void {
  const counts = new Map<string, number>();
  for (const s of specs) counts.set(s.type, (counts.get(s.type) ?? 0) + s.count);
  for (const [name, count] of counts) {
    if (count < 2) continue;
    types[name]?.volumes.forEach((v, i) => {
      if (v.source.kind === 'existing' && !v.source.ref.includes(NODE_PLACEHOLDER))
        ctx.errors.push({
          field: `node_types.${name}.volumes[${i}].existing`,
          message: `'${v.source.ref}' would be the same disk in all ${count} nodes of type '${name}'; put ${NODE_PLACEHOLDER} in it (replaced by the node name) or make one node`,
        });
    });
  }
}
