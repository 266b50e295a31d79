import { z } from 'zod';
import { parseSize } from '../sizes.js';
import {
  CLUSTER_NAME_PATTERN,
  CPU_MODES,
  GUEST_ARCHES,
  MACHINE_PATTERN,
  NAME_PATTERN,
  NODE_PREFIX_PATTERN,
  TRAIT_PATTERN,
  VOLUME_NAME_PATTERN,
  VOLUME_PREFIX_PATTERN,
} from './rules.js';

/*
 * The cluster spec schema: the only description of what a user may write. Field descriptions here
 * are the documentation (they reach editors through deploy/schema/cluster.schema.json); defaults are
 * applied here. Cross-field rules (a spec's type exists, physnets are mapped, names are unique) live
 * in compile.ts, which also turns the parsed snake_case input into the camelCase ClusterSpec.
 *
 * Objects that upstream Tenks passes through to other Ansible roles (the top level, node types and
 * their volumes) are loose: keys tenks does not know are warnings, not errors (see unknown-keys.ts).
 * Everything else is strict.
 */

const name = (what: string) =>
  z
    .string()
    .regex(
      NAME_PATTERN,
      `not a usable ${what}: use 1-63 letters, digits, '_', '.', '-', starting with a letter or digit`,
    );

/** A size in Tenks' syntax (`10GiB`, `2GB`, `512MiB`, bytes). */
const size = z
  .union([z.string(), z.number()], { error: 'expected a size such as 10GiB, 512MiB, 2GB or a number of bytes' })
  .superRefine((value, ctx) => {
    const r = parseSize(value);
    if (!r.ok) ctx.addIssue({ code: 'custom', message: r.reason });
  })
  .describe('Size: bytes, or a number with a unit (B, KiB, MiB, GiB, TiB binary; KB, MB, GB, TB decimal).');

const trait = z
  .string()
  .regex(TRAIT_PATTERN, 'not an Ironic trait: use upper-case letters, digits and _ (CUSTOM_... for your own)');

/** Values of Ironic properties and flavor extra specs. */
const scalar = z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string, number or boolean' });

const ironicDriver = z.enum(['ipmi', 'redfish']);
const bootMode = z.enum(['uefi', 'bios']);
/** A guest architecture; empty means the default, as upstream's `default()`. */
const arch = z.union([z.enum(GUEST_ARCHES), z.literal('')], {
  error: `expected ${GUEST_ARCHES.join(' or ')} (tenks makes no other guest architecture), or empty`,
});

/** `physnet: device` or `physnet: device:VLAN`. */
const physnetMappings = z
  .record(name('physnet name'), z.string({ error: 'expected a device name, or device:VLAN' }))
  .describe(
    'Physical network name -> source device on the hypervisor: an existing interface, Linux bridge or OVS bridge. ' +
      'tenks extension: `device:VLAN` (VLAN 1-4094) lets several physnets share one device.',
  );

/** A string of 1 to `max` bytes of UTF-8 (IPMI limits are in bytes, not characters). */
const credential = (max: number, what: string) =>
  z
    .string()
    .min(1, 'must not be empty')
    .refine((v) => Buffer.byteLength(v, 'utf8') <= max, `${what} are at most ${max} bytes`);

const port = z.number().int().min(1, 'ports are 1-65535').max(65535, 'ports are 1-65535');

/** The Ironic hardware interfaces `ironic_config` may set (`<name>_interface`). */
export const IRONIC_INTERFACES = [
  'bios',
  'boot',
  'console',
  'deploy',
  'firmware',
  'inspect',
  'management',
  'network',
  'power',
  'raid',
  'rescue',
  'storage',
  'vendor',
] as const;

const interfaceFields = Object.fromEntries(
  IRONIC_INTERFACES.map((i) => [
    `${i}_interface`,
    z.string().min(1).nullish().describe(`Ironic ${i} interface; empty: Ironic's default.`),
  ]),
) as Record<`${(typeof IRONIC_INTERFACES)[number]}_interface`, z.ZodOptional<z.ZodNullable<z.ZodString>>>;

