import { createHash } from 'node:crypto';
import { canonicalJson } from '../../common/canonical-json.js';
import { invalidSpec, type FieldError } from '../../common/errors.js';
import { parseSize } from '../../common/sizes.js';
import {
  CLOCK_OFFSET_PATTERN,
  CPU_MODE_NONE,
  CPU_MODES as SPEC_CPU_MODES,
  GUEST_ARCHES,
  LOG_OWNER_PATTERN,
  MACHINE_PATTERN,
  MAX_VCPUS,
  MIN_MEMORY_MB,
  NAME_PATTERN,
  NAME_RULE,
  VOLUME_NAME_PATTERN,
  VOLUME_NAME_RULE,
  backingFormatProblem,
  emulatorProblem,
  imagePathProblem,
  volumeSourcesProblem,
} from '../../common/spec/rules.js';
import type { Arch, NodeSpec, VolumeFormat, VolumeSpec, VolumeSource, NicSpec, BootMode, Engine } from './types.js';

/** A node spec as received (proto3 style: empty string / 0 mean "not set"). */
export interface RawNodeSpec {
  cluster: string;
  name: string;
  uuid: string;
  nodeType: string;
  memoryMb: number;
  vcpus: number;
  machine: string;
  cpuMode: string;
  /** `uefi`, `bios`, or empty for the default (`uefi`, as upstream). */
  bootMode: string;
  volumes: RawVolumeSpec[];
  nics: { physnet: string; mac: string }[];
  consoleLogEnabled: boolean;
  vncEnabled: boolean;
  labels: Record<string, string>;
  /** `kvm`, `qemu`, or empty for the host's engine. */
  engine: string;
  /** Emulator path or template; empty: libvirt's. */
  emulator: string;
  /** Console log directory; empty: the agent's. */
  consoleLogDir: string;
  /** Console log directory owner (name or uid); empty: left as it is. */
  consoleLogOwner: string;
  trustGuestRxFilters: boolean;
  /** `utc`, `localtime`, `variable`, a time zone; empty: utc. */
  clockOffset: string;
  /** `x86_64`, `aarch64`, or empty for x86_64. */
  arch: string;
}

