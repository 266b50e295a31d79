import { TenksError } from '../../common/errors.js';
import { DEFAULT_FIRMWARE } from './hypervisor.js';
import type { DomainSpec, FirmwareState, NodeMetadata, VirtualMediaState } from './hypervisor.js';
import type { Arch } from './types.js';
import { parseXml, xmlEscape as e } from './xml.js';

/** Namespace of tenks' domain metadata. */
export const METADATA_NS = 'https://tenks.dev/xmlns/node/1';
/** Prefix of tenks' metadata element in domain XML. */
export const METADATA_KEY = 'tenks';

const BOOT_DEV = { network: 'network', disk: 'hd', cdrom: 'cdrom' } as const;

/** libvirt's disk naming: 0 → a, 25 → z, 26 → aa, 27 → ab (bijective base 26). */
export function diskLetters(index: number): string {
  let n = index + 1;
  let out = '';
  while (n > 0) {
    const r = (n - 1) % 26;
    out = String.fromCharCode(97 + r) + out;
    n = Math.floor((n - 1) / 26);
  }
  return out;
}

function diskXml(d: DomainSpec['disks'][number], index: number): string {
  const dev = `vd${diskLetters(index)}`;
  const src = d.source;
  const source =
    src.type === 'volume'
      ? `<source pool='${e(src.pool)}' volume='${e(src.volume)}'/>`
      : src.type === 'file'
        ? `<source file='${e(src.path)}'/>`
        : `<source dev='${e(src.path)}'/>`;
  return (
    `<disk type='${src.type}' device='disk'><driver name='qemu' type='${e(d.format)}'/>${source}` +
    `<target dev='${dev}' bus='virtio'/></disk>`
  );
}

function nicXml(n: DomainSpec['nics'][number], trust: boolean): string {
  const a = n.attach;
  const body =
    a.type === 'bridge'
      ? `<source bridge='${e(a.bridge)}'/>${a.openvswitch ? "<virtualport type='openvswitch'/>" : ''}`
      : `<source dev='${e(a.device)}' mode='passthrough'/>`;
  return (
    (a.type === 'bridge'
      ? "<interface type='bridge'>"
      : `<interface type='direct'${trust ? " trustGuestRxFilters='yes'" : ''}>`) +
    `<mac address='${e(n.mac)}'/>${body}` +
    `<model type='virtio'/><alias name='ua-${e(n.alias)}'/></interface>`
  );
}

/**
 * The tenks metadata element. Without `prefix` it is the bare element `virDomainSetMetadata` takes
 * (libvirt adds the namespace); with it, the element as it stands inside a full domain XML.
 */
export function metadataXml(m: NodeMetadata, prefix?: string): string {
  const p = prefix === undefined ? '' : `${prefix}:`;
  const ns = prefix === undefined ? '' : ` xmlns:${prefix}='${METADATA_NS}'`;
  return (
    `<${p}node${ns} version='${m.version}' cluster='${e(m.cluster)}' name='${e(m.name)}' uuid='${e(m.uuid)}' ` +
    (m.agent === null ? '' : `agent='${e(m.agent)}' `) +
    `spec-hash='${e(m.specHash)}' boot-device='${m.bootDevice}' boot-persistent='${m.bootPersistent ? 'yes' : 'no'}' persistent-boot-device='${m.persistentBootDevice}'>` +
    m.ownedVolumes.map((v) => `<${p}owned-volume name='${e(v)}'/>`).join('') +
    `<${p}spec>${e(JSON.stringify(m.spec))}</${p}spec>` +
    `<${p}bmc>${e(JSON.stringify({ firmware: m.firmware, media: m.media }))}</${p}bmc></${p}node>`
  );
}

/** Our metadata element as parsed: attributes and children, all optional (it may be another's). */
interface MetadataElement {
  '@version'?: string;
  '@cluster'?: string;
  '@name'?: string;
  '@uuid'?: string;
  '@agent'?: string;
  '@spec-hash'?: string;
  '@boot-device'?: string;
  '@boot-persistent'?: string;
  '@persistent-boot-device'?: string;
  'owned-volume'?: { '@name'?: string }[];
  spec?: unknown;
  bmc?: unknown;
}

/**
 * Our metadata element in `xml`: the element itself (as `virDomainGetMetadata` returns it), or
 * within a domain definition's `<metadata>`. Namespace prefixes are not checked.
 */
