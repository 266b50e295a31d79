/** The schema of a node type and its volumes (`node_types.<name>`). */
import { z } from 'zod';
import { CPU_MODES, MACHINE_PATTERN, VOLUME_NAME_PATTERN } from './rules.js';
import { arch, bootMode, clockOffset, ironicDriver, name, size } from './schema-fields.js';

/** A volume of a node type. */
export const volumeSchema = z
  .looseObject({
    capacity: size
      .optional()
      .describe('Volume size (required except for `existing` volumes), e.g. 10GiB. Upstream: capacity.'),
    format: z.enum(['qcow2', 'raw']).optional().describe('Disk format: qcow2 (default) or raw.'),
    image: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Absolute path of an image file on each hypervisor, copied into the volume; it must lie in the agent's allowed_image_dirs.",
      ),
    backing_image: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Copy-on-write backing image: an absolute path (in the agent's allowed_image_dirs), or (as upstream) the name " +
          'of a volume in the libvirt pool (libvirt_pool_path + name; dir pools only).',
      ),
    existing: z
      .string()
      .min(1)
      .optional()
      .describe(
        "tenks extension: use an existing pool volume (name) or file/block device (absolute path, in the agent's " +
          'allowed_image_dirs); never deleted. ' +
          "'{node}' is replaced by the node name; without it the node type may make at most one node.",
      ),
    name: z
      .string()
      .regex(VOLUME_NAME_PATTERN, "not a usable volume name: use 1-32 letters, digits, '_', '-'")
      .optional()
      .describe('tenks extension: the volume name within the node. Default <vol_name_prefix><index>.'),
  })
  .describe('A volume. Give at most one of image, backing_image and existing.');

/** A node type. */
export const nodeTypeSchema = z
  .looseObject({
    memory_mb: z
      .number()
      .int('must be a whole number of MiB')
      .min(64, 'must be at least 64 MiB (OVMF and iPXE need it)')
      .max(16 * 1024 * 1024, 'must be at most 16 TiB')
      .describe('RAM in MiB (required).'),
    vcpus: z
      .number()
      .int('must be a whole number')
      .min(1, 'must be 1-512')
      .max(512, 'must be 1-512')
      .describe('Virtual CPUs (required).'),
    volumes: z.array(volumeSchema).nullish().describe('Volumes, in disk order. Default (and empty) [].'),
    physical_networks: z
      .array(name('physnet name'))
      .nullish()
      .describe('One NIC per entry, on that physical network (keys of physnet_mappings). Default (and empty) [].'),
    console_log_enabled: z
      .boolean()
      .nullish()
      .describe(
        'Write the serial console to <libvirt_vm_default_console_log_dir>/<node>-console.log ' +
          '(default dir <log_directory>/libvirt). Default (and empty) false.',
      ),
    boot_mode: bootMode
      .optional()
      .describe('tenks extension: uefi or bios. Default: the spec capabilities, else default_boot_mode.'),
    boot_firmware: z
      .preprocess(
        (v) => (typeof v === 'string' ? v.toLowerCase() : v),
        z.union([z.enum(['efi', 'bios']), z.literal('')], { error: "expected 'efi' or 'bios'" }),
      )
      .nullish()
      .describe('libvirt-vm pass-through: efi (= boot_mode uefi) or bios; empty: from the boot mode.'),
    ironic_driver: ironicDriver
      .nullish()
      .describe('Ironic driver of nodes of this type. Default (and empty) default_ironic_driver.'),
    machine: z
      .union([z.string().regex(MACHINE_PATTERN, 'not a QEMU machine type'), z.literal('')])
      .nullish()
      .describe(
        'libvirt-vm pass-through: QEMU machine type. Default (and empty): q35 for UEFI, pc for BIOS, virt for aarch64.',
      ),
    cpu_mode: z
      .union([z.enum(CPU_MODES), z.literal('')], { error: `expected one of ${CPU_MODES.join(', ')}, or empty` })
      .nullish()
      .describe(
        'libvirt-vm pass-through: libvirt CPU mode. Given empty (`cpu_mode:`), as upstream: no <cpu> element, ' +
          "QEMU's default CPU. Not given: host-passthrough under KVM, maximum for aarch64 under TCG, else none.",
      ),
    enable_vnc: z
      .boolean()
      .nullish()
      .describe('libvirt-vm pass-through: a VNC console on loopback. Default (and empty) false.'),
    clock_offset: clockOffset
      .nullish()
      .describe('libvirt-vm pass-through: the guest clock of nodes of this type; overrides libvirt_vm_clock_offset.'),
    arch: arch
      .nullish()
      .describe(
        'Guest architecture of nodes of this type: x86_64 or aarch64 (UEFI only, whatever default_boot_mode says; ' +
          'virt machine; TCG on x86 hosts); ' +
          'overrides libvirt_vm_arch. Default (and empty): libvirt_vm_arch.',
      ),
  })
  .describe('A node type: the hardware of its nodes.');