/** A volume as received. */
export interface RawVolumeSpec {
  name: string;
  capacity: string;
  image: string;
  backingImage: string;
  existing: string;
  format: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/;
/** The spec's CPU modes, and upstream's empty one (no <cpu> element), which the coordinator sends as `none`. */
const CPU_MODES = [...SPEC_CPU_MODES, CPU_MODE_NONE] as const;
const ENGINES = ['kvm', 'qemu'] as const;
const BOOT_MODES: readonly BootMode[] = ['uefi', 'bios'];

function checkName(value: string, field: string, what: string, errors: FieldError[]): void {
  if (value === '') errors.push({ field, message: `${what} is required` });
  else if (!NAME_PATTERN.test(value))
    errors.push({ field, message: `'${value}' is not a usable ${what}: ${NAME_RULE}` });
}

function compileVolume(raw: RawVolumeSpec, index: number, base: string, errors: FieldError[]): VolumeSpec | null {
  const field = `${base}.volumes[${index}]`;
  const before = errors.length;
  const name = raw.name === '' ? `vol${index}` : raw.name;
  if (!VOLUME_NAME_PATTERN.test(name))
    errors.push({ field: `${field}.name`, message: `'${name}' is not a usable volume name: ${VOLUME_NAME_RULE}` });

  const given = { image: raw.image, backing_image: raw.backingImage, existing: raw.existing };
  const sources = volumeSourcesProblem(
    Object.entries(given)
      .filter(([, value]) => value !== '')
      .map(([key]) => key),
  );
  if (sources !== null) errors.push({ field, message: sources });

  let source: VolumeSource = { kind: 'blank' };
  if (raw.image !== '') source = { kind: 'image', path: raw.image };
  else if (raw.backingImage !== '') source = { kind: 'backing', path: raw.backingImage };
  else if (raw.existing !== '') source = { kind: 'existing', ref: raw.existing };
  for (const key of ['image', 'backing_image'] as const) {
    const problem = given[key] === '' ? null : imagePathProblem(given[key]);
    if (problem !== null) errors.push({ field: `${field}.${key}`, message: problem });
  }

  let format: VolumeFormat = 'qcow2';
  if (raw.format !== '') {
    if (raw.format === 'qcow2' || raw.format === 'raw') format = raw.format;
    else errors.push({ field: `${field}.format`, message: `unknown volume format '${raw.format}' (use qcow2 or raw)` });
  }
  const backing = source.kind === 'backing' ? backingFormatProblem(format) : null;
  if (backing !== null) errors.push({ field: `${field}.format`, message: backing });

  let capacityBytes = 0;
  if (raw.capacity === '') {
    if (source.kind === 'blank')
      errors.push({ field: `${field}.capacity`, message: 'capacity is required for a blank volume' });
  } else {
    const size = parseSize(raw.capacity);
    if (size.ok) capacityBytes = size.bytes;
    else errors.push({ field: `${field}.capacity`, message: size.reason });
  }
  if (errors.length > before) return null;
  return { name, capacityBytes, format, source };
}

/** Validates a raw node spec and applies defaults. Throws one INVALID_SPEC error listing every problem. */
export function compileNodeSpec(raw: RawNodeSpec, base = 'node'): NodeSpec {
  const errors: FieldError[] = [];
  checkName(raw.cluster, `${base}.cluster`, 'cluster name', errors);
  checkName(raw.name, `${base}.name`, 'node name', errors);
  if (raw.uuid !== '' && !UUID.test(raw.uuid))
    errors.push({ field: `${base}.uuid`, message: `'${raw.uuid}' is not a UUID` });
  if (!Number.isInteger(raw.memoryMb) || raw.memoryMb < MIN_MEMORY_MB)
    errors.push({
      field: `${base}.memory_mb`,
      message: `memory_mb must be a whole number of MiB, at least ${MIN_MEMORY_MB} (got ${raw.memoryMb})`,
    });
  if (!Number.isInteger(raw.vcpus) || raw.vcpus < 1 || raw.vcpus > MAX_VCPUS)
    errors.push({
      field: `${base}.vcpus`,
      message: `vcpus must be a whole number from 1 to ${MAX_VCPUS} (got ${raw.vcpus})`,
    });
  if (raw.machine !== '' && !MACHINE_PATTERN.test(raw.machine))
    errors.push({ field: `${base}.machine`, message: `'${raw.machine}' is not a machine type` });
  if (raw.cpuMode !== '' && !(CPU_MODES as readonly string[]).includes(raw.cpuMode))
    errors.push({
      field: `${base}.cpu_mode`,
      message: `unknown cpu_mode '${raw.cpuMode}' (use ${CPU_MODES.join(', ')})`,
    });
  const bootMode = raw.bootMode === '' ? 'uefi' : raw.bootMode;
  if (!(BOOT_MODES as readonly string[]).includes(bootMode))
    errors.push({ field: `${base}.boot_mode`, message: `unknown boot mode '${raw.bootMode}' (use uefi or bios)` });
  const arch = raw.arch === '' ? 'x86_64' : raw.arch;
  if (!(GUEST_ARCHES as readonly string[]).includes(arch))
    errors.push({
      field: `${base}.arch`,
      message: `unknown architecture '${raw.arch}' (use ${GUEST_ARCHES.join(' or ')})`,
    });
  else if (arch !== 'x86_64' && bootMode === 'bios')
    errors.push({
      field: `${base}.boot_mode`,
      message: `${arch} nodes boot UEFI firmware only: there is no BIOS for ${arch} (use uefi)`,
    });

  const volumes: VolumeSpec[] = [];
  const seen = new Map<string, number>();
  raw.volumes.forEach((v, i) => {
    const compiled = compileVolume(v, i, base, errors);
    if (!compiled) return;
    volumes.push(compiled);
    const other = seen.get(compiled.name);
    if (other !== undefined)
      errors.push({
        field: `${base}.volumes[${i}].name`,
        message: `duplicate volume name '${compiled.name}' (also volumes[${other}])`,
      });
    else seen.set(compiled.name, i);
  });

  const nics: NicSpec[] = [];
  const macs = new Map<string, number>();
  raw.nics.forEach((n, i) => {
    const field = `${base}.nics[${i}]`;
    if (n.physnet === '') errors.push({ field: `${field}.physnet`, message: 'physnet is required' });
    else if (!NAME_PATTERN.test(n.physnet))
      errors.push({ field: `${field}.physnet`, message: `'${n.physnet}' is not a usable physnet name` });
    let mac: string | null = null;
    if (n.mac !== '') {
      const first = Number.parseInt(n.mac.slice(0, 2), 16);
      if (!MAC.test(n.mac)) errors.push({ field: `${field}.mac`, message: `'${n.mac}' is not a MAC address` });
      else if (first & 1) errors.push({ field: `${field}.mac`, message: `'${n.mac}' is a multicast MAC address` });
      else {
        mac = n.mac.toLowerCase();
        const other = macs.get(mac);
        if (other !== undefined)
          errors.push({ field: `${field}.mac`, message: `duplicate MAC '${mac}' (also nics[${other}])` });
        macs.set(mac, i);
      }
    }
    nics.push({ physnet: n.physnet, mac });
  });

  if (raw.engine !== '' && !(ENGINES as readonly string[]).includes(raw.engine))
    errors.push({ field: `${base}.engine`, message: `unknown engine '${raw.engine}' (use kvm or qemu)` });
  const emulator = raw.emulator === '' ? null : emulatorProblem(raw.emulator);
  if (emulator !== null) errors.push({ field: `${base}.emulator`, message: emulator });
  if (raw.consoleLogDir !== '' && !raw.consoleLogDir.startsWith('/'))
    errors.push({
      field: `${base}.console_log_dir`,
      message: `'${raw.consoleLogDir}' must be an absolute directory`,
    });
  if (raw.consoleLogOwner !== '' && !LOG_OWNER_PATTERN.test(raw.consoleLogOwner))
    errors.push({
      field: `${base}.console_log_owner`,
      message: `'${raw.consoleLogOwner}' is not a user name or numeric uid`,
    });
  if (raw.clockOffset !== '' && !CLOCK_OFFSET_PATTERN.test(raw.clockOffset))
    errors.push({
      field: `${base}.clock_offset`,
      message: `'${raw.clockOffset}' is not utc, localtime, variable or a time zone name`,
    });

  for (const key of Object.keys(raw.labels)) {
    if (!LABEL_KEY.test(key))
      errors.push({ field: `${base}.labels.${key}`, message: `'${key}' is not a usable label key` });
  }

  if (errors.length > 0) throw invalidSpec(errors);
  return {
    cluster: raw.cluster,
    name: raw.name,
    uuid: raw.uuid === '' ? null : raw.uuid.toLowerCase(),
    nodeType: raw.nodeType,
    memoryMb: raw.memoryMb,
    vcpus: raw.vcpus,
    machine: raw.machine === '' ? null : raw.machine,
    cpuMode: raw.cpuMode === '' ? null : raw.cpuMode,
    bootMode: bootMode as BootMode,
    volumes,
    nics,
    consoleLog: raw.consoleLogEnabled,
    vnc: raw.vncEnabled,
    labels: { ...raw.labels },
    ...(raw.engine === '' ? {} : { engine: raw.engine as Engine }),
    ...(raw.emulator === '' ? {} : { emulator: raw.emulator }),
    ...(raw.consoleLogDir === '' ? {} : { consoleLogDir: raw.consoleLogDir.replace(/(.)\/+$/, '$1') }),
    ...(raw.consoleLogOwner === '' ? {} : { consoleLogOwner: raw.consoleLogOwner }),
    // It changes only NICs: a node without any is the same node with or without it.
    ...(raw.trustGuestRxFilters && nics.length > 0 ? { trustGuestRxFilters: true as const } : {}),
    ...(raw.clockOffset === '' ? {} : { clockOffset: raw.clockOffset }),
    // Left out for x86_64, so the hash of nodes made before architectures existed stays the same.
    ...(arch === 'x86_64' ? {} : { arch: arch as Exclude<Arch, 'x86_64'> }),
  };
}

/** Short stable hash of a spec. */
export function specHash(spec: NodeSpec): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, 16);
}