function metadataElement(xml: string): MetadataElement | null {
  const doc = parseXml(xml, ['owned-volume']) as { node?: unknown; domain?: { metadata?: { node?: unknown } } };
  const node = doc.node ?? doc.domain?.metadata?.node;
  return typeof node === 'object' && node !== null && !Array.isArray(node) ? node : null;
}

/** Parses our metadata element; null when it is not ours or not readable (never throws). */
export function parseMetadata(xml: string): NodeMetadata | null {
  let node: MetadataElement | null;
  try {
    node = metadataElement(xml);
  } catch {
    return null;
  }
  if (node === null) return null;
  const cluster = node['@cluster'];
  const name = node['@name'];
  const uuid = node['@uuid'];
  const specHash = node['@spec-hash'];
  if (
    node['@version'] !== '1' ||
    cluster === undefined ||
    name === undefined ||
    uuid === undefined ||
    specHash === undefined ||
    typeof node.spec !== 'string'
  )
    return null;
  let spec: NodeMetadata['spec'];
  try {
    spec = JSON.parse(node.spec) as NodeMetadata['spec'];
  } catch {
    return null;
  }
  const bmc = parseBmcState(typeof node.bmc === 'string' ? node.bmc : undefined);
  const bootDevice = node['@boot-device'];
  const persistentBootDevice = node['@persistent-boot-device'];
  return {
    version: 1,
    cluster,
    name,
    uuid,
    agent: node['@agent'] ?? null,
    specHash,
    spec,
    ownedVolumes: (node['owned-volume'] ?? []).map((v) => v['@name'] ?? ''),
    bootDevice: bootDevice === 'disk' || bootDevice === 'cdrom' ? bootDevice : 'network',
    bootPersistent: node['@boot-persistent'] !== 'no',
    persistentBootDevice:
      persistentBootDevice === 'disk' || persistentBootDevice === 'cdrom' ? persistentBootDevice : 'network',
    firmware: bmc.firmware,
    media: bmc.media,
  };
}

/** The BMC-owned part of the metadata; domains defined before it existed get the defaults. */
function parseBmcState(text: string | undefined): { firmware: FirmwareState; media: VirtualMediaState | null } {
  const fallback = { firmware: { ...DEFAULT_FIRMWARE }, media: null };
  if (text === undefined) return fallback;
  try {
    const raw = JSON.parse(text) as {
      firmware?: Partial<FirmwareState>;
      media?: VirtualMediaState | null;
    };
    return { firmware: { ...DEFAULT_FIRMWARE, ...raw.firmware }, media: raw.media ?? null };
  } catch {
    return fallback;
  }
}

/** True for q35 machine types (SATA CD drive, SMM for Secure Boot). */
export function isQ35(machine: string): boolean {
  return machine.includes('q35');
}

/**
 * Whether a machine type can have Secure Boot firmware: q35 on x86_64 (the firmware needs SMM,
 * which i440fx lacks); aarch64's virt (AAVMF needs no SMM).
 */
export function secureBootMachine(arch: Arch, machine: string): boolean {
  return arch === 'x86_64' ? isQ35(machine) : machine.startsWith('virt');
}

/**
 * Target of the CD drive: SATA on q35, IDE on i440fx (`pc`); SCSI (on a virtio-scsi controller)
 * on aarch64, whose `virt` machine has neither.
 */
export function cdromTarget(machine: string, arch: Arch = 'x86_64'): { dev: string; bus: string } {
  if (arch !== 'x86_64') return { dev: 'sda', bus: 'scsi' };
  return isQ35(machine) ? { dev: 'sda', bus: 'sata' } : { dev: 'hdc', bus: 'ide' };
}

/** The CD drive element, empty or holding `source`. */
export function cdromXml(source: DomainSpec['cdrom'], machine: string, arch: Arch = 'x86_64'): string {
  const t = cdromTarget(machine, arch);
  const src =
    source === null
      ? ''
      : source.type === 'volume'
        ? `<source pool='${e(source.pool)}' volume='${e(source.volume)}'/>`
        : source.type === 'file'
          ? `<source file='${e(source.path)}'/>`
          : `<source dev='${e(source.path)}'/>`;
  const type = source === null ? 'file' : source.type;
  return `<disk type='${type}' device='cdrom'><driver name='qemu' type='raw'/>${src}<target dev='${t.dev}' bus='${t.bus}'/><readonly/></disk>`;
}

