import type { FieldError } from '../errors.js';
import { fieldPath } from '../config.js';
import { didYouMean, nearMiss } from './did-you-mean.js';

/*
 * Unknown keys. An upstream Tenks override holds only upstream variables, but real files also carry
 * Ansible and site variables (`ansible_python_interpreter`, `virtualenv_path`, ...), and node types
 * are passed through to the libvirt-vm role, which has keys of its own. So in the loose objects (the
 * top level, node types, volumes):
 *
 * - a key tenks uses is validated;
 * - a key upstream Tenks or libvirt-vm knows but tenks does not use is a warning ("has no effect");
 * - a key that is a near miss of a key tenks uses (`memroy_mb`) is an ERROR with "did you mean": a
 *   typo must not silently leave a default in place;
 * - any other key is a warning ("unknown key, ignored").
 *
 * Every other object (specs, ironic_config, nova_flavors, scheduler, hypervisors) is strict: an unknown
 * key there is an error, with "did you mean" when there is a near miss.
 */

/** Upstream Tenks / Ansible variables at the top level that tenks accepts and does not use. */
export const IGNORED_TOP_LEVEL: ReadonlyMap<string, string> = new Map([
  ['cmd', 'tenks has commands instead'],
  ['allocations_file_path', 'tenks keeps no state file'],
  ['default_interfaces', 'interfaces come from the driver; set them per spec in ironic_config'],
  ['bmc_emulators', 'the agent emulates both IPMI and Redfish'],
  ['virtualenv_path', 'tenks installs no Python'],
  ['python_upper_constraints_url', 'tenks installs no Python'],
  ['system_requirements', 'scripts/setup.sh installs what the agent needs'],
  ['bridge_prefix', 'tenks names its bridges tb-<physnet>'],
  ['veth_prefix', 'tenks names its ports itself'],
  // Current names (since 2020) and the older ones.
  ['veth_bridge_peer_suffix', 'tenks names its ports itself'],
  ['veth_bridge_source_suffix', 'tenks names its ports itself'],
  ['veth_node_peer_suffix', 'tenks names its ports itself'],
  ['veth_node_source_suffix', 'tenks names its ports itself'],
  ['veth_bridge_ovs_suffix', 'tenks names its ports itself'],
  ['veth_node_ovs_suffix', 'tenks names its ports itself'],
  ['sushy_emulator_conf_path', 'the agent serves Redfish itself; see bmc.redfish_port in its configuration'],
  ['libvirt_pool_capacity', 'the pool is sized by its directory or volume group'],
  ['libvirt_pool_mode', 'the agent owns the pool'],
  ['libvirt_pool_owner', 'the agent owns the pool'],
  ['libvirt_pool_group', 'the agent owns the pool'],
  ['libvirt_require_vt', 'the agent uses KVM when it can and TCG otherwise'],
  ['libvirt_local_uri', "set libvirt_uri in the agent's configuration"],
  [
    'libvirt_custom_socket_path',
    "set libvirt_uri: qemu+unix:///system?socket=<path>/libvirt-sock in the agent's configuration",
  ],
  ['libvirt_custom_pid_path', 'tenks starts no libvirt daemon'],
  ['libvirt_vm_uri', "set libvirt_uri in the agent's configuration"],
  ['libvirt_vm_sudo', 'the agent talks to libvirt directly'],
  ['libvirt_vm_virsh_default_env', 'the agent talks to libvirt directly'],
  ['libvirt_vm_default_uuid_deterministic', 'tenks chooses node UUIDs (the Redfish system ids)'],
  ['libvirt_vm_image_cache_path', 'tenks does not download images'],
  ['libvirt_image_cache_path', 'tenks does not download images'],
  ['libvirt_cpu_mode_default', 'set cpu_mode per node type'],
  ['libvirt_vm_ovmf_efi_firmware_path', 'libvirt picks the UEFI firmware of the architecture from its descriptors'],
  [
    'libvirt_vm_ovmf_efi_variable_store_path',
    'libvirt picks the UEFI firmware of the architecture from its descriptors',
  ],
  [
    'libvirt_vm_ovmf_efi_variable_store_format',
    'libvirt picks the UEFI firmware of the architecture from its descriptors',
  ],
  ['ironic_url', "set the Ironic endpoint in the coordinator's configuration"],
]);

