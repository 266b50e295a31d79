import type { z } from 'zod';
import { fieldPath } from '../config.js';
import { invalidSpec, TenksError, type FieldError } from '../errors.js';
import { parseSize } from '../sizes.js';
import { resolveClusterName, type ClusterIdentity } from './cluster-name.js';
import { didYouMean } from './did-you-mean.js';
import {
  CPU_MODE_NONE,
  MAX_CLUSTER_NODES,
  MAX_NAME_LENGTH,
  NAME_PATTERN,
  NODE_PLACEHOLDER,
  VOLUME_NAME_PATTERN,
  deviceProblem,
  emulatorProblem,
} from './rules.js';
import {
  IRONIC_INTERFACES,
  clusterSpecSchema,
  hypervisorSchema,
  nodeSetSchema,
  nodeTypeSchema,
  novaFlavorSchema,
  volumeSchema,
} from './schema.js';
import type {
  Arch,
  BootMode,
  ClusterSpec,
  HostSettings,
  IronicConfig,
  IronicDriver,
  IronicInterface,
  LibvirtVmSettings,
  NodeSetSpec,
  NodeType,
  NovaFlavor,
  PhysnetMapping,
  PortRange,
  VolumeSource,
  VolumeTemplate,
} from './types.js';
import { IGNORED_NODE_TYPE, IGNORED_VOLUME, checkLooseKeys, ignoredTopLevel } from './unknown-keys.js';
import { parsePart, type SpecPath } from './zod-issues.js';
import { toSchedulerSpec } from './scheduler-spec.js';

/** What compileClusterSpec returns: the spec, and problems that do not stop it (ignored keys, advice). */
export interface CompiledClusterSpec {
  spec: ClusterSpec;
  /** Each with the path it is about; safe to show, never contains secrets. */
  warnings: FieldError[];
}

/** Upstream's IPMI port range defaults, used for the end a user leaves out when giving only one. */
const UPSTREAM_IPMI_PORT_START = 6230;
const UPSTREAM_IPMI_PORT_END = 6240;

type TopShape = typeof clusterSpecSchema.shape;
/** The known top-level keys as parsed (the loose schema's output also has an index signature). */
type Top = { [K in keyof TopShape]: z.output<TopShape[K]> };
type RawNodeType = z.output<typeof nodeTypeSchema>;
type RawNodeSet = z.output<typeof nodeSetSchema>;
type RawFlavor = z.output<typeof novaFlavorSchema>;
type RawHypervisor = z.output<typeof hypervisorSchema>;
type RawVolume = z.output<typeof volumeSchema>;
type RawIronicConfig = NonNullable<RawNodeSet['ironic_config']>;

/** Errors and warnings collected while compiling. */
interface Ctx {
  errors: FieldError[];
  warnings: FieldError[];
}

const at = (path: SpecPath): string => fieldPath('', path);

/**
 * A value as upstream's `default(x, true)` reads it: missing, empty (`key:`), '' and false all mean
 * "not given" (null).
 */
