import { z } from 'zod';
import { CLUSTER_NAME_PATTERN, LOG_OWNER_PATTERN, NODE_PREFIX_PATTERN, VOLUME_PREFIX_PATTERN } from './rules.js';
import { nodeTypeSchema } from './node-type-schema.js';
import { schedulerSchema } from './scheduler-spec.js';
import {
  arch,
  bootMode,
  clockOffset,
  credential,
  IRONIC_INTERFACES,
  ironicDriver,
  name,
  physnetMappings,
  port,
  scalar,
  trait,
} from './schema-fields.js';

/*
 * The cluster spec schema: the only description of what a user may write, with its parts in
 * schema-fields.ts (shared fields), node-type-schema.ts and scheduler-spec.ts. Field descriptions
 * are the documentation (they reach editors through deploy/schema/cluster.schema.json); defaults are
 * applied here. Cross-field rules (a spec's type exists, physnets are mapped, names are unique) live
 * in compile.ts, which also turns the parsed snake_case input into the camelCase ClusterSpec.
 *
 * Objects that upstream Tenks passes through to other Ansible roles (the top level, node types and
 * their volumes) are loose: keys tenks does not know are warnings, not errors (see unknown-keys.ts).
 * Everything else is strict.
 */

const interfaceFields = Object.fromEntries(
  IRONIC_INTERFACES.map((i) => [
    `${i}_interface`,
    z.string().min(1).nullish().describe(`Ironic ${i} interface; empty: Ironic's default.`),
  ]),
) as Record<`${(typeof IRONIC_INTERFACES)[number]}_interface`, z.ZodOptional<z.ZodNullable<z.ZodString>>>;

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
      .union([z.string().regex(LOG_OWNER_PATTERN, 'expected a user name or a numeric uid'), z.number().int().min(0)], {
        error: 'expected a user name or a numeric uid',
      })
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