/** Why a top-level key is accepted and ignored, or undefined when tenks does not know it. */
export function ignoredTopLevel(key: string): string | undefined {
  // Connection and interpreter settings Ansible reads from any variable file.
  if (key.startsWith('ansible_')) return 'an Ansible setting';
  // The libvirt-host role: installing and configuring libvirt is scripts/setup.sh's job on each hypervisor.
  if (key.startsWith('libvirt_host_')) return 'scripts/setup.sh installs and configures libvirt on each hypervisor';
  if (key.startsWith('libvirt_volume_default_')) return 'volumes are pool volumes in the agent pool';
  if (key.startsWith('vbmc_') || key.startsWith('virtualbmc_'))
    return 'the agent emulates the BMCs (bmc settings in its configuration)';
  return IGNORED_TOP_LEVEL.get(key);
}

/** libvirt-vm keys a node type may carry that tenks does not use. */
export const IGNORED_NODE_TYPE: ReadonlyMap<string, string> = new Map([
  ['engine', 'set libvirt_vm_engine for the cluster (the libvirt-vm role reads no per-VM engine)'],
  ['emulator', 'set libvirt_vm_emulator for the cluster (the libvirt-vm role reads no per-VM emulator)'],
  ['interfaces', 'NICs come from physical_networks'],
  ['console_log_path', 'every node of a type would share one file: set libvirt_vm_default_console_log_dir'],
  ['console_log_append', 'console logs are always appended to'],
  ['uuid', 'tenks chooses node UUIDs (the Redfish system ids)'],
  ['uuid_deterministic', 'tenks chooses node UUIDs (the Redfish system ids)'],
  ['start', 'nodes are defined powered off; Ironic powers them'],
  ['autostart', 'nodes are defined powered off; Ironic powers them'],
  ['xml_file', 'the agent writes the domain XML'],
  ['usb_devices', 'not supported'],
  ['enable_spice', 'not supported'],
  ['enable_guest_virtio', 'not supported'],
  ['enable_secure_boot', 'not supported'],
  ['secure_boot_template', 'not supported'],
  ['state', 'tenks decides presence from specs'],
]);

/** libvirt-vm volume keys tenks does not use. */
export const IGNORED_VOLUME: ReadonlyMap<string, string> = new Map([
  ['pool', 'volumes go in the pool of the agent'],
  ['device', 'volumes are disks'],
  ['type', 'volumes are pool volumes'],
  ['file_path', 'use existing'],
  ['dev', 'the agent names disks'],
  ['target', 'the agent names disks'],
  ['checksum', 'not supported'],
]);

/** Sorts the keys of a loose object into errors (near misses) and warnings (ignored or unknown). */
export function checkLooseKeys(
  value: unknown,
  path: readonly (string | number)[],
  known: readonly string[],
  ignored: (key: string) => string | undefined,
  errors: FieldError[],
  warnings: FieldError[],
): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  const knownSet = new Set(known);
  for (const key of Object.keys(value)) {
    if (knownSet.has(key)) continue;
    const field = fieldPath('', [...path, key]);
    const why = ignored(key);
    if (why !== undefined) {
      warnings.push({ field, message: `has no effect in tenks (${why}); ignored` });
      continue;
    }
    const guess = nearMiss(key, known);
    if (guess !== null) errors.push({ field, message: `unknown key '${key}' (did you mean '${guess}'?)` });
    else warnings.push({ field, message: `unknown key '${key}', ignored` });
  }
}

/** The message for an unknown key of a strict object. */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  return `unknown key '${key}'${didYouMean(key, known)}`;
}