/** A libvirt guest clock: utc, localtime, variable, or a time zone name (upstream: false = the default). */
const clockOffset = z
  .union([
    z.literal(false),
    z.literal(''),
    z
      .string()
      .regex(
        /^(utc|localtime|variable|[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*)$/,
        'expected utc, localtime, variable or a time zone name such as Europe/London',
      ),
  ])
  .describe('utc, localtime, variable (starts at UTC, the guest may change it) or a time zone name.');

/** `ironic_config` of a spec. */
export const ironicConfigSchema = z
  .strictObject({
    resource_class: z
      .string()
      .min(1, 'must not be empty')
      .max(80, 'must be at most 80 characters')
      .describe('Ironic resource class of the nodes (required).'),
    traits: z.array(trait).nullish().describe('Traits added to each Ironic node. Default (and empty) [].'),
    properties: z
      .record(z.string(), scalar)
      .nullish()
      .describe(
        'Ironic node properties; override the defaults cpus, memory_mb, local_gb and capabilities. ' +
          '`capabilities: "boot_mode:bios"` also sets the VM firmware; `cpu_arch` defaults to the node architecture. ' +
          'Default (and empty) {}.',
      ),
    ...interfaceFields,
    conductor_group: z.string().nullish().describe('Ironic conductor group.'),
    shard: z.string().nullish().describe('Ironic shard.'),
  })
  .describe('Enrol the nodes of this spec in Ironic with this configuration; without it enrolment is skipped.');

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

/** One entry of `specs`: how many nodes of which type. */
export const nodeSetSchema = z
  .strictObject({
    type: z.string().min(1).describe('Node type (required).'),
    count: z
      .number()
      .int('must be a whole number')
      .min(0, 'must be 0 or more')
      .describe('Number of nodes (required). Lowering it removes the highest-numbered nodes.'),
    node_name_prefix: z
      .string()
      .regex(NODE_PREFIX_PATTERN, "not a usable node name prefix: use letters, digits, '_', '.', '-'")
      .optional()
      .describe('Node names are <prefix><index>; specs with the same prefix share the index sequence.'),
    vol_name_prefix: z
      .string()
      .regex(VOLUME_PREFIX_PATTERN, "not a usable volume name prefix: use letters, digits, '_', '-'")
      .optional()
      .describe('Volume names are <prefix><index> within the node. Default: the global vol_name_prefix.'),
    ironic_config: ironicConfigSchema.nullish(),
    ironic_driver: ironicDriver
      .optional()
      .describe('tenks extension: Ironic driver of these nodes; overrides the node type and default_ironic_driver.'),
  })
  .describe('Nodes to create.');

/** One entry of `nova_flavors`. */
export const novaFlavorSchema = z
  .strictObject({
    resource_class: z.string().min(1).describe('Resource class the flavor asks for (required).'),
    node_type: z.string().min(1).describe('Node type (required).'),
    name: z.string().min(1).max(255).nullish().describe('Flavor name. Default (and empty): resource_class.'),
    required_traits: z.array(trait).nullish().describe('Traits the flavor requires. Default (and empty) [].'),
    forbidden_traits: z.array(trait).nullish().describe('Traits the flavor forbids. Default (and empty) [].'),
    custom_specs: z
      .record(z.string(), scalar)
      .nullish()
      .describe('Extra specs added to the flavor. Default (and empty) {}.'),
  })
  .describe('A Nova flavor matching nodes of a node type.');

/** Per-hypervisor settings (tenks extension; upstream keeps these in host_vars). */
export const hypervisorSchema = z
  .strictObject({
    physnet_mappings: physnetMappings
      .optional()
      .describe('Replaces the global physnet_mappings on this host (as upstream host_vars do).'),
    ipmi_address: z.string().min(1).optional().describe('Replaces ipmi_address for nodes on this host.'),
    ipmi_port_range_start: port.optional().describe('Replaces ipmi_port_range_start on this host.'),
    ipmi_port_range_end: port.optional().describe('Replaces ipmi_port_range_end on this host.'),
    redfish_address: z.string().min(1).optional().describe('Replaces redfish_address for nodes on this host.'),
  })
  .describe('Settings of one hypervisor (key: its agent id).');

const weight = (what: string, dflt: number) =>
  z
    .number()
    .min(0, 'weights are >= 0')
    .default(dflt)
    .describe(`Weight of free ${what} in spread/pack scores. Default ${dflt}.`);

const ratio = (what: string, dflt: number) =>
  z
    .number()
    .positive('allocation ratios are > 0')
    .max(1000)
    .default(dflt)
    .describe(`Allocation ratio of ${what} (as Nova's). Default ${dflt}.`);

/** `scheduler`: where new nodes go. */
export const schedulerSchema = z
  .strictObject({
    strategy: z
      .enum(['spread', 'pack', 'round_robin', 'random'])
      .default('spread')
      .describe(
        'spread: the host with most weighted free capacity; pack: least that still fits; ' +
          'round_robin: hosts in turn; random: seeded. Default spread.',
      ),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .default(0)
      .describe('Seed of the random strategy. Default 0.'),
    weights: z
      .strictObject({ ram: weight('RAM', 1), vcpus: weight('vCPUs', 1), disk: weight('disk', 1) })
      .prefault({})
      .describe('Weights of the free-capacity fractions combined by spread and pack.'),
    cpu_allocation_ratio: ratio('vCPUs to host CPUs', 4),
    ram_allocation_ratio: ratio('RAM', 1),
    disk_allocation_ratio: ratio('pool capacity', 1),
    reserved_host_memory_mb: z
      .number()
      .int('must be a whole number of MiB')
      .min(0, 'must be >= 0')
      .default(512)
      .describe('RAM kept for the host itself, in MiB. Default 512.'),
  })
  .describe('tenks extension: capacity-aware scheduling of new nodes. Placed nodes never move.');

/** The whole cluster spec. */
export const clusterSpecSchema = z
  .looseObject({
    name: z
      .string()
      .regex(CLUSTER_NAME_PATTERN, "not a usable cluster name: use 1-63 lower-case letters, digits and inner '-'")
      .nullish()
      .describe(
        'tenks extension: the cluster name. Default: named after state_file_path, as upstream keeps deployments ' +
          "apart by their state file; without it (or with upstream's default state.yml), tenks.",
      ),
    state_file_path: z
      .string()
      .nullish()
      .describe(
        "Upstream's state file; tenks keeps no state file but names a cluster without `name` after it: the file " +
          "name (a plain path's basename; of a Jinja expression, the text after the last }} if it holds a file " +
          'name, else the last quoted string literal ending in one), lower-cased, without a .yml/.yaml/.json ' +
          "extension and a leading 'state' followed by -, _ or ., other characters turned into -, at most 63 " +
          "characters. Nothing left (upstream's state.yml) means tenks. E.g. \"{{ '/'.join([(playbook_dir | " +
          "dirname), 'state-compute.yml']) }}\" names the cluster compute.",
      ),
    bridge_type: z
      .enum(['openvswitch', 'linuxbridge'])
      .default('openvswitch')
      .describe('Kind of the tenks bridge per physnet per host. Default openvswitch.'),
    physnet_mappings: physnetMappings
      .nullish()
      .describe(
        'Physical network name -> source device on every hypervisor (hypervisors.<id>.physnet_mappings per host). ' +
          'Default (and empty) {}.',
      ),
    hypervisors: z
      .record(name('agent id'), hypervisorSchema.nullish())
      .nullish()
      .describe('tenks extension: the hypervisors (agent ids) this cluster may use. Default: every live agent.'),
    node_types: z
      .record(name('node type name'), nodeTypeSchema)
      .nullish()
      .describe('Node types by name. Default (and empty) {}.'),
    specs: z.array(nodeSetSchema).nullish().describe('The nodes to create. Default (and empty) [].'),
    nova_flavors: z.array(novaFlavorSchema).nullish().describe('Nova flavors to create. Default (and empty) [].'),
    default_ironic_driver: ironicDriver.default('ipmi').describe('ipmi or redfish. Default ipmi.'),
    ipmi_address: z
      .string()
      .min(1)
      .default('0.0.0.0')
      .describe(
        "Address Ironic uses for the nodes' IPMI BMCs. 0.0.0.0 or :: (default): the agent's advertised BMC address.",
      ),
    ipmi_port_range_start: port
      .optional()
      .describe('First IPMI port for nodes. Default: the agent range (upstream 6230-6240).'),
    ipmi_port_range_end: port.optional().describe('Last IPMI port for nodes. Default: the agent range.'),
    ipmi_username: credential(16, 'IPMI user names')
      .default('username')
      .describe('IPMI user name of every BMC. Default username.'),
    ipmi_password: credential(20, 'IPMI 2.0 passwords')
      .default('password')
      .describe('IPMI password of every BMC. Default password.'),
    redfish_address: z
      .string()
      .min(1)
      .default('0.0.0.0')
      .describe("Address Ironic uses for the agent's Redfish service. 0.0.0.0 (default): the agent's address."),
    redfish_username: z.string().min(1, 'must not be empty').optional().describe('Default: ipmi_username.'),
    redfish_password: z.string().min(1, 'must not be empty').optional().describe('Default: ipmi_password.'),
    default_boot_mode: bootMode
      .default('uefi')
      .describe('Firmware of nodes whose type or spec sets none. Default uefi.'),
    deploy_kernel: z.string().min(1).nullish().describe('Ironic deploy kernel: Glance name/UUID or http(s) URL.'),
    deploy_ramdisk: z.string().min(1).nullish().describe('Ironic deploy ramdisk: Glance name/UUID or http(s) URL.'),
    deploy_kernel_uuid: z.string().min(1).nullish().meta({ deprecated: true }).describe('Old name of deploy_kernel.'),
    deploy_ramdisk_uuid: z.string().min(1).nullish().meta({ deprecated: true }).describe('Old name of deploy_ramdisk.'),
    cloud: z
      .string()
      .min(1)
      .nullish()
      .describe(
        "clouds.yaml cloud to enrol in (tenks). Default: the coordinator's openstack.cloud, else OS_CLOUD, else OS_* variables.",
      ),
    ironic_target_state: z
      .enum(['enroll', 'manageable', 'available'])
      .default('available')
      .describe('Provision state enrolled nodes are brought to (tenks). Default available.'),
    redfish_verify_ca: z
      .union([z.boolean(), z.string().min(1)])
      .nullish()
      .describe("Ironic's redfish_verify_ca for Redfish nodes: true, false or a CA file. Default: Ironic's."),
    wait_for_placement: z
      .boolean()
      .nullish()
      .describe(
        'Wait until Placement shows the resource class inventory of enrolled nodes. Default true; empty: false (as upstream).',
      ),
    libvirt_pool_name: z.string().min(1).default('tenks').describe('libvirt storage pool. Default tenks.'),
    libvirt_pool_path: z
      .string()
      .min(1)
      .default('/var/lib/libvirt/tenks_pool/')
      .describe('Pool directory (dir) or volume group (logical). Default /var/lib/libvirt/tenks_pool/.'),
    libvirt_pool_type: z.enum(['dir', 'logical']).default('dir').describe('dir (default) or logical (LVM).'),
    log_directory: z
      .string()
      .min(1)
      .nullish()
      .describe(
        "Console logs go to <log_directory>/libvirt/<node>-console.log. Default: the agent's log_directory " +
          '(/var/log/tenks/, as upstream).',
      ),
    libvirt_vm_arch: arch
      .nullish()
      .describe(
        'Guest architecture of every node whose type sets none: x86_64 or aarch64. Nodes go only to hypervisors ' +
          'that run their architecture. Default (and empty) x86_64.',
      ),
    libvirt_vm_engine: z
      .union([z.enum(['kvm', 'qemu']), z.literal('')], { error: "expected 'kvm', 'qemu', or empty" })
      .nullish()
      .describe(
        'kvm or qemu (TCG): forces the engine of every node. Default (and empty): KVM where the host runs it, else TCG.',
      ),
    libvirt_vm_emulator: z
      .string()
      .nullish()
      .describe(
        'Emulator binary on the hypervisors (absolute path), or an upstream-style Jinja choice on ansible_facts that ' +
          "each agent renders with its host's facts. Default (and empty): libvirt's for the architecture.",
      ),
    libvirt_vm_default_console_log_dir: z
      .string()
      .nullish()
      .describe('Directory of console logs (<dir>/<node>-console.log). Default (and empty) <log_directory>/libvirt.'),
    libvirt_vm_log_owner: z
      .union(
        [
          z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$|^\d+$/, 'expected a user name or a numeric uid'),
          z.number().int().min(0),
        ],
        {
          error: 'expected a user name or a numeric uid',
        },
      )
      .nullish()
      .describe(
        'Owner (user and group, name or id) given to the console log directory, mode 0770, as upstream. Default: left as it is.',
      ),
    libvirt_vm_trust_guest_rx_filters: z
      .boolean()
      .nullish()
      .describe(
        "trustGuestRxFilters on nodes' macvtap NICs (the guest may change its MAC filter). Default true (upstream Tenks); empty: false.",
      ),
    libvirt_vm_clock_offset: clockOffset
      .nullish()
      .describe('Guest clock of every node (node types may override it). Default (false, empty): utc.'),
    node_name_prefix: z
      .string()
      .regex(NODE_PREFIX_PATTERN, "not a usable node name prefix: use letters, digits, '_', '.', '-'")
      .default('tk')
      .describe('Default node name prefix. Default tk.'),
    vol_name_prefix: z
      .string()
      .regex(VOLUME_PREFIX_PATTERN, "not a usable volume name prefix: use letters, digits, '_', '-'")
      .default('vol')
      .describe('Default volume name prefix. Default vol.'),
    scheduler: schedulerSchema.prefault({}),
  })
  .meta({
    title: 'tenks cluster spec',
    description:
      'A virtual bare metal cluster: a superset of the upstream Tenks variables (an upstream override.yml applies unchanged).',
  });

/** The cluster spec as written (snake_case, before defaults). */
export type RawClusterSpec = z.input<typeof clusterSpecSchema>;
