/**
 * Naming and value rules of the cluster spec. The node, physnet and agent id rule is the agent's
 * `NAME_PATTERN` (agent/compute/node-spec.ts), copied rather than imported because common/ must not
 * depend on the agent: keep the two in step.
 */

/** Node names (libvirt domain names), physnet names, node type names and agent ids: 1-63 characters. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
/** Longest node name. */
export const MAX_NAME_LENGTH = 63;

/** Cluster names: DNS-label-like (lower case letters, digits, inner '-'), because they end up in marks and URLs. */
export const CLUSTER_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A node name prefix; the index is appended (`tk` + `0`). Length is checked with the largest index. */
export const NODE_PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Volume names within a node, as the agent accepts them (`vol0`); the pool volume is `<node>-<volume>`. */
export const VOLUME_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
/** A volume name prefix; the volume index is appended. */
export const VOLUME_PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** Ironic traits: standard trait names or `CUSTOM_...`, upper case, at most 255 characters. */
export const TRAIT_PATTERN = /^[A-Z0-9_]{1,255}$/;

/** QEMU machine types (`q35`, `pc-q35-8.2`). */
export const MACHINE_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;

/** libvirt CPU modes the agent supports. */
export const CPU_MODES = ['host-passthrough', 'host-model', 'maximum'] as const;

/** Guest architectures nodes may have (libvirt's names); keep in step with the agent's `ARCHES` (agent/compute/node-spec.ts). */
export const GUEST_ARCHES = ['x86_64', 'aarch64'] as const;

/** The CPU mode that means "no <cpu> element": what upstream's empty `cpu_mode:` renders. */
export const CPU_MODE_NONE = 'none';

/** Longest Linux interface name, which physnet source devices are. */
export const IFNAME_MAX = 15;

/** Placeholder in an `existing` volume reference, replaced by the node name. */
export const NODE_PLACEHOLDER = '{node}';

/** Most nodes one cluster spec may ask for. Beyond this, names, ports and plans stop being manageable. */
export const MAX_CLUSTER_NODES = 100_000;

/** Why `device` cannot be a physnet source device (interface, Linux bridge or OVS bridge), or null. */
export function deviceProblem(device: string): string | null {
  if (device.length === 0 || device.length > IFNAME_MAX) return `'${device}' is not 1-${IFNAME_MAX} characters`;
  if (device === '.' || device === '..' || /[\s/:]/.test(device))
    return `'${device}' has characters Linux refuses in interface names`;
  return null;
}