/** A blank raw spec, for tests and callers that fill a few fields. */
export function rawNodeSpec(fields: Partial<RawNodeSpec> & Pick<RawNodeSpec, 'cluster' | 'name'>): RawNodeSpec {
  return {
    uuid: '',
    nodeType: '',
    memoryMb: 1024,
    vcpus: 1,
    machine: '',
    cpuMode: '',
    bootMode: '',
    volumes: [],
    nics: [],
    consoleLogEnabled: false,
    vncEnabled: false,
    labels: {},
    engine: '',
    emulator: '',
    consoleLogDir: '',
    consoleLogOwner: '',
    trustGuestRxFilters: false,
    clockOffset: '',
    arch: '',
    ...fields,
  };
}

/** A raw volume with only some fields set. */
export function rawVolume(fields: Partial<RawVolumeSpec>): RawVolumeSpec {
  return { name: '', capacity: '', image: '', backingImage: '', existing: '', format: '', ...fields };
}

/** Guest architecture of a spec. */
export function archOf(spec: NodeSpec): Arch {
  return spec.arch ?? 'x86_64';
}

/** QEMU machine type of a spec: its own, else virt for aarch64, q35 for UEFI and pc for BIOS. */
export function machineOf(spec: NodeSpec): string {
  return spec.machine ?? (archOf(spec) === 'aarch64' ? 'virt' : spec.bootMode === 'uefi' ? 'q35' : 'pc');
}
