/**
 * What a libvirt connection offers nodes: the guest architectures it runs, the engine (KVM only
 * where a KVM guest really runs), and which architectures have UEFI and Secure Boot firmware.
 * Read once, when the adapter connects.
 */
import { stat } from 'node:fs/promises';
import { TenksError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { Connection } from '../native/index.js';
import { readFirmwareDescriptors, secureBootArchesOf } from './firmware-descriptors.js';
import { kvmWorks, KVM_PROBE_CACHE, probeKey } from './kvm-probe.js';
import { offersUefi } from './libvirt-xml.js';
import { lv } from './libvirt-errors.js';
import type { Engine } from './types.js';
import { parseXml } from './xml.js';

/** What the host's capabilities say about virtualisation. */
export interface Capabilities {
  /** Domain type of x86_64 guests (`kvm`, `qemu`, or `test` on the test driver). */
  domainType: string;
  /** Engine of x86_64 guests; every other architecture runs under TCG unless in {@link kvmArches}. */
  engine: Engine;
  /** libvirt architecture x86_64 nodes are defined with (`x86_64`; the test driver only offers `i686`). */
  arch: string;
  /**
   * Guest architectures libvirt runs (an `hvm` guest whose emulator is installed), sorted. On the
   * test driver, `['x86_64']`: its `i686` guest stands in for the x86_64 nodes it defines, and it
   * offers no other architecture.
   */
  arches: string[];
  /** Those of {@link arches} libvirt offers KVM for (before the engine is chosen). */
  kvmArches: string[];
}

/** The architectures with UEFI firmware libvirt can select, and those whose firmware has Secure Boot. */
export interface FirmwareArches {
  uefiArches: string[];
  secureBootArches: string[];
}

/** What {@link readCapabilities} needs of the adapter's options. */
export interface CapabilityOptions {
  /** libvirt URI (`qemu:///system`, `qemu:///embed?root=DIR`, `test:///default`, remote URIs). */
  uri: string;
  /** `auto` (default): KVM when libvirt offers it and a probe guest runs under it; else as named. */
  engine?: 'auto' | 'kvm' | 'qemu';
  /** Where the KVM probe's answer is kept (default {@link KVM_PROBE_CACHE}; null: not kept). */
  kvmProbeCache?: string | null;
  /** Guest architectures a test driver connection reports instead of its own (null: its own). */
  testArches?: readonly string[] | null;
  log: Logger;
}

/** Machine type whose UEFI firmware is probed, per architecture tenks makes nodes of. */
const UEFI_MACHINE: Readonly<Record<string, string>> = { x86_64: 'q35', aarch64: 'virt' };

/**
 * Reads the guest architectures, domain type and engine from `virConnectGetCapabilities` XML:
 * kvm only when libvirt offers it for x86_64. Refuses a host with neither x86_64 nor aarch64 guests.
 */
export function parseCapabilities(xml: string): Capabilities {
  const doc = parseXml(xml, ['guest', 'domain']) as {
    capabilities?: {
      guest?: { os_type?: string; arch?: { '@name'?: string; domain?: { '@type'?: string }[] } }[];
    };
  };
  const arches = new Set<string>();
  const kvmArches = new Set<string>();
  let testArch: string | null = null;
  for (const g of doc.capabilities?.guest ?? []) {
    const name = g.arch?.['@name'];
    if (g.os_type !== 'hvm' || name === undefined) continue;
    for (const d of g.arch?.domain ?? []) {
      const type = d['@type'];
      if (type === 'qemu' || type === 'kvm') arches.add(name);
      if (type === 'kvm') kvmArches.add(name);
      if (type === 'test') testArch ??= name;
    }
  }
  const sorted = (set: Set<string>): string[] => [...set].sort();
  if (arches.has('x86_64') || arches.has('aarch64')) {
    const kvm = kvmArches.has('x86_64');
    return {
      domainType: kvm ? 'kvm' : 'qemu',
      engine: kvm ? 'kvm' : 'qemu',
      arch: 'x86_64',
      arches: sorted(arches),
      kvmArches: sorted(kvmArches),
    };
  }
  if (testArch !== null)
    return { domainType: 'test', engine: 'qemu', arch: testArch, arches: ['x86_64'], kvmArches: [] };
  throw new TenksError(
    'UNSUPPORTED',
    'libvirt offers no x86_64 or aarch64 guest (install qemu-system-x86, or qemu-system-arm for aarch64)',
  );
}

/**
 * The capabilities of `conn` with the engine chosen (see {@link chooseEngine}) and the firmware
 * each architecture has.
 */
export async function readCapabilities(
  conn: Connection,
  o: CapabilityOptions,
): Promise<{ caps: Capabilities; firmware: FirmwareArches }> {
  let caps = await chooseEngine(conn, parseCapabilities(await lv(conn.capabilities(), 'reading host capabilities')), o);
  const arches = o.testArches ?? null;
  if (arches !== null && caps.domainType === 'test') caps = { ...caps, arches: [...arches] };
  return { caps, firmware: await probeFirmware(conn, caps, o.uri) };
}

/** Keeps `kvm` only when it is asked for, or (auto) when a KVM guest really runs here. */
async function chooseEngine(conn: Connection, caps: Capabilities, o: CapabilityOptions): Promise<Capabilities> {
  const engine = o.engine ?? 'auto';
  const tcg: Capabilities = { ...caps, domainType: 'qemu', engine: 'qemu' };
  if (caps.domainType !== 'kvm') {
    if (engine === 'kvm')
      throw new TenksError('UNSUPPORTED', `engine 'kvm' was asked for, but libvirt at '${o.uri}' offers no KVM`, {
        field: 'engine',
        hint: 'check /dev/kvm and its permissions, or set engine: auto',
      });
    return caps;
  }
  if (engine === 'kvm') return caps;
  if (engine === 'qemu') return tcg;
  const [hv, lib, kvmStat] = await Promise.all([
    conn.hypervisorVersion().catch(() => 0),
    conn.libVersion().catch(() => 0),
    stat('/dev/kvm').catch(() => null),
  ]);
  const key = probeKey({ hypervisorVersion: hv, libvirtVersion: lib, kvmCtimeMs: kvmStat?.ctimeMs ?? 0 });
  const works = await kvmWorks(conn, key, {
    cacheFile: o.kvmProbeCache === undefined ? KVM_PROBE_CACHE : o.kvmProbeCache,
    log: o.log,
  });
  if (!works) o.log.warn('libvirt offers KVM but a KVM guest does not run here: using QEMU (TCG)', { uri: o.uri });
  return works ? caps : tcg;
}

/** Whether `uri` reaches a libvirt on this machine, whose QEMU firmware descriptors the agent can read. */
function localQemu(uri: string): boolean {
  return /^qemu:\/\/\/(system|session|embed)\b/.test(uri);
}

/**
 * The architectures with UEFI firmware (domain capabilities of each architecture tenks makes
 * nodes of), and those whose firmware has Secure Boot (the firmware descriptors, on a local
 * libvirt; on a remote one every UEFI architecture, and libvirt says at start when it has none).
 * The test driver has no firmware and pretends every architecture it runs has both.
 */
async function probeFirmware(conn: Connection, caps: Capabilities, uri: string): Promise<FirmwareArches> {
  if (caps.domainType === 'test') return { uefiArches: [...caps.arches], secureBootArches: [...caps.arches] };
  const probed = await Promise.all(
    caps.arches.map(async (arch) => {
      const machine = UEFI_MACHINE[arch];
      if (machine === undefined) return null;
      const virtType = caps.engine === 'kvm' && caps.kvmArches.includes(arch) ? 'kvm' : 'qemu';
      const uefi = await conn
        .domainCapabilities({ arch, machine, virtType })
        .then(offersUefi)
        .catch(() => false);
      return uefi ? arch : null;
    }),
  );
  const uefiArches = probed.filter((a): a is string => a !== null);
  if (!localQemu(uri)) return { uefiArches, secureBootArches: [...uefiArches] };
  const secure = new Set(secureBootArchesOf(await readFirmwareDescriptors()));
  return { uefiArches, secureBootArches: uefiArches.filter((a) => secure.has(a)) };
}
