import { isTemplate, parseTemplate } from '../jinja-lite.js';

/**
 * Naming and value rules of the cluster spec, and of the node specs the agent is sent: the agent
 * (agent/compute/node-spec.ts) checks what it receives with these same rules.
 */

/** Node names (libvirt domain names), physnet names, node type names and agent ids: 1-63 characters. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
/** What {@link NAME_PATTERN} allows, as error messages say it. */
export const NAME_RULE = "use 1-63 letters, digits, '_', '.', '-', starting with a letter or digit";
/** Longest node name. */
export const MAX_NAME_LENGTH = 63;

/** Cluster names: DNS-label-like (lower case letters, digits, inner '-'), because they end up in marks and URLs. */
export const CLUSTER_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A node name prefix; the index is appended (`tk` + `0`). Length is checked with the largest index. */
export const NODE_PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Volume names within a node, as the agent accepts them (`vol0`); the pool volume is `<node>-<volume>`. */
export const VOLUME_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
/** What {@link VOLUME_NAME_PATTERN} allows, as error messages say it. */
export const VOLUME_NAME_RULE = "use 1-32 letters, digits, '_', '-'";
/** A volume name prefix; the volume index is appended. */
export const VOLUME_PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** Ironic traits: standard trait names or `CUSTOM_...`, upper case, at most 255 characters. */
export const TRAIT_PATTERN = /^[A-Z0-9_]{1,255}$/;

/** QEMU machine types (`q35`, `pc-q35-8.2`). */
export const MACHINE_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;

/** libvirt CPU modes the agent supports. */
export const CPU_MODES = ['host-passthrough', 'host-model', 'maximum'] as const;

/** Guest architectures nodes may have (libvirt's names). */
export const GUEST_ARCHES = ['x86_64', 'aarch64'] as const;

/** The CPU mode that means "no <cpu> element": what upstream's empty `cpu_mode:` renders. */
export const CPU_MODE_NONE = 'none';

/** Guest clocks: libvirt's utc, localtime and variable offsets, or a time zone name (Europe/London). */
export const CLOCK_OFFSET_PATTERN = /^(utc|localtime|variable|[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*)$/;

/** Console log owners: a Linux user name (at most 32 characters) or a numeric uid. */
export const LOG_OWNER_PATTERN = /^([A-Za-z_][A-Za-z0-9_.-]{0,31}|\d{1,10})$/;

/**
 * Why `value` cannot be an emulator (an absolute path, or upstream's Jinja choice that each agent
 * renders with its host's facts), or null.
 */
export function emulatorProblem(value: string): string | null {
  if (isTemplate(value)) {
    try {
      parseTemplate(value);
      return null;
    } catch (e) {
      return `${(e as Error).message}; tenks renders only if/elif/else tests and values of ansible_facts here: give the emulator's path`;
    }
  }
  return value.startsWith('/') ? null : `'${value}' must be the absolute path of the emulator on the hypervisors`;
}

/** Smallest memory a node may have (MiB): below this OVMF and iPXE do not start. */
export const MIN_MEMORY_MB = 64;
/** Most vCPUs a node may have. */
export const MAX_VCPUS = 512;

/** Why a volume giving the sources `given` (of image, backing_image and existing) cannot be, or null. */
export function volumeSourcesProblem(given: readonly string[]): string | null {
  return given.length > 1 ? `give at most one of image, backing_image and existing (got ${given.join(', ')})` : null;
}

/** Why `path` cannot be the image file of a volume, or null. */
export function imagePathProblem(path: string): string | null {
  return path.startsWith('/') ? null : `'${path}' must be an absolute path on the hypervisor`;
}

/** Why a volume on a backing image cannot have `format`, or null: the copy-on-write overlay is qcow2. */
export function backingFormatProblem(format: string): string | null {
  return format === 'qcow2' ? null : 'a volume with backing_image must be qcow2';
}

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
