import { createHash } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';
import { NODE_PLACEHOLDER } from './rules.js';
import type { ClusterSpec, DesiredNode, DesiredVolume, LibvirtVmSettings, VolumeSource } from './types.js';

/** The fields that define a node's VM, hashed: see {@link DesiredNode.fingerprint}. */
export function nodeFingerprint(n: Omit<DesiredNode, 'fingerprint'>): string {
  const vm = {
    memoryMb: n.memoryMb,
    vcpus: n.vcpus,
    volumes: n.volumes,
    physnets: n.physnets,
    bootMode: n.bootMode,
    consoleLog: n.consoleLog,
    vnc: n.vnc,
    machine: n.machine,
    cpuMode: n.cpuMode,
    // Only an architecture other than x86_64, so nodes made before architectures keep their fingerprint.
    ...(n.arch === 'x86_64' ? {} : { arch: n.arch }),
    // Only settings away from their defaults, so nodes made before they existed keep their fingerprint.
    ...libvirtFingerprint(n.libvirt),
  };
  return createHash('sha256').update(canonicalJson(vm)).digest('hex').slice(0, 16);
}

const LIBVIRT_DEFAULTS: LibvirtVmSettings = {
  engine: null,
  emulator: null,
  consoleLogDir: null,
  logOwner: null,
  trustGuestRxFilters: false,
  clockOffset: null,
};

function libvirtFingerprint(l: LibvirtVmSettings): Partial<LibvirtVmSettings> {
  return Object.fromEntries(Object.entries(l).filter(([k, v]) => v !== LIBVIRT_DEFAULTS[k as keyof LibvirtVmSettings]));
}

function withNode(source: VolumeSource, node: string): VolumeSource {
  return source.kind === 'existing' ? { kind: 'existing', ref: source.ref.split(NODE_PLACEHOLDER).join(node) } : source;
}

/**
 * Every node the spec asks for, in a fixed order: specs in order, each spec's nodes by index.
 *
 * Names follow upstream Tenks: `<node_name_prefix><index>`, where specs with the same prefix share
 * one index sequence (specs[0] with count 2 and specs[1] with count 1, both prefix `tk`, make tk0,
 * tk1 and tk2). Unlike upstream, which fills gaps from its state file, the names are a function of
 * the spec alone, so the same spec always means the same nodes. Lowering a count therefore removes
 * that spec's highest-numbered nodes, and, when a later spec shares the prefix, renumbers the later
 * spec's nodes (compileClusterSpec warns about shared prefixes).
 *
 * Volumes are named `<vol_name_prefix><index>` (or their explicit name) within the node; the agent
 * stores them as `<node>-<name>`.
 */
export function expandNodes(spec: ClusterSpec): DesiredNode[] {
  const out: DesiredNode[] = [];
  const next = new Map<string, number>();
  // Upstream: console logs in libvirt_vm_default_console_log_dir, which Tenks sets to <log_directory>/libvirt.
  const consoleLogDir =
    spec.libvirtVm.consoleLogDir ??
    (spec.logDirectory === null ? null : `${spec.logDirectory.replace(/\/+$/, '')}/libvirt`);
  for (const s of spec.specs) {
    const type = spec.nodeTypes[s.type];
    if (!type) continue;
    const first = next.get(s.nodeNamePrefix) ?? 0;
    next.set(s.nodeNamePrefix, first + s.count);
    // The VM is the same for every node of the spec unless a volume names the node.
    const libvirt: LibvirtVmSettings = {
      ...spec.libvirtVm,
      consoleLogDir,
      clockOffset: type.clockOffset ?? spec.libvirtVm.clockOffset,
    };
    const perNode = type.volumes.some((v) => v.source.kind === 'existing' && v.source.ref.includes(NODE_PLACEHOLDER));
    let shared: string | null = null;
    for (let index = first; index < first + s.count; index++) {
      const name = `${s.nodeNamePrefix}${index}`;
      const volumes: DesiredVolume[] = type.volumes.map((v, i) => ({
        name: v.name ?? `${s.volNamePrefix}${i}`,
        capacityBytes: v.capacityBytes,
        format: v.format,
        source: withNode(v.source, name),
      }));
      const node: Omit<DesiredNode, 'fingerprint'> = {
        cluster: spec.name,
        name,
        index,
        specIndex: s.index,
        nodeType: s.type,
        memoryMb: type.memoryMb,
        vcpus: type.vcpus,
        volumes,
        physnets: type.physicalNetworks,
        bootMode: s.bootMode,
        arch: type.arch ?? spec.defaultArch,
        consoleLog: type.consoleLog,
        vnc: type.vnc,
        machine: type.machine,
        cpuMode: type.cpuMode,
        libvirt,
        driver: s.ironicDriver,
        ironicConfig: s.ironicConfig,
      };
      const fingerprint = perNode ? nodeFingerprint(node) : (shared ??= nodeFingerprint(node));
      out.push({ ...node, fingerprint });
    }
  }
  return out;
}
