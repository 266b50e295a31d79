/** Node types: their volumes (image, backing image, existing disk, blank) and hardware settings. */
import type { z } from 'zod';
import { parseSize } from '../sizes.js';
import { didYouMean } from './did-you-mean.js';
import { at, given, type Ctx } from './compile-context.js';
import { CPU_MODE_NONE } from './rules.js';
import type { nodeTypeSchema, volumeSchema } from './node-type-schema.js';
import type { NodeType, VolumeSource, VolumeTemplate } from './types.js';
import type { SpecPath } from './zod-issues.js';

/** One node type as parsed. */
export type RawNodeType = z.output<typeof nodeTypeSchema>;
/** One volume of a node type as parsed. */
export type RawVolume = z.output<typeof volumeSchema>;

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** One volume: its source (blank, image, backing image or existing) and capacity; null when it has errors. */
export function compileVolume(
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

/** One node type: its volumes and hardware, with upstream's meaning of empty values; null when it has errors. */
export function compileNodeType(
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

/** A reference to a node type by name must name one. */
export function checkTypeRef(type: unknown, path: SpecPath, known: readonly string[], ctx: Ctx): void {
  if (typeof type !== 'string' || known.includes(type)) return;
  const list = known.length === 0 ? 'none are defined' : `known: ${known.join(', ')}`;
  ctx.errors.push({ field: at(path), message: `unknown node type '${type}'${didYouMean(type, known)} (${list})` });
}