function given<T>(v: T | '' | false | null | undefined): Exclude<T, '' | false> | null {
  return v === undefined || v === null || v === '' || v === false ? null : (v as Exclude<T, '' | false>);
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * The entries of a list section: the parsed data when the whole list is valid, else each entry on
 * its own (null where invalid), so the cross-field checks still see the valid ones.
 */
function listEntries<T>(
  whole: { ok: true; data: T[] | null | undefined } | { ok: false },
  raw: unknown,
  entry: z.ZodType<T>,
): (T | null)[] {
  if (whole.ok) return whole.data ?? [];
  if (!Array.isArray(raw)) return [];
  return raw.map((v) => {
    const r = entry.safeParse(v);
    return r.success ? r.data : null;
  });
}

/** The entries of a mapping section, as {@link listEntries}. */
function mapEntries<T>(
  whole: { ok: true; data: Record<string, T> | null | undefined } | { ok: false },
  raw: unknown,
  entry: z.ZodType<T>,
): Map<string, T | null> {
  const out = new Map<string, T | null>();
  if (whole.ok) {
    for (const [k, v] of Object.entries(whole.data ?? {})) out.set(k, v);
  } else if (isMapping(raw)) {
    for (const [k, v] of Object.entries(raw)) {
      const r = entry.safeParse(v);
      out.set(k, r.success ? r.data : null);
    }
  }
  return out;
}

// ------------------------------------------------------------------ physnet mappings

const VLAN = /^\d+$/;

function compileMappings(
  raw: Readonly<Record<string, string>>,
  base: SpecPath,
  ctx: Ctx,
): Record<string, PhysnetMapping> {
  const out: Record<string, PhysnetMapping> = {};
  const byDevice = new Map<string, { physnet: string; vlan: number | null }[]>();
  for (const [physnet, value] of Object.entries(raw)) {
    const field = at([...base, physnet]);
    const parts = value.split(':');
    const device = parts[0] ?? '';
    let vlan: number | null = null;
    if (parts.length > 2) {
      ctx.errors.push({ field, message: `'${value}' is not a device or device:VLAN` });
      continue;
    }
    const problem = deviceProblem(device);
    if (problem !== null) {
      ctx.errors.push({ field, message: `source device ${problem}` });
      continue;
    }
    if (parts.length === 2) {
      const text = parts[1] ?? '';
      const n = VLAN.test(text) ? Number(text) : NaN;
      if (!(n >= 1 && n <= 4094)) {
        ctx.errors.push({ field, message: `VLAN '${text}' in '${value}' is not 1-4094` });
        continue;
      }
      vlan = n;
    }
    out[physnet] = { device, vlan };
    byDevice.set(device, [...(byDevice.get(device) ?? []), { physnet, vlan }]);
  }
  // One device carries several physnets only on distinct VLANs (as the agent requires).
  for (const [device, users] of byDevice) {
    if (users.length < 2) continue;
    const seen = new Map<number, string>();
    for (const u of users) {
      const other = u.vlan === null ? undefined : seen.get(u.vlan);
      if (u.vlan === null || other !== undefined) {
        const others = users.filter((x) => x.physnet !== u.physnet).map((x) => `'${x.physnet}'`);
        ctx.errors.push({
          field: at([...base, u.physnet]),
          message: `device '${device}' is also used by physnet ${others.join(', ')}: physnets sharing a device each need their own VLAN (${device}:VLAN)`,
        });
      } else seen.set(u.vlan, u.physnet);
    }
  }
  return out;
}

/** The string values under usable physnet names, of a mapping that failed validation as a whole. */
function validEntries(raw: unknown): Record<string, string> {
  if (!isMapping(raw)) return {};
  return Object.fromEntries(
    Object.entries(raw).filter((e): e is [string, string] => NAME_PATTERN.test(e[0]) && typeof e[1] === 'string'),
  );
}

// ------------------------------------------------------------------ ports

function portRange(
  start: number | undefined,
  end: number | undefined,
  base: SpecPath,
  ctx: Ctx,
): PortRange | null | undefined {
  if (start === undefined && end === undefined) return null;
  const range = { start: start ?? UPSTREAM_IPMI_PORT_START, end: end ?? UPSTREAM_IPMI_PORT_END };
  if (range.start > range.end) {
    const defaulted = start === undefined ? ' (ipmi_port_range_start defaults to 6230)' : '';
    const endDefaulted =
      end === undefined ? ' (ipmi_port_range_end defaults to 6240 when only the start is given)' : '';
    ctx.errors.push({
      field: at([...base, end === undefined ? 'ipmi_port_range_start' : 'ipmi_port_range_end']),
      message: `IPMI port range ${range.start}-${range.end} ends before it starts${defaulted}${endDefaulted}`,
    });
    return undefined;
  }
  return range;
}

// ------------------------------------------------------------------ node types

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

function compileVolume(
  v: RawVolume,
  path: SpecPath,
  pool: { type: 'dir' | 'logical'; path: string } | undefined,
  ctx: Ctx,
): VolumeTemplate | null {
  const before = ctx.errors.length;
  const given = (['image', 'backing_image', 'existing'] as const).filter((k) => v[k] !== undefined);
  if (given.length > 1)
    ctx.errors.push({
      field: at(path),
      message: `give at most one of image, backing_image and existing (got ${given.join(', ')})`,
    });

  let source: VolumeSource = { kind: 'blank' };
  if (v.image !== undefined) {
    if (URL_SCHEME.test(v.image))
      ctx.errors.push({
        field: at([...path, 'image']),
        message: `'${v.image}' is a URL: tenks does not download images; copy it to each hypervisor and give its absolute path`,
      });
    else if (!v.image.startsWith('/'))
      ctx.errors.push({
        field: at([...path, 'image']),
        message: `'${v.image}' must be an absolute path on the hypervisor`,
      });
    source = { kind: 'image', path: v.image };
  } else if (v.backing_image !== undefined) {
    let p = v.backing_image;
    if (!p.startsWith('/')) {
      // Upstream names a volume of the pool; in a dir pool that is a file in the pool directory.
      if (p.includes('/'))
        ctx.errors.push({
          field: at([...path, 'backing_image']),
          message: `'${p}' must be an absolute path, or the name of a volume in the libvirt pool`,
        });
      else if (pool?.type === 'logical')
        ctx.errors.push({
          field: at([...path, 'backing_image']),
          message: `'${p}' names a pool volume, which only works with a dir pool; give an absolute path`,
        });
      else if (pool) p = `${pool.path.replace(/\/+$/, '')}/${p}`;
    }
    source = { kind: 'backing', path: p };
  } else if (v.existing !== undefined) {
    source = { kind: 'existing', ref: v.existing };
  }

  const format = v.format ?? 'qcow2';
  if (source.kind === 'backing' && format !== 'qcow2')
    ctx.errors.push({ field: at([...path, 'format']), message: 'a volume with backing_image must be qcow2' });

  let capacityBytes: number | null = null;
  if (v.capacity === undefined) {
    if (source.kind !== 'existing')
      ctx.errors.push({
        field: at([...path, 'capacity']),
        message: 'required (every volume but an existing one needs a capacity, e.g. 10GiB)',
      });
  } else {
    const r = parseSize(v.capacity);
    if (r.ok) capacityBytes = r.bytes;
  }
  if (ctx.errors.length > before) return null;
  return { name: v.name ?? null, capacityBytes, format, source };
}

function compileNodeType(
  name: string,
  t: RawNodeType,
  pool: { type: 'dir' | 'logical'; path: string } | undefined,
  ctx: Ctx,
): NodeType | null {
  const base = ['node_types', name];
  const before = ctx.errors.length;
  const volumes: VolumeTemplate[] = [];
  const rawVolumes = t.volumes ?? [];
  rawVolumes.forEach((v, i) => {
    const c = compileVolume(v, [...base, 'volumes', i], pool, ctx);
    if (c) volumes.push(c);
  });
  const explicit = new Map<string, number>();
  rawVolumes.forEach((v, i) => {
    if (v.name === undefined) return;
    const other = explicit.get(v.name);
    if (other !== undefined)
      ctx.errors.push({
        field: at([...base, 'volumes', i, 'name']),
        message: `duplicate volume name '${v.name}' (also volumes[${other}])`,
      });
    else explicit.set(v.name, i);
  });

  // As libvirt-vm's `default(..., true)`: an empty boot_firmware is not given.
  const firmware = !t.boot_firmware ? undefined : t.boot_firmware === 'efi' ? 'uefi' : 'bios';
  if (t.boot_mode !== undefined && firmware !== undefined && t.boot_mode !== firmware)
    ctx.errors.push({
      field: at([...base, 'boot_firmware']),
      message: `boot_firmware ${t.boot_firmware ?? ''} contradicts boot_mode ${t.boot_mode}; give one of them`,
    });

  if (ctx.errors.length > before) return null;
  return {
    name,
    memoryMb: t.memory_mb,
    vcpus: t.vcpus,
    volumes,
    physicalNetworks: t.physical_networks ?? [],
    // Upstream's `default(false)` keeps an empty value, which `| bool` reads as false.
    consoleLog: t.console_log_enabled ?? false,
    vnc: t.enable_vnc ?? false,
    bootMode: t.boot_mode ?? firmware ?? null,
    ironicDriver: t.ironic_driver ?? null,
    // libvirt-vm: `vm.machine | default(machine_default, true)`: empty means the default.
    machine: given(t.machine),
    // libvirt-vm: `vm.cpu_mode | default(libvirt_cpu_mode_default)`: only a missing key takes the
    // default; an empty one renders no <cpu> element at all.
    cpuMode: t.cpu_mode === undefined ? null : t.cpu_mode === null || t.cpu_mode === '' ? CPU_MODE_NONE : t.cpu_mode,
    clockOffset: given(t.clock_offset),
    arch: given(t.arch),
  };
}

// ------------------------------------------------------------------ specs

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

/** A reference to a node type by name must name one. */
function checkTypeRef(type: unknown, path: SpecPath, known: readonly string[], ctx: Ctx): void {
  if (typeof type !== 'string' || known.includes(type)) return;
  const list = known.length === 0 ? 'none are defined' : `known: ${known.join(', ')}`;
  ctx.errors.push({ field: at(path), message: `unknown node type '${type}'${didYouMean(type, known)} (${list})` });
}

interface SpecContext {
  nodeTypeNames: readonly string[];
  nodeTypes: ReadonlyMap<string, NodeType | null>;
  nodeNamePrefix: string | undefined;
  volNamePrefix: string | undefined;
  defaultDriver: IronicDriver | undefined;
  defaultBootMode: BootMode | undefined;
  defaultArch: Arch;
}

function compileNodeSet(s: RawNodeSet, index: number, sc: SpecContext, ctx: Ctx): NodeSetSpec | null {
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
function checkNodeNames(specs: readonly NodeSetSpec[], raw: readonly (RawNodeSet | null)[], ctx: Ctx): void {
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
function checkSharedVolumes(specs: readonly NodeSetSpec[], types: Readonly<Record<string, NodeType>>, ctx: Ctx): void {
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

// ------------------------------------------------------------------ physnets

function checkPhysnets(
  specs: readonly NodeSetSpec[],
  types: Readonly<Record<string, NodeType>>,
  global: Readonly<Record<string, PhysnetMapping>>,
  hypervisors: Readonly<Record<string, HostSettings>> | null,
  ctx: Ctx,
): void {
  const used = [...new Set(specs.map((s) => s.type))];
  for (const typeName of used) {
    const t = types[typeName];
    if (!t) continue;
    t.physicalNetworks.forEach((physnet, i) => {
      const field = `node_types.${typeName}.physical_networks[${i}]`;
      if (hypervisors === null) {
        // Hosts are whatever agents are alive: one may have the physnet set up already.
        if (!(physnet in global))
          ctx.warnings.push({
            field,
            message: `physnet '${physnet}' is not in physnet_mappings${didYouMean(physnet, Object.keys(global))}: nodes of type '${typeName}' can only go to hypervisors where it is already set up`,
          });
        return;
      }
      const hosts = Object.entries(hypervisors);
      if (hosts.some(([, h]) => physnet in h.physnetMappings)) return;
      const mapped = [...new Set(hosts.flatMap(([, h]) => Object.keys(h.physnetMappings)))];
      ctx.errors.push({
        field,
        message: `physnet '${physnet}' is not mapped on any listed hypervisor (${hosts.map(([id]) => id).join(', ')})${didYouMean(physnet, mapped)}: add it to physnet_mappings or hypervisors.<id>.physnet_mappings`,
      });
    });
  }
}

// ------------------------------------------------------------------ flavors

function compileFlavors(
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

// ------------------------------------------------------------------ the whole spec

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

/** The top-level values that parsed; a key is missing when its value was invalid. */
type Scalars = Partial<Omit<Top, 'node_types' | 'specs' | 'nova_flavors' | 'hypervisors'>>;

/** The `hypervisors` section: each listed host with its own settings or the cluster-wide ones; null when absent. */
function compileHypervisors(
  raw: Top['hypervisors'],
  s: Scalars,
  globalMappings: Readonly<Record<string, PhysnetMapping>>,
  globalRange: PortRange | null | undefined,
  ctx: Ctx,
): Record<string, HostSettings> | null {
  if (raw === null || raw === undefined) return null;
  const list = Object.entries(raw);
  if (list.length === 0)
    ctx.errors.push({
      field: 'hypervisors',
      message: 'lists no hypervisor; remove it to use every live agent, or list agent ids',
    });
  const out: Record<string, HostSettings> = {};
  for (const [id, entry] of list) {
    const h: RawHypervisor = entry ?? {};
    const base = ['hypervisors', id];
    const range =
      h.ipmi_port_range_start === undefined && h.ipmi_port_range_end === undefined
        ? globalRange
        : portRange(
            h.ipmi_port_range_start ?? s.ipmi_port_range_start,
            h.ipmi_port_range_end ?? s.ipmi_port_range_end,
            base,
            ctx,
          );
    out[id] = {
      physnetMappings: h.physnet_mappings
        ? compileMappings(h.physnet_mappings, [...base, 'physnet_mappings'], ctx)
        : globalMappings,
      ipmiAddress: h.ipmi_address ?? s.ipmi_address ?? '0.0.0.0',
      ipmiPortRange: range ?? null,
      redfishAddress: h.redfish_address ?? s.redfish_address ?? '0.0.0.0',
    };
  }
  return out;
}

/** When the hosts are listed and all have port ranges, more IPMI nodes than ports cannot fit. */
function checkIpmiPorts(
  hypervisors: Readonly<Record<string, HostSettings>>,
  specs: readonly NodeSetSpec[],
  ctx: Ctx,
): void {
  const ipmiNodes = specs.filter((x) => x.ironicDriver === 'ipmi').reduce((n, x) => n + x.count, 0);
  const ranges = Object.values(hypervisors).map((h) => h.ipmiPortRange);
  if (ranges.length === 0 || !ranges.every((r) => r !== null)) return;
  const ports = ranges.reduce((n, r) => n + (r.end - r.start + 1), 0);
  if (ipmiNodes > ports)
    ctx.errors.push({
      field: 'ipmi_port_range_end',
      message: `${ipmiNodes} nodes use IPMI but the listed hypervisors have ${ports} IPMI ports in their ranges; widen the range`,
    });
}

/** deploy_kernel / deploy_ramdisk, accepting their old `_uuid` names. */
function compileDeployImages(
  s: Scalars,
  specs: readonly NodeSetSpec[],
  ctx: Ctx,
): { deployKernel: string | null; deployRamdisk: string | null } {
  const one = (key: 'deploy_kernel' | 'deploy_ramdisk'): string | null => {
    const value = s[key] ?? null;
    const old = s[`${key}_uuid`] ?? null;
    if (old !== null) {
      if (value !== null && value !== old)
        ctx.errors.push({ field: `${key}_uuid`, message: `contradicts ${key}; give only ${key}` });
      else ctx.warnings.push({ field: `${key}_uuid`, message: `old name of ${key}; use ${key}` });
    }
    return value ?? old;
  };
  const deployKernel = one('deploy_kernel');
  const deployRamdisk = one('deploy_ramdisk');
  return { deployKernel, deployRamdisk };
}

/** The `libvirt_vm_*` variables: upstream's empty values mean their defaults (see the schema). */
function compileLibvirtVm(s: Scalars, ctx: Ctx): LibvirtVmSettings {
  let emulator = s.libvirt_vm_emulator ? s.libvirt_vm_emulator.trim() : null;
  const problem = emulator === null ? null : emulatorProblem(emulator);
  if (problem !== null) {
    ctx.errors.push({ field: 'libvirt_vm_emulator', message: problem });
    emulator = null;
  }
  const dir = given(s.libvirt_vm_default_console_log_dir);
  if (dir !== null && !dir.startsWith('/'))
    ctx.errors.push({
      field: 'libvirt_vm_default_console_log_dir',
      message: `'${dir}' must be an absolute directory on the hypervisors`,
    });
  const owner = s.libvirt_vm_log_owner;
  return {
    engine: given(s.libvirt_vm_engine),
    emulator,
    consoleLogDir: dir,
    logOwner: owner === undefined || owner === null || owner === '' ? null : String(owner),
    // Tenks sets true; libvirt-vm reads `| bool`, so an empty value is false.
    trustGuestRxFilters:
      s.libvirt_vm_trust_guest_rx_filters === undefined ? true : s.libvirt_vm_trust_guest_rx_filters === true,
    clockOffset: given(s.libvirt_vm_clock_offset),
  };
}

/** The cluster name: `name`, else from `state_file_path` (cluster-name.ts), else the default. */
function clusterIdentity(s: Scalars, ctx: Ctx): ClusterIdentity | undefined {
  const r = resolveClusterName(s.name ?? null, s.state_file_path ?? null);
  if (!r.ok) {
    ctx.errors.push(r.error);
    return undefined;
  }
  if (r.warning) ctx.warnings.push(r.warning);
  return r.identity;
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

/** Settings of hypervisor `id` under `spec`: its own entry, else the cluster-wide values. */
export function hostSettings(spec: ClusterSpec, id: string): HostSettings {
  return (
    spec.hypervisors?.[id] ?? {
      physnetMappings: spec.physnetMappings,
      ipmiAddress: spec.ipmi.address,
      ipmiPortRange: spec.ipmi.portRange,
      redfishAddress: spec.redfish.address,
    }
  );
}