/** The <clock> element: utc, localtime and variable are libvirt offsets; anything else is a time zone. */
export function clockXml(offset: string): string {
  if (offset === 'utc' || offset === 'localtime') return `<clock offset='${offset}'/>`;
  if (offset === 'variable') return "<clock offset='variable' basis='utc'/>";
  return `<clock offset='timezone' timezone='${e(offset)}'/>`;
}

/**
 * Devices x86 machines have built in and the aarch64 `virt` machine lacks: the CD drive's
 * virtio-scsi controller, and with VNC a USB controller with a keyboard and a tablet (no PS/2).
 */
function armDevicesXml(spec: DomainSpec): string {
  if (spec.arch === 'x86_64') return '';
  const usb = spec.vnc
    ? "<controller type='usb' model='qemu-xhci'/><input type='keyboard' bus='usb'/><input type='tablet' bus='usb'/>"
    : '';
  return `<controller type='scsi' index='0' model='virtio-scsi'/>${usb}`;
}

/**
 * libvirt domain XML for a spec. `type` is the domain type (`kvm`, `qemu`, or `test` for the test
 * driver), `arch` the libvirt architecture to define (the spec's, except on the test driver, whose
 * x86_64 stand-in is `i686`). What is x86-only (APIC, SMM, a VGA card) follows the spec's arch.
 */
export function domainXml(spec: DomainSpec, type: string, arch: string = spec.arch): string {
  if (spec.disks.length > 26 * 10) throw new TenksError('INVALID_SPEC', 'too many disks', { field: 'node.volumes' });
  const x86 = spec.arch === 'x86_64';
  const sb = spec.bootMode === 'uefi' && spec.secureBoot ? 'yes' : 'no';
  const firmware =
    spec.bootMode === 'uefi'
      ? `<os firmware='efi'><firmware><feature enabled='${sb}' name='secure-boot'/><feature enabled='${sb}' name='enrolled-keys'/></firmware>`
      : '<os>';
  const boot = spec.bootOrder.map((b) => `<boot dev='${BOOT_DEV[b]}'/>`).join('');
  const cpu = spec.cpuMode === null ? '' : `<cpu mode='${e(spec.cpuMode)}'/>`;
  // x86 Secure Boot firmware requires SMM (and libvirt only offers it on q35); AAVMF needs none.
  const features = x86
    ? `<features><acpi/><apic/>${sb === 'yes' ? "<smm state='on'/>" : ''}</features>`
    : '<features><acpi/></features>';
  const console =
    spec.consoleLogPath === null
      ? "<serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/></console>"
      : `<serial type='pty'><log file='${e(spec.consoleLogPath)}' append='on'/><target port='0'/></serial>` +
        "<console type='pty'><target type='serial' port='0'/></console>";
  // virt has no VGA: a virtio GPU, which AAVMF and Linux both drive.
  const vnc = spec.vnc
    ? "<graphics type='vnc' autoport='yes' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics>" +
      `<video><model type='${x86 ? 'vga' : 'virtio'}'/></video>`
    : '';
  return (
    `<domain type='${e(type)}'>` +
    `<name>${e(spec.name)}</name><uuid>${e(spec.uuid)}</uuid>` +
    `<metadata>${metadataXml(spec.metadata, METADATA_KEY)}</metadata>` +
    `<memory unit='MiB'>${spec.memoryMb}</memory><vcpu>${spec.vcpus}</vcpu>` +
    `${firmware}<type arch='${e(arch)}' machine='${e(spec.machine)}'>hvm</type>${boot}</os>` +
    features +
    cpu +
    clockXml(spec.clockOffset) +
    '<on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>' +
    '<devices>' +
    (spec.emulator === null ? '' : `<emulator>${e(spec.emulator)}</emulator>`) +
    spec.disks.map(diskXml).join('') +
    armDevicesXml(spec) +
    cdromXml(spec.cdrom, spec.machine, spec.arch) +
    spec.nics.map((n) => nicXml(n, spec.trustGuestRxFilters)).join('') +
    console +
    vnc +
    "<memballoon model='none'/>" +
    '</devices></domain>'
  );
}
