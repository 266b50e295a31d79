import { access, constants } from 'node:fs/promises';
import { invalidSpec, type FieldError } from '../../common/errors.js';
import { formatSize } from '../../common/sizes.js';
import type { CallOptions } from './hypervisor.js';
import type { NodeHost } from './node-host.js';
import { archOf } from './node-spec.js';
import type { NodeSpec } from './types.js';

/** The architecture a `qemu-system-<arch>` emulator path runs, or null for other names. */
function emulatorArch(path: string): string | null {
  return /(?:^|\/)qemu-system-([a-z0-9_]+)$/.exec(path)?.[1] ?? null;
}

/**
 * Checks everything an ensure of `spec` needs of this host before anything is touched: the
 * architecture, firmware and engine, the emulator, the volumes' images and pool volumes, and the
 * physnets of its NICs. Throws INVALID_SPEC listing every problem.
 */
export async function preflight(host: NodeHost, spec: NodeSpec, o?: CallOptions): Promise<void> {
  const errors: FieldError[] = [];
  const facts = host.facts;
  const arch = archOf(spec);
  if (!facts.arches.includes(arch))
    errors.push({
      field: 'node.arch',
      message:
        `host '${facts.hostname}' does not run ${arch} guests (it runs ${facts.arches.join(', ') || 'none'})` +
        (arch === 'aarch64' ? '; install qemu-system-arm there' : ''),
    });
  else if (spec.bootMode === 'uefi' && !facts.uefiArches.includes(arch))
    errors.push({
      field: 'node.boot_mode',
      message:
        arch === 'x86_64'
          ? 'UEFI firmware (OVMF) is not available on this host; install ovmf or use bios'
          : `UEFI firmware (AAVMF) for ${arch} is not available on host '${facts.hostname}'; install qemu-efi-aarch64`,
    });
  if (spec.engine === 'kvm' && !facts.kvmArches.includes(arch))
    errors.push({
      field: 'node.engine',
      message:
        arch === 'x86_64'
          ? `engine kvm was asked for, but host '${facts.hostname}' runs QEMU without KVM (TCG)`
          : `engine kvm was asked for, but host '${facts.hostname}' runs ${arch} guests under QEMU without KVM (TCG)`,
    });
  if (spec.cpuMode === 'host-passthrough' && host.engineOf(spec) !== 'kvm')
    errors.push({
      field: 'node.cpu_mode',
      message:
        spec.engine === 'qemu'
          ? 'host-passthrough needs KVM, and the node is forced to QEMU without KVM (TCG, libvirt_vm_engine: qemu)'
          : 'host-passthrough needs KVM, and this host runs QEMU without KVM (TCG)',
    });
  if (spec.emulator !== undefined) errors.push(...(await emulatorErrors(host, spec)));
  errors.push(...(await volumeErrors(host, spec, o)));
  if (spec.nics.length > 0) {
    if (!host.wiring)
      errors.push({ field: 'node.nics', message: 'this host has no physical networks set up (SetupHost first)' });
    else errors.push(...(await host.wiring.check(spec)));
  }
  if (errors.length > 0) throw invalidSpec(errors);
}

/** Problems of the emulator a spec names: not renderable, not absolute, another architecture's, not here. */
async function emulatorErrors(host: NodeHost, spec: NodeSpec): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  const arch = archOf(spec);
  let path: string | null = null;
  try {
    path = host.emulatorOf(spec);
  } catch (e) {
    errors.push({ field: 'node.emulator', message: (e as Error).message });
  }
  const runs = path === null ? null : emulatorArch(path);
  if (path !== null && !path.startsWith('/'))
    errors.push({ field: 'node.emulator', message: `'${path}' (rendered on this host) is not an absolute path` });
  else if (runs !== null && runs !== arch)
    errors.push({
      field: 'node.emulator',
      message: `emulator '${path}' runs ${runs} guests, and the node is ${arch}`,
    });
  else if (path !== null && !host.testDriver)
    await access(path, constants.X_OK).catch(() =>
      errors.push({
        field: 'node.emulator',
        message: `emulator '${path}' is not an executable file on host '${host.facts.hostname}'`,
      }),
    );
  return errors;
}

/** Problems of a spec's volumes: missing or too large images, missing `existing` volumes and files. */
async function volumeErrors(host: NodeHost, spec: NodeSpec, o?: CallOptions): Promise<FieldError[]> {
  const storage = host.storage;
  const errors: FieldError[] = [];
  await Promise.all(
    spec.volumes.map(async (v, i) => {
      const field = `node.volumes[${i}]`;
      if (v.source.kind === 'image' || v.source.kind === 'backing') {
        const key = v.source.kind === 'image' ? 'image' : 'backing_image';
        try {
          const img = await storage.inspectImage(v.source.path, o);
          if (!img)
            errors.push({
              field: `${field}.${key}`,
              message: `image '${v.source.path}' does not exist on this host`,
            });
          else if (v.capacityBytes !== 0 && v.capacityBytes < img.virtualBytes)
            errors.push({
              field: `${field}.capacity`,
              message: `capacity ${formatSize(v.capacityBytes)} is smaller than image '${v.source.path}' (${formatSize(img.virtualBytes)})`,
            });
        } catch (e) {
          errors.push({ field: `${field}.${key}`, message: (e as Error).message });
        }
      } else if (v.source.kind === 'existing') {
        if (!v.source.ref.startsWith('/')) {
          const vol = await storage.getVolume(v.source.ref, o);
          if (!vol)
            errors.push({
              field: `${field}.existing`,
              message: `volume '${v.source.ref}' does not exist in pool '${storage.poolName}'`,
            });
        } else if (!(await storage.inspectImage(v.source.ref, o).catch(() => null))) {
          errors.push({ field: `${field}.existing`, message: `'${v.source.ref}' does not exist on this host` });
        }
      }
    }),
  );
  return errors;
}
