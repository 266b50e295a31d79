import { CPU_MODE_NONE } from '../../common/spec/rules.js';
import type { CallOptions, DiskSpec, DomainSpec, NodeMetadata } from './hypervisor.js';
import type { NodeHost } from './node-host.js';
import { archOf, machineOf } from './node-spec.js';
import { volumeName } from './node-volumes.js';
import type { BootDevice, NodeSpec } from './types.js';

/** Boot order with `first` first, then the other devices a node boots from (network, disk). */
function bootOrder(first: BootDevice): BootDevice[] {
  const rest: BootDevice[] = ['network', 'disk'].filter((d) => d !== first) as BootDevice[];
  return [first, ...rest];
}

/** The disks of a node: its pool volumes, `existing` pool volumes, files and block devices. */
function disks(host: NodeHost, spec: NodeSpec): DiskSpec[] {
  const storage = host.storage;
  return spec.volumes.map((v): DiskSpec => {
    if (v.source.kind === 'existing') {
      const ref = v.source.ref;
      if (!ref.startsWith('/')) return { source: storage.diskSource(ref), format: storage.diskFormat(v.format) };
      return { source: { type: ref.startsWith('/dev/') ? 'block' : 'file', path: ref }, format: v.format };
    }
    return {
      source: storage.diskSource(volumeName(spec.name, v.name)),
      format: storage.diskFormat(v.format),
    };
  });
}

/** The domain a node is on this host: its spec, with the firmware, boot device and media of its metadata. */
export function domainSpecOf(
  host: NodeHost,
  spec: NodeSpec,
  metadata: NodeMetadata,
  nics: DomainSpec['nics'],
): DomainSpec {
  const engine = host.engineOf(spec);
  const arch = archOf(spec);
  const bootMode = metadata.firmware.bootMode ?? spec.bootMode;
  const media = metadata.media;
  // Under TCG QEMU's default aarch64 CPU (cortex-a15) is 32-bit: 'maximum' runs 64-bit firmware.
  const defaultCpu = engine === 'kvm' ? 'host-passthrough' : arch === 'aarch64' ? 'maximum' : null;
  return {
    name: spec.name,
    uuid: metadata.uuid,
    memoryMb: spec.memoryMb,
    vcpus: spec.vcpus,
    arch,
    machine: machineOf(spec),
    // 'none' is upstream's empty cpu_mode: no <cpu> element.
    cpuMode: spec.cpuMode === CPU_MODE_NONE ? null : (spec.cpuMode ?? defaultCpu),
    bootMode,
    secureBoot: bootMode === 'uefi' && metadata.firmware.secureBoot,
    engine,
    disks: disks(host, spec),
    cdrom: media?.inserted ? host.storage.diskSource(media.volume) : null,
    nics,
    bootOrder: bootOrder(metadata.bootDevice),
    consoleLogPath: spec.consoleLog ? host.consoleLogPath(spec) : null,
    vnc: spec.vnc,
    emulator: host.testDriver ? null : host.emulatorOf(spec),
    clockOffset: spec.clockOffset ?? 'utc',
    trustGuestRxFilters: spec.trustGuestRxFilters === true,
    metadata,
  };
}

/** Defines an existing node's domain again with new metadata (firmware, boot device, media), NICs re-attached. */
export async function redefine(host: NodeHost, spec: NodeSpec, metadata: NodeMetadata, o: CallOptions): Promise<void> {
  const nics = host.wiring && spec.nics.length > 0 ? await host.wiring.attach(spec, o) : [];
  await host.hypervisor.defineDomain(domainSpecOf(host, spec, metadata, nics), o);
}
